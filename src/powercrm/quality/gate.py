"""The quality gate between the dbt build and the publish step.

`run_quality(work_db, run_id)` runs every suite of `expectations/` (Great Expectations on frames
read from the working DuckDB file), adds every dbt test of the same run as a check, appends one
row per check to `audit.check_results`, and returns what blocks publishing and what only warns.

- A failed check of severity `error` is one sentence in `blocking` ("<check> failed on <n> rows
  of <table>: <rule>"); the pipeline then exits with status 4 and keeps the published file.
- A failed check of severity `warn` is one sentence in `warnings`.
- A check whose table or column does not exist yet is `skipped`.
- dbt tests come from `dbt_target_dir/run_results.json` (with `manifest.json` for the tested model
  and the severity) when that directory is given; they then count in `blocking` / `warnings` as
  well. Without it they are read from `meta.dbt_results` of this run (written by the pipeline,
  which reports dbt failures itself) and only recorded, so nothing is reported twice.

Scope (`full_check`, see `powercrm.quality.scope`): a full check validates every row; otherwise
the checks on the big fact tables validate only the months this run's partitions changed and say
so in `audit.check_results.scope` (dimensions, marts and totals are always checked in full).

The gate opens `work_db` read-write (for `audit.check_results`) with DuckDB's memory bounded
(POWERCRM_DUCKDB_MEMORY_LIMIT, default 6GB, spilling to `<work_db>.tmp`) and closes it before
returning.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from powercrm.quality import dbt_results
from powercrm.quality.checks import ERROR, Suite
from powercrm.quality.config import QualityConfig
from powercrm.quality.scope import CheckScope, incremental_scope

# suites run in this order; other files of expectations/ follow alphabetically
SUITE_ORDER = ("core", "sales_line_loss", "price", "payment", "profit", "credit_segments", "service")

CHECK_RESULTS_COLUMNS = (
    ("run_id", "varchar"), ("check_name", "varchar"), ("suite", "varchar"), ("table_name", "varchar"),
    ("severity", "varchar"), ("status", "varchar"), ("failing_rows", "bigint"), ("observed_value", "varchar"),
    ("run_at", "timestamp"), ("description", "varchar"), ("action", "varchar"), ("examples", "varchar"),
    ("seconds", "double"), ("scope", "varchar"),
)


@dataclass
class QualityOutcome:
    blocking: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    scope: str = "full"  # "full", or what an incremental night checked ("changed months only: …")
    largest_frame_rows: int = 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r["status"]] = out.get(r["status"], 0) + 1
        return out


def load_suites(cfg: QualityConfig) -> tuple[list[Suite], list[dict]]:
    """Every `expectations/*.py` exposing `build(cfg) -> Suite`. A file that cannot be loaded
    becomes a failed blocking check (the gate cannot vouch for an area it could not check)."""
    directory = cfg.expectations_dir
    files = sorted((p for p in directory.glob("*.py") if not p.name.startswith("_")),
                   key=lambda p: (SUITE_ORDER.index(p.stem) if p.stem in SUITE_ORDER else len(SUITE_ORDER), p.stem))
    suites: list[Suite] = []
    failures: list[dict] = []
    if not files:
        failures.append(_load_failure("expectations", f"no suite files in {directory}"))
    for path in files:
        module_name = f"powercrm_expectations_{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            suite = module.build(cfg)
            suite.source = path
            suites.append(suite)
        except Exception as e:  # noqa: BLE001 - one broken suite file must not hide the others
            failures.append(_load_failure(path.stem, f"{path.name} could not be loaded: "
                                          f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
    return suites, failures


def _load_failure(stem: str, message: str) -> dict:
    return {"check_name": f"{stem}.suite_loads", "suite": stem, "table_name": "", "severity": ERROR,
            "status": "fail", "failing_rows": None, "observed_value": message,
            "description": "the suite file defines its checks", "action": "", "examples": [], "seconds": 0.0}


def sentence(r: dict) -> str:
    """One human sentence for a failed check: which check, which table, how many rows."""
    name, table = r["check_name"], r["table_name"] or "the working database"
    rule = f": {r['description']}" if r.get("description") else ""
    if str(r.get("observed_value", "")).startswith("could not"):
        return f"{name} on {table} {r['observed_value']}"
    if r.get("failing_rows") is not None:
        n = r["failing_rows"]
        where = f" ({r['scope']})" if str(r.get("scope") or "full") != "full" else ""
        return f"{name} failed on {n} row{'s' if n != 1 else ''} of {table}{where}{rule}"
    return f"{name} failed on {table} (observed {r.get('observed_value')}){rule}"


def ensure_check_results(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists audit")
    cols = ", ".join(f"{n} {t}" for n, t in CHECK_RESULTS_COLUMNS)
    con.execute(f"create table if not exists audit.check_results ({cols})")
    have = {r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'audit' and table_name = 'check_results'").fetchall()}
    for n, t in CHECK_RESULTS_COLUMNS:
        if n not in have:
            con.execute(f"alter table audit.check_results add column {n} {t}")


def write_check_results(con: duckdb.DuckDBPyConnection, run_id: str, run_at: datetime, results: list[dict]) -> None:
    """Append this run's rows (history is kept: the table is append-only)."""
    ensure_check_results(con)
    names = [n for n, _ in CHECK_RESULTS_COLUMNS]
    rows = []
    for r in results:
        row = {**r, "run_id": run_id, "run_at": run_at,
               "examples": json.dumps(r.get("examples") or [], ensure_ascii=False, default=str)}
        rows.append([row.get(n) for n in names])
    con.execute("begin transaction")
    try:
        con.execute("delete from audit.check_results where run_id = ?", [run_id])  # a retried run replaces itself
        if rows:
            con.executemany(f"insert into audit.check_results ({', '.join(names)}) values "
                            f"({', '.join('?' for _ in names)})", rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def run_quality(work_db: Path, run_id: str, dbt_target_dir: Path | None = None, *,
                config: QualityConfig | None = None, full_check: bool = True) -> QualityOutcome:
    """Run every suite and the dbt tests on `work_db`; record them; say what blocks.

    `full_check=False` (an incremental night): the big facts' checks cover the months changed by
    the partitions `run_id` loaded (meta.load_log); everything else is checked in full."""
    from powercrm.publish import bound_memory
    from powercrm.quality.runner import Runner  # imports Great Expectations (about 2 s)

    t0 = time.perf_counter()
    cfg = config or QualityConfig.from_env()
    run_at = datetime.now().replace(microsecond=0)
    suites, results = load_suites(cfg)
    con = duckdb.connect(str(work_db))
    try:
        bound_memory(con, Path(str(work_db) + ".tmp"))
        con.execute("set enable_progress_bar = false")
        scope = CheckScope.everything() if full_check else incremental_scope(con, run_id)
        runner = Runner(con, cfg, scope)
        for suite in suites:
            results.extend(runner.run_suite(suite))
        dbt_counts = dbt_target_dir is not None
        dbt_rows = dbt_results.from_target_dir(Path(dbt_target_dir)) if dbt_counts else dbt_results.from_meta(con, run_id)
        for r in dbt_rows:
            r.setdefault("scope", "full")
        results.extend(dbt_rows)
        for r in results:
            r.setdefault("scope", "full")
        write_check_results(con, run_id, run_at, results)
    finally:
        con.close()
    outcome = QualityOutcome(results=results, scope=scope.label(), largest_frame_rows=runner.largest_frame[0])
    for r in results:
        if r["suite"] == "dbt" and not dbt_counts:
            continue
        if r["status"] == "fail":
            outcome.blocking.append(sentence(r))
        elif r["status"] == "warn":
            outcome.warnings.append(sentence(r))
    outcome.seconds = time.perf_counter() - t0
    return outcome
