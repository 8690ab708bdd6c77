"""Load a hand-made landing folder and run dbt on it in-process: the one fixture recipe that the
model tests share."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from powercrm.ingest.loader import load_landing

REPO = Path(__file__).resolve().parents[1]


def dbt_invoke(tmp: Path, work_db: Path, *args: str):  # noqa: ANN201 - dbt's dbtRunnerResult
    """`dbt <args>` against `work_db` -> dbt's result, nothing asserted (a test that expects failures)."""
    from dbt.cli.main import dbtRunner

    from powercrm.pipeline import dbt_against

    # dbt_against closes dbt-duckdb's in-process connection: the test opens its own afterwards
    with dbt_against(work_db):
        return dbtRunner().invoke([
            *args, "--project-dir", str(REPO), "--profiles-dir", str(REPO / "profiles"),
            "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"), "--log-level", "none"])


def dbt(tmp: Path, work_db: Path, *args: str) -> None:
    """`dbt <args>` against `work_db`; asserts that every node succeeded and names those that did not."""
    res = dbt_invoke(tmp, work_db, *args)
    failed = [f"{r.node.name}: {r.status} {r.message}" for r in getattr(res.result, "results", None) or []
              if str(r.status) not in ("success", "pass")]
    assert res.success and not failed, (res.exception, failed)


def load(landing: Path, work_db: Path, run_id: str = "test"):
    """Load the landing folder into `work_db`; -> the loader's summary (no partition may be rejected)."""
    con = duckdb.connect(str(work_db))
    try:
        summary = load_landing(con, landing, run_id)
    finally:
        con.close()
    assert not summary.rejected, [r.message for r in summary.rejected]
    return summary


def build_warehouse(tmp: Path, landing: Path, models: Iterable[str], command: str = "build") -> Path:
    """Load `landing`, then `dbt <command>` the models and everything upstream of them, with the
    tests that only touch what was built (cautious indirect selection)."""
    work_db = tmp / "w.duckdb"
    load(landing, work_db)
    dbt(tmp, work_db, command, "--indirect-selection", "cautious", "--select", " ".join(f"+{m}" for m in models))
    return work_db
