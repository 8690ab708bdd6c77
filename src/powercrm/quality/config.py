"""Settings of the quality gate: drift bands, accepted months, frame size.

Each comes from an environment variable, else from a dbt var in `dbt_project.yml` (so dbt tests
and the suites share one band), else a default:

| setting | env | dbt var | default |
| --- | --- | --- | --- |
| warning band of month-over-month drift | `POWERCRM_DRIFT_BAND` | `drift_band` | 0.5 (±50 %) |
| blocking band of month-over-month drift | `POWERCRM_DRIFT_ERROR_BAND` | `drift_error_band` | 0.6 (±60 %) |
| months whose drift is verified as real (`YYYY-MM,YYYY-MM`) | `POWERCRM_DRIFT_ACCEPT` | `drift_accept` | none |
| rows read into one frame before a table is read month by month | `POWERCRM_QUALITY_MAX_ROWS` | - | 500 000 |
| folder of the suites | `POWERCRM_EXPECTATIONS_DIR` | - | `<project>/expectations` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from powercrm.extracts import PROJECT_DIR


def _dbt_vars(project_dir: Path) -> dict:
    path = project_dir / "dbt_project.yml"
    try:
        import yaml  # PyYAML ships with dbt-core

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except Exception:  # noqa: BLE001 - a missing or unreadable project falls back to the defaults
        return {}
    v = data.get("vars") or {}
    return v if isinstance(v, dict) else {}


def _float(env: str, var: str, dbt_vars: dict, default: float) -> float:
    raw = os.environ.get(env)
    if raw is None or raw.strip() == "":
        raw = dbt_vars.get(var, default)
    try:
        value = float(raw)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{env} / dbt var {var} must be a number (a share such as 0.5), not {raw!r}") from e
    if not 0 < value:
        raise ValueError(f"{env} / dbt var {var} must be positive, not {value}")
    return value


@dataclass(frozen=True)
class QualityConfig:
    drift_band: float = 0.5
    drift_error_band: float = 0.6
    drift_accept: frozenset[str] = field(default_factory=frozenset)
    max_rows: int = 500_000
    expectations_dir: Path = PROJECT_DIR / "expectations"

    @classmethod
    def from_env(cls, project_dir: Path = PROJECT_DIR) -> QualityConfig:
        dbt_vars = _dbt_vars(project_dir)
        band = _float("POWERCRM_DRIFT_BAND", "drift_band", dbt_vars, 0.5)
        error_band = max(band, _float("POWERCRM_DRIFT_ERROR_BAND", "drift_error_band", dbt_vars, 0.6))
        accept_raw = os.environ.get("POWERCRM_DRIFT_ACCEPT")
        if accept_raw is None:
            accept_raw = dbt_vars.get("drift_accept") or ""
        if isinstance(accept_raw, (list, tuple)):
            accept_raw = ",".join(str(a) for a in accept_raw)
        accept = frozenset(m.strip() for m in str(accept_raw).split(",") if m.strip())
        max_rows = int(os.environ.get("POWERCRM_QUALITY_MAX_ROWS") or 500_000)
        exp_dir = Path(os.environ.get("POWERCRM_EXPECTATIONS_DIR") or project_dir / "expectations")
        return cls(drift_band=band, drift_error_band=error_band, drift_accept=accept, max_rows=max_rows,
                   expectations_dir=exp_dir)
