"""Landing folder → raw layer on Spark: Parquet tables `raw.<extract>` and `meta.*` (docs/spark.md).

Run with the spark venv's python (`.venv-spark`, made by `make spark-test`; it has PySpark and
dbt-spark, not DuckDB):

    .venv-spark/bin/python src/powercrm/spark_loader.py --landing landing --spark-dir warehouse/spark \
        [--build] [--export-parquet DIR]

The same interface as the DuckDB loader (`powercrm.ingest.loader`), the same rules written
once: partitions, manifests, sha256 and headers come from `powercrm.ingest.landing`, the row
rules (missing key, unparseable number / date, unknown code after NFKC + trim, conflicting
duplicate key in a partition) are `powercrm.ingest.rules` spelled in Spark SQL. Spark reads
the files itself (CSV, csv.gz, Parquet; GB18030 through the CSV reader's `encoding`).

Per extract, every new or changed partition is read in one Spark job, counted per file against
its manifest, checked, and written: `raw.<extract>` is partitioned by `_business_date` and
`meta.quarantine` by (extract, business_date), so a redelivery drops the partition's earlier
rows and inserts the new ones; it is never appended twice. Parquet tables have no
transactions: `meta.partitions` is written last, so a run killed half-way leaves the partition
unrecorded and the next run loads it again (idempotent: drop, then insert).

`--build` runs `dbt build --target spark` in this process on the same Spark session (one JVM,
one Derby metastore); `--export-parquet DIR` writes the published schemas (core, marts, audit)
as Parquet folders `DIR/<schema>/<table>/` that `powercrm.spark_export` turns into the
analysts' DuckDB file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the package lives in ../ (src/)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from powercrm.extracts import EXTRACTS, PROJECT_DIR, Extract  # noqa: E402
from powercrm.ingest.landing import (  # noqa: E402
    LoadSummary,
    Partition,
    PartitionResult,
    RejectedPartition,
    discover,
    read_header,
    read_manifest,
    sha256_file,
)
from powercrm.ingest.rules import SPARK, fingerprint_sql, key_sql, raw_text_sql, reason_sql  # noqa: E402

D = SPARK
PUBLISHED_SCHEMAS = ("core", "marts", "audit")


# How the models read: a failed cast or parse is NULL (as DuckDB's try_*), timestamps have no
# zone (DuckDB's TIMESTAMP), one-or-two-digit date fields parse (DuckDB's strptime).
SQL_CONF = {
    "spark.sql.ansi.enabled": "false",  # dbt-spark sets it too
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.sources.default": "parquet",
    "spark.sql.legacy.createHiveTableByDefault": "false",
    "spark.sql.legacy.javaCharsets": "true",  # Spark 4's CSV reader knows GB18030 only through this
}


def metastore_url(spark_dir: Path) -> str:
    """Derby in `spark_dir/metastore_db`; POWERCRM_SPARK_METASTORE=memory keeps it in memory (one
    process that loads, builds and exports, as the test does: no metastore I/O, nothing kept)."""
    if os.environ.get("POWERCRM_SPARK_METASTORE") == "memory":
        return "jdbc:derby:memory:powercrm;create=true"
    return f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true"


def spark_conf(spark_dir: Path | None) -> dict[str, str]:
    """The session settings; profiles/profiles.yml (target `spark`) sets the same ones. Without
    `spark_dir` (a cluster: spark-submit's master, the cluster's metastore and warehouse) only
    the SQL settings."""
    if spark_dir is None:
        return dict(SQL_CONF)
    spark_dir = spark_dir.resolve()
    return {
        "spark.master": os.environ.get("POWERCRM_SPARK_MASTER", "local[2]"),
        "spark.driver.memory": os.environ.get("POWERCRM_SPARK_DRIVER_MEMORY", "2g"),
        "spark.sql.warehouse.dir": str(spark_dir / "tables"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": metastore_url(spark_dir),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_dir}",
        "spark.sql.shuffle.partitions": os.environ.get("POWERCRM_SPARK_SHUFFLE_PARTITIONS", "4"),
        **SQL_CONF,
        # Derby (the local metastore) cannot filter date partitions: fall back to listing them
        "spark.sql.hive.metastorePartitionPruningFallbackOnException": "true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def spark_session(spark_dir: Path | None):
    """A local Spark session with Hive support on the metastore and warehouse under `spark_dir`;
    without it, the session spark-submit configured (a cluster's), with the SQL settings."""
    from pyspark.sql import SparkSession

    if spark_dir is not None:
        spark_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # machines without a resolvable hostname
    builder = SparkSession.builder.appName("powercrm").enableHiveSupport()
    for key, value in spark_conf(spark_dir).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def ensure_schema(spark) -> None:
    spark.sql("create database if not exists raw")
    spark.sql("create database if not exists meta")
    spark.sql(
        "create table if not exists meta.load_log (load_id string, run_id string, extract string, "
        "business_date date, manifest_sha256 string, files string, rows_in bigint, rows_loaded bigint, "
        "rows_quarantined bigint, status string, message string, loaded_at timestamp, seconds double) using parquet")
    spark.sql(
        "create table if not exists meta.partitions (extract string, business_date date, manifest_sha256 string, "
        "status string, rows_in bigint, rows_loaded bigint, rows_quarantined bigint, loaded_at timestamp) "
        "using parquet")
    spark.sql(
        "create table if not exists meta.quarantine (file string, record_no bigint, reason string, "
        "raw_text string, key_text string, manifest_sha256 string, loaded_at timestamp, "
        "extract string, business_date date) using parquet partitioned by (extract, business_date)")
    for ext in EXTRACTS.values():
        cols = ", ".join(f"{D.q(c)} string" for c in ext.column_names)
        spark.sql(
            f"create table if not exists raw.{D.q(ext.name)} ({cols}, _extract string, _file string, "
            f"_record_no bigint, _manifest_sha256 string, _loaded_at timestamp, _business_date date) "
            f"using parquet partitioned by (_business_date)")


@dataclass
class _File:
    partition: Partition
    label: str
    path: Path
    rows: int  # the manifest's count
    encoding: str
    header: list[str] = field(default_factory=list)


def _verify(part: Partition) -> list[_File]:
    """The partition's files, each present, with the manifest's sha256 and a usable header."""
    files = []
    ext = EXTRACTS[part.extract]
    for entry in read_manifest(part):
        name = entry["name"]
        path = part.path / name
        label = f"{part.extract}/{part.business_date.isoformat()}/{name}"
        if not path.is_file():
            raise RejectedPartition(f"{label}: file listed in the manifest is missing")
        digest = sha256_file(path)
        if digest != str(entry["sha256"]).lower():
            raise RejectedPartition(f"{label}: sha256 {digest[:12]}… does not match the manifest's "
                                    f"{str(entry['sha256'])[:12]}… (file changed or truncated)")
        encoding = str(entry.get("encoding", "utf-8")).lower().replace("_", "-")
        f = _File(part, label, path, int(entry["rows"]), "gb18030" if encoding == "gb18030" else "utf-8")
        if name.endswith(".csv") or name.endswith(".csv.gz"):
            try:
                f.header = read_header(path, encoding)
            except UnicodeDecodeError as e:
                raise RejectedPartition(f"{label}: not valid {encoding} ({e.reason} at byte {e.start})") from e
            if not f.header:
                raise RejectedPartition(f"{label}: empty file (no header row)")
            missing_key = [c for c in ext.key if c not in f.header]
            if missing_key:
                raise RejectedPartition(f"{label}: header lacks key column(s) {', '.join(missing_key)}")
        elif not name.endswith(".parquet"):
            raise RejectedPartition(f"{label}: unsupported file type (expected .csv, .csv.gz or .parquet)")
        files.append(f)
    return files


def _read(spark, ext: Extract, files: list[_File]):
    """Files of one kind (CSV with one header and encoding, or one Parquet file) as a DataFrame:
    the spec's columns as text, `_path` (Spark's URI of the file) and `_rid` (row order)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    f = files[0]
    if f.path.name.endswith(".parquet"):
        df = spark.read.parquet(str(f.path))
        have = {c.lower(): c for c in df.columns}
        cols = [(F.col(f"`{have[c]}`").cast("string") if c in have else F.lit(None).cast("string")).alias(c)
                for c in ext.column_names]
        return df.select(*cols, F.col("_metadata.file_path").alias("_path"),
                         F.col("_metadata.row_index").alias("_rid"))
    schema = StructType([StructField(f"c{i}", StringType()) for i in range(len(f.header))])
    # multiLine: a quoted field may hold a line break, and each file is read whole, in order, by
    # one task; so the row order within the task is the record order
    df = (spark.read.schema(schema)
          .option("header", True).option("multiLine", True).option("encoding", f.encoding)
          .option("quote", '"').option("escape", '"').option("mode", "FAILFAST")
          .option("enforceSchema", True)
          .csv([str(x.path) for x in files]))
    cols = [(F.col(f"c{f.header.index(c)}") if c in f.header else F.lit(None).cast("string")).alias(c)
            for c in ext.column_names]
    return df.select(*cols, F.col("_metadata.file_path").alias("_path"),
                     F.monotonically_increasing_id().alias("_rid"))


def _path_key(uri: str) -> str:
    """Spark's file URI → the local path, to match a file of the manifest."""
    from urllib.parse import unquote, urlparse

    return str(Path(unquote(urlparse(uri).path)).resolve())


def _groups(files: list[_File]) -> list[list[_File]]:
    """CSV files that one reader can read together (same header and encoding); Parquet one by one."""
    groups: dict[tuple, list[_File]] = {}
    for i, f in enumerate(files):
        key = ("parquet", i) if f.path.name.endswith(".parquet") else ("csv", f.encoding, tuple(f.header))
        groups.setdefault(key, []).append(f)
    return list(groups.values())


def _union(frames):
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out


def _stage(spark, ext: Extract, files: list[_File]) -> tuple[object, dict[str, int], dict[str, str]]:
    """All files of the extract's partitions in one DataFrame (`_path`, `_rid`), persisted; record
    counts per file label; parse errors per file label."""
    by_path = {str(f.path.resolve()): f for f in files}
    errors: dict[str, str] = {}
    frames = []
    for group in _groups(files):
        try:
            frames.append(_read(spark, ext, group))
        except Exception as e:  # noqa: BLE001 - Spark raises Py4J / Spark errors
            for f in group:
                errors[f.label] = f"{f.label}: cannot be read: {str(e).strip().splitlines()[0][:300]}"
    staged = _union(frames).persist() if frames else None

    def count(df) -> dict[str, int]:
        out = {}
        for r in df.groupBy("_path").count().collect():
            f = by_path.get(_path_key(r["_path"]))
            if f is not None:
                out[f.label] = r["count"]
        return out

    try:
        counts = count(staged) if staged is not None else {}
    except Exception:  # noqa: BLE001 - a file does not parse: find it, count the others
        staged.unpersist()
        counts, good = {}, []
        for f in files:
            if f.label in errors:
                continue
            try:
                df = _read(spark, ext, [f])
                counts.update(count(df))
                good.append(df)
            except Exception as e:  # noqa: BLE001
                msg = str(e).strip().splitlines()[0][:300]
                errors[f.label] = f"{f.label}: cannot be parsed as CSV: {msg}"
        staged = _union(good).persist() if good else None
    return staged, counts, errors


def _load_extract(spark, ext: Extract, parts: list[Partition], known: dict, run_id: str, loaded_at: datetime,
                  force_from: date | None) -> list[PartitionResult]:
    results: dict[str, PartitionResult] = {}
    files: list[_File] = []
    timing: dict[str, float] = {}
    for part in parts:
        prev = known.get((part.extract, part.business_date))
        forced = force_from is not None and part.business_date >= force_from
        if prev and prev[0] == part.manifest_sha256 and prev[1] == "LOADED" and not forced:
            results[part.label] = PartitionResult(part, "UNCHANGED", message="manifest unchanged since last load")
            continue
        t0 = time.perf_counter()
        try:
            files.extend(_verify(part))
        except RejectedPartition as e:
            results[part.label] = PartitionResult(part, "REJECTED", message=str(e))
        timing[part.label] = time.perf_counter() - t0
    accepted: dict[str, Partition] = {}
    replace = {p.label for p in parts if (p.extract, p.business_date) in known}
    if files:
        t0 = time.perf_counter()
        staged, counts, errors = _stage(spark, ext, files)
        by_part: dict[str, list[_File]] = {}
        for f in files:
            by_part.setdefault(f.partition.label, []).append(f)
        for label, pfiles in by_part.items():
            bad = [errors[f.label] for f in pfiles if f.label in errors]
            bad += [f"{f.label}: {counts.get(f.label, 0)} records in the file, manifest says {f.rows}"
                    for f in pfiles if f.label not in errors and counts.get(f.label, 0) != f.rows]
            part = pfiles[0].partition
            if bad:
                results[label] = PartitionResult(part, "REJECTED", message=bad[0])
            else:
                accepted[label] = part
                rows = sum(counts[f.label] for f in pfiles)
                results[label] = PartitionResult(part, "LOADED", rows, rows, 0)
        if accepted:
            _write(spark, ext, staged, files, accepted, replace, results, loaded_at)
        if staged is not None:
            staged.unpersist()
        share = (time.perf_counter() - t0) / max(1, len(by_part))
        for label in by_part:
            timing[label] = timing.get(label, 0.0) + share
    out = [results[p.label] for p in parts]
    _record(spark, out, run_id, loaded_at, {lbl: [f.label for f in files if f.partition.label == lbl]
                                            for lbl in accepted}, timing)
    return out


def _write(spark, ext: Extract, staged, files: list[_File], accepted: dict[str, Partition], replace: set[str],
           results: dict[str, PartitionResult], loaded_at: datetime) -> None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    paths = {r["_path"] for r in staged.select("_path").distinct().collect()}
    by_path = {str(f.path.resolve()): f for f in files}
    parts = spark.createDataFrame(
        [(uri, f.label, p.business_date, p.manifest_sha256 or "") for uri in sorted(paths)
         if (f := by_path.get(_path_key(uri))) is not None and (p := accepted.get(f.partition.label)) is not None],
        "_path string, _file string, _business_date date, _manifest_sha256 string")
    view = f"_checked_{ext.name}"
    numbered = staged.join(F.broadcast(parts), "_path").withColumn(
        "_record_no", F.row_number().over(Window.partitionBy("_path").orderBy("_rid")).cast("bigint"))
    numbered.drop("_path", "_rid").createOrReplaceTempView(f"_in_{ext.name}")
    # two different rows with the same key in one partition: both are unusable
    spark.sql(
        f"select *, case when _r is null and min(_fp) over w <> max(_fp) over w "
        f"then 'conflicting duplicate key ' || _key else _r end as _reason "
        f"from (select *, {reason_sql(ext, D)} as _r, {key_sql(ext, D)} as _key, "
        f"{fingerprint_sql(ext, D)} as _fp from _in_{ext.name}) "
        f"window w as (partition by _business_date, _key, _r is null)"
    ).persist().createOrReplaceTempView(view)
    quarantined = {r["_business_date"]: r["n"] for r in spark.sql(
        f"select _business_date, count(*) as n from {view} where _reason is not null group by 1").collect()}
    for label, part in accepted.items():
        r = results[label]
        r.rows_quarantined = quarantined.get(part.business_date, 0)
        r.rows_loaded = r.rows_in - r.rows_quarantined
        if label not in replace:
            continue
        # a redelivery (or a forced reload): the earlier delivery goes, never appended twice
        day = D.lit(part.business_date.isoformat())
        spark.sql(f"alter table raw.{D.q(ext.name)} drop if exists partition (_business_date = {day})")
        spark.sql(f"alter table meta.quarantine drop if exists partition "
                  f"(extract = {D.lit(ext.name)}, business_date = {day})")
    cols = ", ".join(D.q(c) for c in ext.column_names)
    ts = D.lit(loaded_at.isoformat(sep=" "))
    spark.sql(
        f"insert into raw.{D.q(ext.name)} select {cols}, {D.lit(ext.name)}, _file, _record_no, _manifest_sha256, "
        f"timestamp {ts}, _business_date from {view} where _reason is null")
    if any(quarantined.values()):
        spark.sql(
            f"insert into meta.quarantine select _file, _record_no, _reason, {raw_text_sql(ext, D)}, _key, "
            f"_manifest_sha256, timestamp {ts}, {D.lit(ext.name)}, _business_date "
            f"from {view} where _reason is not null")
    spark.catalog.dropTempView(view)
    spark.catalog.dropTempView(f"_in_{ext.name}")


def _record(spark, results: list[PartitionResult], run_id: str, loaded_at: datetime,
            files: dict[str, list[str]], seconds: dict[str, float]) -> None:
    """meta.load_log rows for every partition; meta.partitions rewritten with the LOADED ones."""
    if not results:
        return
    log = [(f"{run_id}:{r.partition.label}", run_id, r.partition.extract, r.partition.business_date,
            r.partition.manifest_sha256, ";".join(files.get(r.partition.label, [])), r.rows_in, r.rows_loaded,
            r.rows_quarantined, r.status, r.message, loaded_at, float(seconds.get(r.partition.label, 0.0)))
           for r in results]
    spark.createDataFrame(log, spark.table("meta.load_log").schema).write.insertInto("meta.load_log")
    loaded = {(r.partition.extract, r.partition.business_date): r for r in results if r.status == "LOADED"}
    if not loaded:  # a rejected redelivery leaves the earlier delivery in force
        return
    rows = [tuple(row) for row in spark.table("meta.partitions").collect()
            if (row["extract"], row["business_date"]) not in loaded]
    rows += [(p.extract, p.business_date, p.manifest_sha256, r.status, r.rows_in, r.rows_loaded,
              r.rows_quarantined, loaded_at) for (_, _), r in loaded.items() for p in [r.partition]]
    df = spark.createDataFrame(rows, spark.table("meta.partitions").schema)
    df.write.insertInto("meta.partitions", overwrite=True)


def load_landing(spark, landing: Path, run_id: str, only: set[str] | None = None,
                 force_from: date | None = None, progress=None) -> LoadSummary:
    """Load every new or changed partition of the landing folder into the Spark raw layer."""
    ensure_schema(spark)
    t0 = time.perf_counter()
    summary = LoadSummary()
    known = {(r["extract"], r["business_date"]): (r["manifest_sha256"], r["status"])
             for r in spark.table("meta.partitions").collect()}
    by_ext: dict[str, list[Partition]] = {}
    for part in discover(landing, summary):
        if only and part.extract not in only:
            continue
        summary.found += 1
        if part.manifest_sha256 is None:
            summary.without_manifest.append(part.label)
            continue
        by_ext.setdefault(part.extract, []).append(part)
    loaded_at = datetime.now().replace(microsecond=0)
    for name, parts in by_ext.items():
        results = _load_extract(spark, EXTRACTS[name], parts, known, run_id, loaded_at, force_from)
        summary.results.extend(results)
        if progress:
            progress(name, results)
    summary.seconds = time.perf_counter() - t0
    return summary


def export_parquet(spark, out: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> list[str]:
    """Every table and view of `schemas` as a Parquet folder `out/<schema>/<table>/`."""
    written = []
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        for t in spark.catalog.listTables(schema):
            if t.isTemporary:
                continue
            target = out / schema / t.name
            spark.table(f"{schema}.{t.name}").coalesce(1).write.mode("overwrite").parquet(str(target))
            written.append(f"{schema}.{t.name}")
    return written


def run_dbt(args: list[str], spark_dir: Path, state_dir: Path) -> bool:
    """`dbt <args> --target spark` in this process (the Spark session is shared). -> success."""
    from dbt.cli.main import dbtRunner

    os.environ["POWERCRM_SPARK_DIR"] = str(spark_dir.resolve())
    os.environ["POWERCRM_DBT_TARGET"] = "spark"
    res = dbtRunner().invoke([
        *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR / "profiles"),
        "--target", "spark", "--target-path", str(state_dir / "target"), "--log-path", str(state_dir / "logs"),
    ])
    return bool(res.success)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--landing", type=Path, required=True, help="the landing folder (SOURCE_EXTRACTS.md)")
    ap.add_argument("--spark-dir", type=Path, default=Path(os.environ.get("POWERCRM_SPARK_DIR", "warehouse/spark")),
                    help="metastore and warehouse folder (POWERCRM_SPARK_DIR; default warehouse/spark)")
    ap.add_argument("--cluster", action="store_true",
                    help="run under spark-submit on a cluster: its master, metastore and warehouse, no local "
                         "metastore (--build then runs dbt's session target inside that driver, docs/spark.md)")
    ap.add_argument("--run-id", default=datetime.now().strftime("spark-%Y%m%dT%H%M%S"))
    ap.add_argument("--only", help="comma-separated extracts to load")
    ap.add_argument("--force-from", type=date.fromisoformat, help="reload partitions from this business date on")
    ap.add_argument("--build", nargs="?", const="build", metavar="DBT_COMMAND",
                    help="then run dbt on the same session: 'build' (default), or e.g. 'seed+run'")
    ap.add_argument("--export-parquet", type=Path, metavar="DIR",
                    help="then write core, marts and audit as Parquet folders DIR/<schema>/<table>/")
    ap.add_argument("--export-schemas", default=",".join(PUBLISHED_SCHEMAS),
                    help="the schemas --export-parquet writes (default: core,marts,audit)")
    args = ap.parse_args(argv)

    spark = spark_session(None if args.cluster else args.spark_dir)
    only = set(args.only.split(",")) if args.only else None

    def progress(name: str, results: list[PartitionResult]) -> None:
        by = {s: sum(1 for r in results if r.status == s) for s in ("LOADED", "UNCHANGED", "REJECTED")}
        q = sum(r.rows_quarantined for r in results)
        print(f"  {name:<10} loaded {by['LOADED']:>3}  unchanged {by['UNCHANGED']:>3}  rejected {by['REJECTED']:>2}"
              f"  quarantined rows {q}", flush=True)
        for r in results:
            if r.status == "REJECTED":
                print(f"    REJECTED {r.partition.label}: {r.message}", flush=True)

    summary = load_landing(spark, args.landing, args.run_id, only, args.force_from, progress)
    print(f"load: {summary.found} partitions, {len(summary.by_status('LOADED'))} loaded, "
          f"{len(summary.rejected)} rejected, {len(summary.without_manifest)} without manifest "
          f"({summary.seconds:.1f} s)", flush=True)
    rc = 3 if summary.rejected else 0
    if args.build:
        state = args.spark_dir / "dbt"
        for step in args.build.split("+"):
            t0 = time.perf_counter()
            ok = run_dbt([step], args.spark_dir, state)
            print(f"dbt {step}: {'ok' if ok else 'FAILED'} ({time.perf_counter() - t0:.0f} s)", flush=True)
            if not ok:
                return 1
    if args.export_parquet:
        written = export_parquet(spark, args.export_parquet, tuple(args.export_schemas.split(",")))
        print(f"export: {len(written)} tables and views to {args.export_parquet}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
