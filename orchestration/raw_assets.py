"""Raw layer: one asset per extract (`raw/<extract>`), loaded by `powercrm.ingest.loader`.

A single multi-asset step calls `load_landing` once for the selected extracts: the loader
compares every partition's manifest sha256 with `meta.partitions` and loads exactly the new
or changed partitions (each in one transaction). The loader's bookkeeping tables
(`meta/load_log`, `meta/partitions`, `meta/quarantine`) are produced by the same step, so the
dbt models that read them sit downstream of it too.

Each raw asset carries a non-blocking check `no_rejected_partitions` (a rejected partition is
not loaded, the earlier delivery stays in force; `powercrm run` exits 3 in that case).
"""

import hashlib
from datetime import date

import duckdb
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from orchestration.resources import PowerCRMResource
from powercrm.extracts import EXTRACTS
from powercrm.ingest.loader import LoadSummary, data_date, load_landing

RAW_GROUP = "raw"
META_TABLES = {
    "load_log": "One row per partition per load attempt (LOADED, REJECTED, UNCHANGED), written by the loader.",
    "partitions": "One row per partition in force (the latest LOADED delivery), written by the loader.",
    "quarantine": "One row per unusable record (file, record number, reason, masked raw text), written by the loader.",
}
REJECTED_CHECK = "no_rejected_partitions"


def raw_key(extract: str) -> AssetKey:
    return AssetKey(["raw", extract])


def meta_key(table: str) -> AssetKey:
    return AssetKey(["meta", table])


RAW_KEYS = [raw_key(e) for e in EXTRACTS]
META_KEYS = [meta_key(t) for t in META_TABLES]


class RawLoadConfig(Config):
    """Run configuration of the raw step (the sensor fills `extracts`; empty = every extract)."""

    extracts: list[str] = Field(default_factory=list,
                                description="load only these extracts (empty: all of them)")
    force_from: str | None = Field(default=None,
                                   description="YYYY-MM-DD: also reload unchanged partitions from this "
                                               "business date on (like `powercrm run --from`)")


def _raw_specs() -> list[AssetSpec]:
    specs = []
    for ext in EXTRACTS.values():
        kind = "full snapshot per partition" if ext.snapshot else "one partition per business date"
        specs.append(AssetSpec(
            raw_key(ext.name), group_name=RAW_GROUP, skippable=True, kinds={"duckdb", "python"},
            description=f"raw.{ext.name}: the `{ext.name}` extract as delivered ({kind}); every column as text "
                        f"plus lineage columns. Key: {', '.join(ext.key)}.",
            metadata={"dagster/table_name": f"raw.{ext.name}", "key": ", ".join(ext.key),
                      "columns": ", ".join(ext.column_names)},
        ))
    for table, text in META_TABLES.items():
        specs.append(AssetSpec(meta_key(table), group_name=RAW_GROUP, skippable=True, kinds={"duckdb", "python"},
                               description=f"meta.{table}: {text}",
                               metadata={"dagster/table_name": f"meta.{table}"}))
    return specs


def _check_specs() -> list[AssetCheckSpec]:
    return [AssetCheckSpec(REJECTED_CHECK, asset=raw_key(e), blocking=False,
                           description="The latest load of this extract rejected no partition "
                                       "(a rejected partition stays as it was delivered before).")
            for e in EXTRACTS]


def _data_version(con: duckdb.DuckDBPyConnection, extract: str) -> str:
    """A digest of the partitions in force: changes exactly when a partition is (re)loaded."""
    rows = con.execute("select business_date, manifest_sha256 from meta.partitions where extract = ? "
                       "order by business_date", [extract]).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


