"""`published/powercrm`: the analysts' DuckDB file, written by `powercrm.publish.publish`.

Downstream of every published dbt asset (schemas core, marts, audit). The blocking checks on
those assets (dbt tests of severity error, the Great Expectations suites) stop it: a failed
check means the previous published file stays, exactly like `powercrm run` (exit 4).
"""

from datetime import datetime

import duckdb
from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset

from orchestration.dbt_models import published_keys
from orchestration.resources import PowerCRMResource, full_check_requested
from powercrm.ingest.loader import data_date
from powercrm.publish import PublishError, publish, record_publish

PUBLISHED_KEY = ["published", "powercrm"]


def run_info(con: duckdb.DuckDBPyConnection, run_id: str, started: datetime | None) -> dict:
    """The publish_log row of this run (same columns as `powercrm run`), from the loader's meta.load_log."""
    row = con.execute(
        "select count(*), count(*) filter (status = 'LOADED'), count(*) filter (status = 'UNCHANGED'), "
        "count(*) filter (status = 'REJECTED'), coalesce(sum(rows_loaded) filter (status = 'LOADED'), 0), "
        "coalesce(sum(rows_quarantined) filter (status = 'LOADED'), 0) from meta.load_log where run_id = ?",
        [run_id]).fetchone() if _has_load_log(con) else (0, 0, 0, 0, 0, 0)
    now = datetime.now().replace(microsecond=0)
    return {
        "run_id": run_id, "published_at": now, "data_date": data_date(con) if _has_load_log(con) else None,
        "command": "dagster", "partitions_found": row[0], "partitions_loaded": row[1],
        "partitions_unchanged": row[2], "partitions_rejected": row[3], "partitions_without_manifest": None,
        "rows_loaded": int(row[4]), "rows_quarantined": int(row[5]),
        "seconds": round((now - started).total_seconds(), 3) if started else None,
    }


def _has_load_log(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("select count(*) from duckdb_tables() where schema_name = 'meta' "
                       "and table_name in ('load_log', 'partitions')").fetchone()[0] == 2


@asset(
    key=PUBLISHED_KEY,
    deps=published_keys(),
    group_name="published",
    kinds={"duckdb", "python"},
    description="The analysts' read-only DuckDB file (schemas core, marts, audit), swapped in atomically by "
                "powercrm.publish; the previous file is kept as <stem>.prev.duckdb (`powercrm rollback`).",
)
def published_powercrm(context: AssetExecutionContext, powercrm: PowerCRMResource) -> MaterializeResult:
    files = powercrm.files
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = datetime.fromtimestamp(record.start_time) if record and record.start_time else None
    with powercrm.lock(f"dagster {context.run.run_id[:8]} publish"):
        with powercrm.connect(read_only=True) as con:
            info = run_info(con, context.run.run_id, started)
        try:
            result = publish(powercrm.work_db, files.published, run_info=info,
                             patch=not full_check_requested(context.run.tags, files, context.run.run_config))
        except PublishError as e:
            raise Failure(str(e)) from e
        try:
            with powercrm.connect() as con:
                record_publish(con, info, result)
        except (duckdb.Error, Failure) as e:  # history only; the file is published
            context.log.warning(f"published, but meta.publish_log was not written: {e}")
    if result.kept_buckets_failure:  # the night after next buckets both sides instead
        context.log.warning(f"published, but {result.kept_buckets_failure}")
    tables = "\n".join(f"| {s}.{t} | {n} |" for s, ts in result.tables.items() for t, n in ts)
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(result.published)),
        "tables": MetadataValue.int(result.table_count),
        "bytes": MetadataValue.int(result.bytes),
        "seconds": MetadataValue.float(round(result.seconds, 3)),
        "data_date": MetadataValue.text(str(info["data_date"] or "")),
        "previous_kept_as": MetadataValue.text(str(result.kept_previous or "")),
        "fallbacks": MetadataValue.text(", ".join(result.fallbacks)),
        "mode": MetadataValue.text(result.mode + (f" ({result.why_full})" if result.why_full else "")),
        "rows": MetadataValue.md("| table | rows |\n| --- | --- |\n" + tables),
    })
