"""dbt tests as checks: read `run_results.json` (+ `manifest.json`) or `meta.dbt_results`.

Every dbt data test becomes one check row: suite `dbt`, the test's name, the model it tests,
the severity of its config, its status and number of failures.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

STATUS = {"pass": "pass", "success": "pass", "warn": "warn", "fail": "fail", "error": "fail",
          "skipped": "skipped", "skip": "skipped", "runtime error": "fail"}


def _row(name: str, table: str, severity: str, dbt_status: str, failures: int | None, message: str,
         seconds: float, description: str) -> dict:
    severity = (severity or "error").lower()
    severity = "warn" if severity.startswith("warn") else "error"
    status = STATUS.get((dbt_status or "").lower(), "fail")
    if status == "fail" and severity == "warn":  # dbt reports a warning test's failure as `warn`
        status = "warn"
    if status == "warn" and severity == "error":
        status = "fail"
    if dbt_status and dbt_status.lower() == "error":
        message = f"could not run: {message}"
    return {
        "check_name": name, "suite": "dbt", "table_name": table, "severity": severity, "status": status,
        "failing_rows": failures if failures is not None and failures >= 0 else None,
        "observed_value": (message or "").strip().splitlines()[0][:500] if message else "",
        "description": description, "action": "", "examples": [], "seconds": round(float(seconds or 0.0), 4),
    }


def from_target_dir(target_dir: Path) -> list[dict]:
    """Tests of the last dbt invocation whose artifacts are in `target_dir` ([] when none)."""
    rr_path = target_dir / "run_results.json"
    if not rr_path.is_file():
        return []
    run_results = json.loads(rr_path.read_text(encoding="utf-8"))
    nodes: dict = {}
    man_path = target_dir / "manifest.json"
    if man_path.is_file():
        try:
            nodes = json.loads(man_path.read_text(encoding="utf-8")).get("nodes", {})
        except (OSError, json.JSONDecodeError):
            nodes = {}
    out = []
    for r in run_results.get("results", []):
        uid = r.get("unique_id", "")
        if not uid.startswith("test."):
            continue
        node = nodes.get(uid, {})
        name = node.get("name") or (uid.split(".")[2] if uid.count(".") >= 2 else uid)
        attached = node.get("attached_node") or next(
            (d for d in node.get("depends_on", {}).get("nodes", []) if d.startswith(("model.", "seed.", "snapshot."))),
            None)
        table = ""
        if attached and attached in nodes:
            target = nodes[attached]
            table = f"{target.get('schema')}.{target.get('alias') or target.get('name')}"
        elif attached:
            table = attached.split(".")[-1]
        severity = (node.get("config") or {}).get("severity") or "error"
        column = (node.get("test_metadata") or {}).get("kwargs", {}).get("column_name") or node.get("column_name")
        test_kind = (node.get("test_metadata") or {}).get("name") or "singular test"
        description = node.get("description") or f"dbt {test_kind}" + (f" on {column}" if column else "")
        out.append(_row(name, table, severity, r.get("status", ""), r.get("failures"), r.get("message") or "",
                        r.get("execution_time") or 0.0, description))
    return out


def from_meta(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    """Tests of this run saved by the pipeline in `meta.dbt_results` ([] when absent or stale)."""
    exists = con.execute("select count(*) from duckdb_tables() where database_name = current_database() "
                         "and schema_name = 'meta' and table_name = 'dbt_results'").fetchone()[0]
    if not exists:
        return []
    rows = con.execute(
        "select name, relation, severity, status, failures, message, seconds from meta.dbt_results "
        "where run_id = ? and resource_type = 'test' order by name", [run_id]).fetchall()
    # the pipeline records a test's model by name only: find its schema (published schemas first)
    where: dict[str, str] = {}
    for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database() "
            "order by case schema_name when 'core' then 0 when 'marts' then 1 when 'audit' then 2 else 3 end desc"
    ).fetchall():
        where[table] = f"{schema}.{table}"
    return [_row(n, where.get(rel, rel) if rel and "." not in rel else (rel or ""), sev, st, fl, msg or "", sec,
                 "dbt test") for n, rel, sev, st, fl, msg, sec in rows]