@multi_asset(
    name="raw_extracts",
    specs=_raw_specs(),
    check_specs=_check_specs(),
    can_subset=True,
    description="Load new and changed partitions of the landing folder into raw.* (powercrm.ingest.loader).",
)
def raw_extracts(context: AssetExecutionContext, config: RawLoadConfig, powercrm: PowerCRMResource):
    selected = {k for k in context.selected_asset_keys}
    chosen = [e for e in EXTRACTS if raw_key(e) in selected]
    unknown = sorted(set(config.extracts) - set(EXTRACTS))
    if unknown:
        raise Failure(f"unknown extract(s) in the run config: {', '.join(unknown)} "
                      f"(known: {', '.join(EXTRACTS)})")
    if config.extracts:
        chosen = [e for e in chosen if e in config.extracts] or list(config.extracts)
    # every extract (or only meta selected): no filter, exactly like `powercrm run`
    only = set(chosen) if chosen and len(chosen) < len(EXTRACTS) else None
    force_from = date.fromisoformat(config.force_from) if config.force_from else None
    landing = powercrm.landing_path

    def progress(done: int, total: int, r) -> None:
        if r.status != "UNCHANGED":
            context.log.info(f"[{done}/{total}] {r.partition.label}: {r.status} rows_in={r.rows_in} "
                             f"loaded={r.rows_loaded} quarantined={r.rows_quarantined} {r.message}")

    with powercrm.lock(f"dagster {context.run.run_id[:8]} raw"), powercrm.connect() as con:
        try:
            summary = load_landing(con, landing, context.run.run_id, progress=progress, only=only,
                                   force_from=force_from)
        except FileNotFoundError as e:
            raise Failure(str(e) if e.filename is None else f"cannot read {e.filename}: {e.strerror}") from e
        except OSError as e:
            raise Failure(f"cannot read {e.filename}: {e.strerror}") from e
        except duckdb.Error as e:
            raise Failure(f"loading into the working database {powercrm.work_db} failed: {e}") from e
        if summary.found == 0:
            raise Failure(f"the landing folder {landing} holds no partitions "
                          f"(expected <extract>/<YYYY-MM-DD>/<extract>.csv with a _manifest.json)")
        newest = data_date(con)
        if newest is None:
            raise Failure(f"nothing loaded from {landing}: {len(summary.rejected)} partition(s) rejected, "
                          f"{len(summary.without_manifest)} without manifest, none loaded before")
        context.log.info(_summary_line(summary, landing))
        for r in summary.rejected:
            context.log.warning(f"REJECTED {r.partition.label}: {r.message}")
        for extract in EXTRACTS:
            key = raw_key(extract)
            if key not in selected:
                continue
            yield _materialization(con, extract, summary, newest)
        for table in META_TABLES:
            if meta_key(table) in selected:
                rows = con.execute(f"select count(*) from meta.{table}").fetchone()[0]
                yield MaterializeResult(asset_key=meta_key(table),
                                        metadata={"dagster/row_count": MetadataValue.int(rows)})
        selected_checks = context.selected_asset_check_keys
        for extract in EXTRACTS:
            ck = AssetCheckKey(raw_key(extract), REJECTED_CHECK)
            if ck not in selected_checks:
                continue
            rejected = [r for r in summary.rejected if r.partition.extract == extract]
            yield AssetCheckResult(
                asset_key=raw_key(extract), check_name=REJECTED_CHECK, passed=not rejected,
                severity=AssetCheckSeverity.WARN,
                metadata={"rejected_partitions": MetadataValue.int(len(rejected)),
                          "messages": MetadataValue.md("\n".join(f"- {r.message}" for r in rejected) or "none")},
            )


def _summary_line(s: LoadSummary, landing) -> str:
    loaded = s.by_status("LOADED")
    return (f"landing {landing}: {s.found} partition(s) found, {len(loaded)} loaded "
            f"({sum(r.rows_loaded for r in loaded)} rows, {sum(r.rows_quarantined for r in loaded)} quarantined), "
            f"{len(s.by_status('UNCHANGED'))} unchanged, {len(s.rejected)} rejected, "
            f"{len(s.without_manifest)} without manifest, in {s.seconds:.1f}s")


def _materialization(con: duckdb.DuckDBPyConnection, extract: str, s: LoadSummary,
                     newest: date) -> MaterializeResult:
    mine = [r for r in s.results if r.partition.extract == extract]
    loaded = [r for r in mine if r.status == "LOADED"]
    rows = con.execute(f'select count(*) from raw."{extract}"').fetchone()[0]
    in_force, last = con.execute("select count(*), max(business_date) from meta.partitions where extract = ?",
                                 [extract]).fetchone()
    return MaterializeResult(
        asset_key=raw_key(extract),
        data_version=DataVersion(_data_version(con, extract)),
        metadata={
            "dagster/row_count": MetadataValue.int(rows),
            "partitions_loaded": MetadataValue.int(len(loaded)),
            "partitions_unchanged": MetadataValue.int(sum(r.status == "UNCHANGED" for r in mine)),
            "partitions_rejected": MetadataValue.int(sum(r.status == "REJECTED" for r in mine)),
            "rows_loaded": MetadataValue.int(sum(r.rows_loaded for r in loaded)),
            "rows_quarantined": MetadataValue.int(sum(r.rows_quarantined for r in loaded)),
            "loaded": MetadataValue.md("\n".join(f"- {r.partition.label}: {r.rows_loaded} rows, "
                                                 f"{r.rows_quarantined} quarantined" for r in loaded) or "none"),
            "partitions_in_force": MetadataValue.int(in_force),
            "latest_business_date": MetadataValue.text(str(last) if last else ""),
            "data_date": MetadataValue.text(str(newest)),
        },
    )
