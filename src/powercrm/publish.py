"""Publish the analysts' file from the private working database.

The analysts open one DuckDB file, read-only. It holds only the schemas `core`, `marts` and
`audit` of the working database (never raw, meta, staging or intermediate), as tables (views
are materialised), with the table and column comments that dbt's persist_docs wrote.

Protocol (there is never a moment without a complete published file):

1. write `<stem>.next.duckdb` beside the published file, in DuckDB storage version v1.0.0 so
   that DuckDB 1.x clients (BI tools, older notebooks) can open it; checkpoint and close it;
2. verify it: open it read-only, every table present with the row count of the working database;
3. keep the current published file as `<stem>.prev.duckdb` (a hard link, so the published
   name never disappears) — `powercrm rollback` puts it back;
4. `os.replace(next, published)`: atomic on POSIX; readers that have the old file open keep
   reading their snapshot (the old inode lives until they close it).

Every connection gets DuckDB's `memory_limit` from POWERCRM_DUCKDB_MEMORY_LIMIT (default 6GB) and
spills to `<work>.tmp`. Step 1 is nearly all of the time.

Step 1 comes in two modes (`PublishResult.mode`):
- **full**: every table is written afresh (`create table … as select`) into a new v1.0.0 file. The
  first publish, every full-check run (`powercrm run --full-check`, the weekly Dagster run) and
  any run whose previous file cannot be reused. At 1 000 000 customers this copies 7 GiB
  (≈ 150 s): the compression of the four big facts is nearly all of it.
- **patch** (a nightly run, `patch=True`): the next file starts as an older published file and
  every table is brought to the working database's content by comparing the two sides, never by
  trusting what the build says it changed. The start is the previous version `<stem>.prev.duckdb`
  (the file published the night before last), renamed to the next file, when it can be reused:
  a v1.0.0 file, no `.wal` beside it, and no reader holds it open (DuckDB's file lock; a
  dashboard connected for two days does). Otherwise it is a byte copy of the current published
  file (at 1 000 000 customers the copy of 6.7 GB took 24-49 s, half of a night's publish). The
  whole patch is one transaction: when it fails, the renamed previous version is unchanged and
  goes back to its name; the patch is retried once on a copy of the published file, then the
  publish falls back to a full write. Either start is already v1.0.0 (DuckDB keeps an existing
  file's storage version). A table of at least PATCH_MIN_ROWS rows is compared
  partition by partition: rows grouped by its first PARTITION_COLUMNS column (or as one group),
  each group's row count and sum of row hashes on both sides. A group on one side only (a new
  month of readings, a business date gone) is inserted or deleted whole. Inside the other groups
  that differ (when they hold at least PATCH_BUCKET_MIN_ROWS rows, first narrowed to the buckets of rows,
  by the hash of the first column, whose count or sum of row hashes differ), rows are compared
  by their hash (a multiset: count per row hash on each side, from one scan per side that keeps
  the row id and hash of every row in scope); the published rows whose hash count differs are
  deleted and the working database's rows of those hashes inserted, both by row id (1 000 000
  customers, fct_bill with 8 671 rows changed in its 24 months: 5.5 → 2.8 s)
  (so a night that re-stamps a few thousand bills spread over 14 billing months replaces those
  rows, not the 14 months). A table whose columns differ, that is new, that would get more
  than PATCH_MAX_CHANGED of its rows inserted, or (without a partition column) whose date column
  holds one value per side, a different one (`as_of_date` of a customer mart: every row differs,
  nothing is compared), is written afresh; small tables are always
  written afresh; tables gone from the working database are dropped. A night touches a few
  groups of the big facts, so the publish costs (at most) the byte copy plus a hash of each big table
  instead of their compression. The published side is not hashed again when the working
  database holds the sums the publish that wrote the file kept (`meta.publish_partitions`, for
  the run_id of the file's last `audit.publish_log` row; `record_publish` replaces them after
  each publish, full or patch, with those of the big tables it left equal to the working
  database; a full publish hashes its big tables once for them; the sums of the run that
  published the previous version are kept too, so that it is not hashed either): a rolled-back file,
  or one whose publish could not record its sums, is hashed as before. The bucket step is spared
  the published side the same way: a night that buckets the whole of a table of at least
  KEPT_BUCKETS_MIN_ROWS rows (`fct_bill`, whose 24 billing months change every night as bills
  get paid) keeps its working side's bucket sums in `<stem>.state/publish_buckets/<run_id>.duckdb`
  (those of the file published and of the previous version; the others are removed after each
  publish). The night that patches that file (the night after next) sums the table's partitions
  and buckets in one scan of the working side and compares the buckets with the kept ones
  (1 000 000 customers, the publish alone in alternating runs: 39.1 / 41.1 → 34.0 / 35.9 s; 4-5 s
  of statements). A full write keeps none: the first two nights after it bucket both sides. Kept sums
  that are missing, unreadable or cannot be written cost work, never a wrong file. Deleted rows
  leave space in the file until the next full publish rewrites it (at least weekly).
Either mode ends with the same verification (step 2) and swap (steps 3, 4).

Any failure before step 4 (disk full, unwritable directory, a type the v1.0.0 format cannot
store) removes the next file and raises `PublishError` with one sentence; the published file
and its previous version are untouched.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from powercrm.ingest.rules import lit, q
from powercrm.testhooks import pause_point

PUBLISHED_SCHEMAS = ("core", "marts", "audit")
STORAGE_VERSION = "v1.0.0"  # readable by DuckDB >= 1.0

# patch mode (module doc): the partition column of a big table is the first of these it has
PARTITION_COLUMNS = ("business_date", "billing_month", "month", "snapshot_date", "evaluation_date")
PATCH_MIN_ROWS = 100_000  # a smaller table is written afresh: cheaper than comparing it
PATCH_MAX_CHANGED = 0.5  # a table that would get more of its rows inserted is written afresh
# the changed partitions of a table hold at least this many rows: their rows are first compared in
# buckets (the hash of the first column modulo PATCH_BUCKETS: its count and sum of row hashes on
# each side), and only the rows of the buckets that differ are compared row by row
PATCH_BUCKET_MIN_ROWS = 1_000_000
PATCH_BUCKETS = 1 << 20
# a night that buckets the whole of a table keeps its working side's bucket sums (module doc) in
# <stem>.state/BUCKETS_DIR/<run_id>.duckdb; the night after next compares them instead of bucketing
# the published side when its changed partitions hold at least this share of the table's rows (the
# working side is then bucketed whole, in the scan that sums its partitions)
BUCKETS_DIR = "publish_buckets"
KEPT_BUCKETS_MIN_SHARE = 0.5
# only a table of at least this many rows keeps them: below it, bucketing the published side costs
# less than a second (1 000 000 customers: dim_customer, fct_dunning, customer_value 0.3-0.6 s)
KEPT_BUCKETS_MIN_ROWS = 10_000_000
# the temp tables of one table's row comparison (_patch_table), dropped after it
PATCH_TEMP_TABLES = ("_publish_src", "_publish_dst", "_publish_rows", "_publish_buckets")
SUMMARY_TABLE = "publish_partitions"  # meta.<this> in the working database: the published files' partition sums

# audit tables that METRICS.md promises; when the dbt build made none, the loader's own are published
AUDIT_FALLBACKS = {
    "load_log": "select extract, business_date, manifest_sha256, files, rows_in, rows_loaded, rows_quarantined, "
                "status, message, loaded_at, run_id, seconds from work.meta.load_log",
    "quarantine": "select extract, business_date, file, record_no, reason, raw_text, key_text, "
                  "manifest_sha256, loaded_at from work.meta.quarantine",
}
PUBLISH_LOG_COLUMNS = (
    ("run_id", "varchar"), ("published_at", "timestamp"), ("data_date", "date"), ("command", "varchar"),
    ("partitions_found", "integer"), ("partitions_loaded", "integer"), ("partitions_unchanged", "integer"),
    ("partitions_rejected", "integer"), ("partitions_without_manifest", "integer"),
    ("rows_loaded", "bigint"), ("rows_quarantined", "bigint"), ("seconds", "double"),
)


MEMORY_LIMIT_ENV = "POWERCRM_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "6GB"


def duckdb_memory_limit() -> str:
    """DuckDB's memory_limit for the gate's and the publish's connections (and the dbt profile):
    POWERCRM_DUCKDB_MEMORY_LIMIT, default 6GB (a 1 000 000-customer run must stay under 8 GiB)."""
    return (os.environ.get(MEMORY_LIMIT_ENV) or "").strip() or DEFAULT_MEMORY_LIMIT


def bound_memory(con: duckdb.DuckDBPyConnection, temp_dir: Path) -> None:
    """`SET memory_limit` and a temp_directory (beside the working database: spilled hash tables
    and sorts go there instead of growing the process)."""
    limit = duckdb_memory_limit()
    try:
        con.execute(f"set memory_limit = {lit(limit)}")
    except duckdb.Error as e:
        raise ValueError(f"{MEMORY_LIMIT_ENV}={limit!r} is not a DuckDB memory size (e.g. 6GB, 500MB): "
                         f"{_reason(e)}") from e
    current = con.execute("select current_setting('temp_directory')").fetchone()[0]
    if current != str(temp_dir):
        try:
            con.execute(f"set temp_directory = {lit(str(temp_dir))}")
        except duckdb.Error:  # DuckDB refuses to move it once this database has spilled: keep that one
            pass


class PublishError(Exception):
    """Publishing failed; nothing was published. The message is one sentence for the operator."""


@dataclass(frozen=True)
class WarehouseFiles:
    """The files that live beside the published warehouse file `<dir>/<stem>.duckdb`."""

    published: Path

    def _sibling(self, suffix: str) -> Path:
        return self.published.with_name(self.published.stem + suffix)

    @property
    def stem(self) -> str:
        return self.published.stem

    @property
    def work(self) -> Path:
        return self._sibling(".work.duckdb")

    @property
    def next(self) -> Path:
        return self._sibling(".next.duckdb")

    @property
    def prev(self) -> Path:
        return self._sibling(".prev.duckdb")

    @property
    def rolled_back(self) -> Path:
        return self._sibling(".rolledback.duckdb")

    @property
    def quality_report(self) -> Path:
        return self._sibling(".quality.html")

    @property
    def lock(self) -> Path:
        return self._sibling(".lock")

    @property
    def state_dir(self) -> Path:
        """dbt target and logs, and the last run's summary (private to the nightly run)."""
        return self._sibling(".state")


@dataclass
class PublishResult:
    published: Path
    tables: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # schema -> [(table, rows)]
    bytes: int = 0
    kept_previous: Path | None = None
    seconds: float = 0.0
    fallbacks: list[str] = field(default_factory=list)
    mode: str = "full"  # "full" or "patch" (module doc)
    why_full: str = ""  # patch was asked for but the previous file could not be reused: why
    patched: dict[str, str] = field(default_factory=dict)  # patch mode: "schema.table" -> what was done
    # patch mode: (schema, table) -> (column signature, {partition value as text: (rows, sum of row hashes)})
    # of the tables now equal to the working database; record_publish keeps them for the next night
    summaries: dict[tuple[str, str], tuple[str, dict]] = field(default_factory=dict)
    known_sides: int = 0  # patch mode: tables whose published side came from the last publish's summary
    # patch mode: what the next file started as: "previous" (the previous version, renamed: no
    # copy) or "copy" (a byte copy of the published file); why the previous version was not used
    start: str = ""
    why_copy: str = ""
    committed: bool = False  # patch mode: the patch transaction committed (the start file changed)
    previous_run_id: str | None = None  # the run that published the file now kept as the previous version
    kept_buckets: list[str] = field(default_factory=list)  # "schema.table" whose bucket sums this publish kept
    kept_buckets_failure: str = ""  # why they could not be kept (the publish itself went on)
    # where the time went: "schema.table" (compared, patched or written, with its comments) and the
    # steps "checkpoint", "verify" -> seconds (the last attempt's, when a patch fell back)
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def table_count(self) -> int:
        return sum(len(v) for v in self.tables.values())


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _unlink(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _relations(con: duckdb.DuckDBPyConnection, schemas: Iterable[str]) -> list[tuple[str, str, str | None]]:
    wanted = list(schemas)
    marks = ", ".join("?" for _ in wanted)
    return con.execute(
        f"select schema_name, table_name, comment from duckdb_tables() "
        f"where database_name = 'work' and schema_name in ({marks}) "
        f"union all select schema_name, view_name, comment from duckdb_views() "
        f"where database_name = 'work' and not internal and schema_name in ({marks}) order by 1, 2",
        wanted + wanted).fetchall()


def _column_comments(con: duckdb.DuckDBPyConnection, schemas: Iterable[str]) -> dict[tuple[str, str], list]:
    wanted = list(schemas)
    marks = ", ".join("?" for _ in wanted)
    out: dict[tuple[str, str], list] = {}
    for s, t, c, comment in con.execute(
            f"select schema_name, table_name, column_name, comment from duckdb_columns() "
            f"where database_name = 'work' and schema_name in ({marks}) and comment is not null "
            f"and comment <> ''", wanted).fetchall():
        out.setdefault((s, t), []).append((c, comment))
    return out


def _has_table(con: duckdb.DuckDBPyConnection, db: str, schema: str, table: str) -> bool:
    return con.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
        [db, schema, table]).fetchone()[0] > 0


def _columns(con: duckdb.DuckDBPyConnection, db: str, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ? order by column_index", [db, schema, table]).fetchall()


def _signature(columns: list[tuple[str, str]]) -> str:
    return ", ".join(f"{c} {t}" for c, t in columns)


def _sum_terms(columns: list[tuple[str, str]]) -> tuple[str | None, str, str]:
    """(the partition column or None, its key expression, the row hash expression) of a table's columns."""
    names = [c for c, _ in columns]
    part = next((c for c in PARTITION_COLUMNS if c in names), None)
    return part, (q(part) if part else "0"), "hash(" + ", ".join(q(c) for c in names) + ")"


def _partition_sums(con: duckdb.DuckDBPyConnection, rel: str, key: str, row_hash: str) -> dict:
    """{partition value as text (None for NULL): (rows, sum of row hashes)} of a relation."""
    return {(None if p is None else str(p)): (n, h) for p, n, h in con.execute(
        f"select {key} as p, count(*) as n, sum(cast({row_hash} as hugeint)) as h from {rel} group by 1").fetchall()}


def _patch_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, rows: int,
                 columns: list[tuple[str, str]], result: PublishResult, known: dict | None = None,
                 kept_buckets: bool = False) -> str | None:
    """Bring pub.<schema>.<table> to work's content by replacing the rows that differ inside the
    partitions whose row count or sum of row hashes differ (module doc, patch mode). `known`: the
    published side's sums, kept by the publish that wrote the file (else computed here);
    `kept_buckets`: its bucket sums were kept too (in the attached `kept`). -> what was done, or
    None when the table is better written afresh (the caller drops and copies it)."""
    if rows < PATCH_MIN_ROWS:
        return None
    types = dict(columns)
    part, key, row_hash = _sum_terms(columns)
    src, dst = f"work.{q(schema)}.{q(table)}", f"pub.{q(schema)}.{q(table)}"
    if kept_buckets and rows >= PATCH_BUCKET_MIN_ROWS:  # its buckets too, for _differing_kept_buckets
        work_sums = _sums_and_buckets(con, src, key, row_hash, columns[0][0])
    else:
        work_sums = _partition_sums(con, src, key, row_hash)
    # what the published table holds afterwards, whether patched here or written afresh by the caller
    result.summaries[(schema, table)] = (_signature(columns), work_sums)
    if known is not None:
        result.known_sides += 1
    pub_sums = known if known is not None else _partition_sums(con, dst, key, row_hash)
    changed = sorted((p for p in work_sums.keys() | pub_sums.keys() if work_sums.get(p) != pub_sums.get(p)),
                     key=lambda p: (p is None, p or ""))
    if not changed:
        return "unchanged"
    if part is None and _every_row_differs(con, src, dst, columns):
        return None  # e.g. a mart as of the data date: written afresh without comparing its rows
    # a partition on one side only is inserted or deleted whole, without comparing its rows (a new
    # month of readings, a new business date); the rows of those on both sides are compared
    new_parts = [p for p in changed if p not in pub_sums]
    gone_parts = [p for p in changed if p not in work_sums]
    both = [p for p in changed if p in pub_sums and p in work_sums]
    inserted = sum(work_sums[p][0] for p in new_parts)
    deleted = sum(pub_sums[p][0] for p in gone_parts)
    scope = _partition_scope(part, both, types)
    if both:
        both_rows = sum(work_sums[p][0] for p in both)
        if both_rows >= PATCH_BUCKET_MIN_ROWS:
            if kept_buckets and both_rows >= KEPT_BUCKETS_MIN_SHARE * rows:
                scope = _differing_kept_buckets(con, schema, table, columns, scope, rows)
            else:  # both sides bucketed; when that is the whole table its working side's sums are kept
                whole = both_rows == rows and rows >= KEPT_BUCKETS_MIN_ROWS
                scope = _differing_buckets(con, src, dst, scope, columns[0][0], row_hash,
                                           (schema, table, columns) if whole else None)
        # one scan per side keeps the row id and hash of every row in scope; the rows are then
        # compared, deleted and inserted through those (fetched by row id: no further scan)
        # (a view has no row ids: its rows are kept whole, and inserted from that copy)
        src_is_table = _has_table(con, "work", schema, table)
        _drop_temp(con, "_publish_src", "_publish_dst", "_publish_rows")  # not the buckets `scope` reads
        for name, rel, kept in (("_publish_src", src, "rowid as _publish_rid" if src_is_table else "*"),
                                ("_publish_dst", dst, "rowid as _publish_rid")):
            con.execute(f"create temp table {name} as select {kept}, {row_hash} as _publish_h from {rel} where {scope}")
        groups = "select _publish_h as h, count(*) as n from temp.{} group by 1"
        con.execute(
            f"create temp table _publish_rows as select coalesce(w.h, d.h) as h, "
            f"coalesce(w.n, 0) as inserted, coalesce(d.n, 0) as deleted "
            f"from ({groups.format('_publish_src')}) w full join ({groups.format('_publish_dst')}) d on w.h = d.h "
            f"where w.n is distinct from d.n")
        rows_in, rows_out = con.execute(
            "select coalesce(sum(inserted), 0), coalesce(sum(deleted), 0) from temp._publish_rows").fetchone()
        inserted, deleted = inserted + rows_in, deleted + rows_out
    if inserted > PATCH_MAX_CHANGED * rows:
        _drop_temp(con, *PATCH_TEMP_TABLES)
        return None  # mostly changed: written afresh
    if gone_parts:
        con.execute(f"delete from {dst} where {_partition_scope(part, gone_parts, types)}")
    if both:
        # the rows of the hashes whose counts differ: the published ones go, the working ones come
        differing = "select _publish_rid from temp.{} where _publish_h in (select h from temp._publish_rows)"
        con.execute(f"delete from {dst} where rowid in ({differing.format('_publish_dst')})")
        if src_is_table:
            con.execute(f"insert into {dst} select * from {src} where rowid in ({differing.format('_publish_src')})")
        else:
            con.execute(f"insert into {dst} select {', '.join(q(c) for c, _ in columns)} from temp._publish_src "
                        f"where _publish_h in (select h from temp._publish_rows)")
        _drop_temp(con, *PATCH_TEMP_TABLES)
    if new_parts:
        con.execute(f"insert into {dst} select * from {src} where {_partition_scope(part, new_parts, types)}")
    where_done = (f"in {len(changed)} {part} partition{'s' if len(changed) != 1 else ''}" if part
                  else "compared whole")
    return f"{deleted} row{'s' if deleted != 1 else ''} deleted, {inserted} inserted ({where_done})"


def _drop_temp(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    con.execute("; ".join(f"drop table if exists temp.{n}" for n in names))


def _every_row_differs(con: duckdb.DuckDBPyConnection, src: str, dst: str, columns: list[tuple[str, str]]) -> bool:
    """Whether a date column holds one value in every row of each side, a different one on each
    (`as_of_date` of the customer marts: the data date moved), so that no row can be equal."""
    dates = [c for c, t in columns if t.upper() in ("DATE", "TIMESTAMP")]
    if not dates:
        return False
    sel = "count(*), " + ", ".join(f"count({q(c)}), min({q(c)}), max({q(c)})" for c in dates)
    work, pub = con.execute(f"select {sel} from {src}").fetchone(), con.execute(f"select {sel} from {dst}").fetchone()
    for i in range(len(dates)):
        w, d = work[1 + 3 * i:4 + 3 * i], pub[1 + 3 * i:4 + 3 * i]
        if w[0] == work[0] and d[0] == pub[0] and w[1] == w[2] and d[1] == d[2] and w[1] != d[1]:
            return True
    return False


def _partition_scope(part: str | None, values: list, types: dict[str, str]) -> str:
    """A filter on the partitions `values` (None: the NULL partition) as a constant list, pruned by
    the zone maps; `true` for a table without a partition column (its one group)."""
    if not part:
        return "true"
    given = [v for v in values if v is not None]
    terms = [f"{q(part)} in ({', '.join(f'cast({lit(v)} as {types[part]})' for v in given)})"] if given else []
    terms += [f"{q(part)} is null"] if len(given) < len(values) else []
    return "(" + " or ".join(terms) + ")" if terms else "false"


def _bucket(first: str) -> str:
    """The bucket of a row: the hash of its first column (a key, usually) modulo PATCH_BUCKETS."""
    return f"hash({q(first)}) % {PATCH_BUCKETS}"


def _differing_buckets(con: duckdb.DuckDBPyConnection, src: str, dst: str, scope: str, first: str,
                       row_hash: str, keep_as: tuple[str, str, list] | None = None) -> str:
    """Narrow `scope` (the changed partitions) to the buckets whose rows differ: rows bucketed by the
    hash of their first column (a key, usually: a changed row's old and new versions share a
    bucket), each bucket's count and sum of row hashes compared on both sides. A whole-table row
    comparison groups every row by its hash on both sides (1 000 000 customers, a night that
    re-stamps 9 000 bills in all 24 months of fct_bill: 16.8 s); the buckets cost one cheaper
    aggregate per side and leave a few hundred thousand rows to compare. `keep_as` (schema, table,
    columns): the scope is the whole table, so the working side's bucket sums are kept too."""
    bucket = _bucket(first)
    sums = f"select {bucket} as b, count(*) as n, sum(cast({row_hash} as hugeint)) as s from {{rel}} where {scope} group by 1"
    _drop_temp(con, "_publish_buckets", "_publish_work_buckets")
    work = f"({sums.format(rel=src)})"
    if keep_as:
        con.execute(f"create temp table _publish_work_buckets as {sums.format(rel=src)}")
        work = "temp._publish_work_buckets"
    con.execute(
        f"create temp table _publish_buckets as select coalesce(w.b, d.b) as b "
        f"from {work} w full join ({sums.format(rel=dst)}) d on w.b = d.b "
        f"where w.n is distinct from d.n or w.s is distinct from d.s")
    if keep_as:
        _keep_buckets(con, *keep_as, "temp._publish_work_buckets")
        con.execute("drop table temp._publish_work_buckets")
    return f"{scope} and {bucket} in (select b from temp._publish_buckets)"


def _keep_buckets(con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[tuple[str, str]],
                  relation: str) -> None:
    """Add a table's bucket sums (`relation`: b, n, s) to those this publish keeps (temp._publish_keep)."""
    con.execute(f"insert into temp._publish_keep select {lit(schema)}, {lit(table)}, {lit(_signature(columns))}, "
                f"b, n, s from {relation}")


def _differing_kept_buckets(con: duckdb.DuckDBPyConnection, schema: str, table: str,
                            columns: list[tuple[str, str]], scope: str, table_rows: int) -> str:
    """_differing_buckets against the bucket sums the publish that wrote the file kept: only the
    working side is bucketed (whole, in temp._publish_work_buckets since _sums_and_buckets), and
    its sums are kept in turn for the night after next. A row of a partition on one side only falls
    in a bucket that differs; those buckets are compared row by row in the partitions on both sides
    too, which changes nothing but the work."""
    first = columns[0][0]
    _drop_temp(con, "_publish_buckets")
    con.execute(
        f"create temp table _publish_buckets as select coalesce(w.b, d.b) as b from temp._publish_work_buckets w "
        f"full join (select b, n, s from kept.buckets where schema_name = {lit(schema)} "
        f"and table_name = {lit(table)}) d on w.b = d.b where w.n is distinct from d.n or w.s is distinct from d.s")
    if table_rows >= KEPT_BUCKETS_MIN_ROWS:
        _keep_buckets(con, schema, table, columns, "temp._publish_work_buckets")
    return f"{scope} and {_bucket(first)} in (select b from temp._publish_buckets)"


def _bucket_file(directory: Path, run_id: str) -> Path:
    return directory / (re.sub(r"[^A-Za-z0-9_.-]", "_", run_id) + ".duckdb")


def _attach_kept_buckets(con: duckdb.DuckDBPyConnection, directory: Path | None,
                         run_id: str | None) -> dict[tuple[str, str], str]:
    """Attach the bucket sums kept by the publish `run_id` (the one that wrote the file being
    patched) as `kept`. -> {(schema, table): column signature}; nothing when there are none (or they
    cannot be read: both sides are then bucketed, as before they were kept)."""
    if directory is None or not run_id:
        return {}
    path = _bucket_file(directory, run_id)
    if not path.is_file():
        return {}
    try:
        con.execute(f"attach {lit(str(path))} as kept (read_only)")
        return {(s, t): sig for s, t, sig in con.execute(
            "select distinct schema_name, table_name, signature from kept.buckets").fetchall()}
    except duckdb.Error:
        try:
            con.execute("detach database if exists kept")
        except duckdb.Error:
            pass
        return {}


def _save_kept_buckets(con: duckdb.DuckDBPyConnection, directory: Path | None, run_id: str | None,
                       result: PublishResult) -> None:
    """Write the bucket sums this publish kept to <directory>/<run_id>.duckdb (after the next file is
    complete). Failing to is not a failed publish: the night after next buckets both sides."""
    if directory is None or not run_id:
        return
    path = _bucket_file(directory, run_id)
    tmp = path.with_name(path.name + ".tmp")
    try:
        con.execute("detach database if exists kept")
        if not con.execute("select count(*) from temp._publish_keep").fetchone()[0]:
            return
        directory.mkdir(parents=True, exist_ok=True)
        _unlink(tmp, Path(str(tmp) + ".wal"))
        con.execute(f"attach {lit(str(tmp))} as keep_out")
        con.execute("create table keep_out.buckets as select * from temp._publish_keep")
        con.execute("detach keep_out")
        os.replace(tmp, path)
        result.kept_buckets = sorted({f"{s}.{t}" for s, t in con.execute(
            "select distinct schema_name, table_name from temp._publish_keep").fetchall()})
    except (OSError, duckdb.Error) as e:
        result.kept_buckets_failure = f"cannot keep the bucket sums in {path}: {_reason(e)}"
        try:
            con.execute("detach database if exists keep_out")
            _unlink(tmp)
        except (OSError, duckdb.Error):
            pass


def _prune_kept_buckets(directory: Path, keep: Iterable[str | None]) -> None:
    """Remove the bucket sums of every run but `keep` (the file published and the previous version)."""
    wanted = {_bucket_file(directory, r).name for r in keep if r}
    try:
        for p in directory.iterdir():
            if p.name not in wanted:
                _unlink(p)
    except OSError:
        pass


def _pub_run_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The run that wrote the attached `pub`: the run_id of its last audit.publish_log row."""
    if not _has_table(con, "pub", "audit", "publish_log"):
        return None
    last = con.execute("select run_id from pub.audit.publish_log order by rowid desc limit 1").fetchone()
    return last[0] if last else None


def _known_sums(con: duckdb.DuckDBPyConnection, run_id: str | None) -> dict[tuple[str, str], tuple[str, dict]]:
    """The partition sums the publish that wrote pub (run `run_id`, see _pub_run_id) kept in the
    working database (meta.publish_partitions); nothing when pub was written by another run (a
    rollback, a publish whose record failed)."""
    if run_id is None or not _has_table(con, "work", "meta", SUMMARY_TABLE):
        return {}
    known: dict[tuple[str, str], tuple[str, dict]] = {}
    for schema, table, signature, p, n, h in con.execute(
            f"select schema_name, table_name, signature, partition_value, rows, row_hash "
            f"from work.meta.{SUMMARY_TABLE} where run_id = ?", [run_id]).fetchall():
        known.setdefault((schema, table), (signature, {}))[1][p] = (n, h)
    return known


def _sums_and_buckets(con: duckdb.DuckDBPyConnection, src: str, key: str, row_hash: str, first: str) -> dict:
    """_partition_sums of `src`, and its bucket sums (whole table) left in temp._publish_work_buckets,
    from one scan: the row hash is most of the cost (1 000 000 customers, fct_bill alone: 3.4 s for
    both, 3.5-3.9 s for either; in a publish 6.1 s against 3.6 + 7.8 s for the partition sums and
    the two-sided bucket pass)."""
    _drop_temp(con, "_publish_work_sums", "_publish_work_buckets")
    con.execute(f"create temp table _publish_work_sums as select grouping(b) as by_partition, p, b, "
                f"count(*) as n, sum(h) as s from (select {key} as p, {_bucket(first)} as b, "
                f"cast({row_hash} as hugeint) as h from {src}) group by grouping sets ((p), (b))")
    con.execute("create temp table _publish_work_buckets as select b, n, s from temp._publish_work_sums "
                "where by_partition = 0")
    sums = {(None if p is None else str(p)): (n, h) for p, n, h in con.execute(
        "select p, n, s from temp._publish_work_sums where by_partition = 1").fetchall()}
    con.execute("drop table temp._publish_work_sums")
    return sums


def _write_next(work_db: Path, nxt: Path, schemas: tuple[str, ...], run_info: dict | None,
                result: PublishResult, buckets_dir: Path | None = None) -> dict[tuple[str, str], int]:
    """Write the next file (patch mode: `nxt` is already an older published file: the previous version or a copy); returns the
    expected row count of every table in it. `buckets_dir`: where the bucket sums of each publish
    are kept (none are read or kept without it, or without a run_id)."""
    expected: dict[tuple[str, str], int] = {}
    patch = result.mode == "patch"
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    try:
        try:
            bound_memory(con, Path(str(work_db) + ".tmp"))
        except ValueError as e:
            raise PublishError(str(e)) from e
        try:
            con.execute(f"attach {lit(str(work_db))} as work (read_only)")
        except duckdb.Error as e:
            raise PublishError(f"cannot read the working database {work_db}: {_reason(e)}") from e
        if patch:  # an existing file keeps its storage version (checked in _reusable and after)
            try:
                con.execute(f"attach {lit(str(nxt))} as pub")
            except duckdb.Error as e:  # e.g. a reader of the previous version holds its lock
                raise PublishError(f"cannot open {nxt} to patch it: {_reason(e)}") from e
        run_id = (run_info or {}).get("run_id")
        try:
            pub_run = _pub_run_id(con) if patch else None
            kept = _attach_kept_buckets(con, buckets_dir, pub_run) if patch else {}
            con.execute("create temp table _publish_keep (schema_name varchar, table_name varchar, "
                        "signature varchar, b ubigint, n bigint, s hugeint)")
            if patch:
                # one transaction: a patch that fails leaves the start file as it was
                con.execute("begin transaction")
            else:
                con.execute(f"attach {lit(str(nxt))} as pub (storage_version '{STORAGE_VERSION}')")
            for schema in schemas:
                con.execute(f"create schema if not exists pub.{q(schema)}")
            comments = _column_comments(con, schemas)
            relations = _relations(con, schemas)
            known = _known_sums(con, pub_run) if patch else {}
            existing = {(s, t) for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'pub'").fetchall()}
            for schema, table in sorted(existing - {(s, t) for s, t, _ in relations}):
                con.execute(f"drop table pub.{q(schema)}.{q(table)}")  # gone from work, or written below
            for i, (schema, table, comment) in enumerate(relations):
                t_table = time.perf_counter()
                target = f"pub.{q(schema)}.{q(table)}"
                rows = con.execute(f"select count(*) from work.{q(schema)}.{q(table)}").fetchone()[0]
                done = None
                if patch and (schema, table) in existing:
                    columns = _columns(con, "work", schema, table)
                    if columns == _columns(con, "pub", schema, table):
                        signature, sums = known.get((schema, table), (None, None))
                        done = _patch_table(con, schema, table, rows, columns, result,
                                            sums if signature == _signature(columns) else None,
                                            kept.get((schema, table)) == _signature(columns))
                        _drop_temp(con, "_publish_work_buckets")
                    if done is None:
                        con.execute(f"drop table {target}")
                if done is None:
                    con.execute(f"create table {target} as select * from work.{q(schema)}.{q(table)}")
                    done = "written"
                    if rows >= PATCH_MIN_ROWS and (schema, table) not in result.summaries:
                        # the next night's patch compares against these (a patch that gave up kept them)
                        work_columns = _columns(con, "work", schema, table)
                        _, key, row_hash = _sum_terms(work_columns)
                        result.summaries[(schema, table)] = (
                            _signature(work_columns), _partition_sums(con, f"work.{q(schema)}.{q(table)}", key, row_hash))
                if patch:
                    result.patched[f"{schema}.{table}"] = done
                # the comments of a table in one statement batch (a few hundred round trips less)
                stmts = [f"comment on table {target} is {lit(comment)}"] if comment else []
                stmts += [f"comment on column {target}.{q(column)} is {lit(col_comment)}"
                          for column, col_comment in comments.get((schema, table), [])]
                if stmts:
                    con.execute(";\n".join(stmts))
                expected[(schema, table)] = rows
                result.step_seconds[f"{schema}.{table}"] = time.perf_counter() - t_table
                if i == 0:
                    pause_point("publish")
            if "audit" in schemas:
                for table, sql in AUDIT_FALLBACKS.items():
                    if ("audit", table) in expected or not _has_table(con, "work", "meta", table):
                        continue
                    t_table = time.perf_counter()
                    con.execute(f"create table pub.audit.{q(table)} as {sql}")
                    expected[("audit", table)] = con.execute(
                        f"select count(*) from pub.audit.{q(table)}").fetchone()[0]
                    result.fallbacks.append(f"audit.{table}")
                    result.step_seconds[f"audit.{table}"] = time.perf_counter() - t_table
                if run_info is not None and ("audit", "publish_log") not in expected:
                    t_table = time.perf_counter()
                    expected[("audit", "publish_log")] = _write_publish_log(con, run_info)
                    result.step_seconds["audit.publish_log"] = time.perf_counter() - t_table
            if patch:
                con.execute("commit")
                result.committed = True
            t_step = time.perf_counter()
            con.execute("checkpoint pub")
            result.step_seconds["checkpoint"] = time.perf_counter() - t_step
            if patch and not _storage_version(con, "pub").startswith(STORAGE_VERSION):
                raise PublishError(f"the patched file {nxt} is no longer at storage version {STORAGE_VERSION}")
            con.execute("detach pub")
            _save_kept_buckets(con, buckets_dir, run_id, result)
        except duckdb.Error as e:
            raise PublishError(f"cannot write {nxt}: {_reason(e)}") from e
    finally:
        con.close()
    return expected


def _storage_version(con: duckdb.DuckDBPyConnection, db: str) -> str:
    tags = con.execute("select tags from duckdb_databases() where database_name = ?", [db]).fetchone()[0]
    return str((tags or {}).get("storage_version", ""))


def _reusable(published: Path) -> str | None:
    """Why the published file cannot be the start of a patch publish, or None when it can: it exists,
    has no .wal beside it (someone opened it read-write), opens, and is at the v1.0.0 storage version."""
    if not published.is_file():
        return "no published file yet"
    if Path(str(published) + ".wal").exists():
        return f"a .wal file lies beside {published}"
    try:
        con = duckdb.connect()
        try:
            con.execute(f"attach {lit(str(published))} as prev (read_only)")
            version = _storage_version(con, "prev")
        finally:
            con.close()
    except duckdb.Error as e:
        return f"{published} cannot be opened: {_reason(e)}"
    if not version.startswith(STORAGE_VERSION):
        return f"{published} is at storage version {version or 'unknown'}, not {STORAGE_VERSION}"
    return None


def _previous_as_next(files: WarehouseFiles) -> str | None:
    """Rename the previous version to the next file's name, to be patched instead of a copy of the
    published file (module doc, patch mode). -> None when done, else why not."""
    prev = files.prev
    if not prev.is_file():
        return f"no previous version {prev.name}"
    why = _reusable(prev)
    if why:
        return why
    try:
        if os.path.samefile(prev, files.published):
            return f"{prev.name} is the published file itself"
        os.replace(prev, files.next)
    except OSError as e:
        return f"cannot rename {prev.name}: {_reason(e)}"
    return None


def _give_back_previous(files: WarehouseFiles, result: PublishResult) -> None:
    """After a failed publish: the next file goes. When it was the renamed previous version and its
    patch did not commit, it is unchanged and takes its name back instead."""
    if result.start == "previous" and not result.committed and not files.prev.exists():
        try:
            os.replace(files.next, files.prev)
        except OSError:
            pass
    if result.start == "previous":
        result.start = ""
    _cleanup(files.next)


def _copy_published(published: Path, nxt: Path, result: PublishResult) -> None:
    t0 = time.perf_counter()
    try:
        shutil.copyfile(published, nxt)
    except OSError as e:
        _cleanup(nxt)
        raise PublishError(f"cannot copy {published} to {nxt}: {_reason(e)}") from e
    result.start = "copy"
    result.step_seconds["copy"] = time.perf_counter() - t0


def _last_run_id(path: Path) -> str | None:
    """The run_id of the last audit.publish_log row of a published file (None when it has none)."""
    if not path.is_file():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            row = con.execute("select run_id from audit.publish_log order by rowid desc limit 1").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        return None
    return row[0] if row else None


def _write_publish_log(con: duckdb.DuckDBPyConnection, run_info: dict) -> int:
    """audit.publish_log: the history of publishes kept in meta.publish_log, plus this one."""
    cols = ", ".join(f"{q(c)} {t}" for c, t in PUBLISH_LOG_COLUMNS)
    con.execute(f"create table pub.audit.publish_log ({cols})")
    names = [c for c, _ in PUBLISH_LOG_COLUMNS]
    if _has_table(con, "work", "meta", "publish_log"):
        have = {r[0] for r in con.execute(
            "select column_name from duckdb_columns() where database_name = 'work' and schema_name = 'meta' "
            "and table_name = 'publish_log'").fetchall()}
        sel = ", ".join(q(c) if c in have else "null" for c in names)
        con.execute(f"insert into pub.audit.publish_log select {sel} from work.meta.publish_log")
    con.execute(f"insert into pub.audit.publish_log values ({', '.join('?' for _ in names)})",
                [run_info.get(c) for c in names])
    con.execute("comment on table pub.audit.publish_log is "
                "'One row per publish of this file: run, data date, partitions and rows of that run.'")
    return con.execute("select count(*) from pub.audit.publish_log").fetchone()[0]


def verify(path: Path, expected: dict[tuple[str, str], int], schemas: tuple[str, ...]) -> None:
    """Open `path` read-only: exactly the expected tables, each with its row count."""
    try:
        con = duckdb.connect(str(path), read_only=True,
                             config={"memory_limit": duckdb_memory_limit(), "temp_directory": str(path) + ".tmp"})
    except duckdb.Error as e:
        raise PublishError(f"the new file {path} cannot be opened: {_reason(e)}") from e
    try:
        found = {(s, t) for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()}
        views = con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0]
        schemas_found = {r[0] for r in con.execute(
            "select schema_name from duckdb_schemas() where database_name = current_database() "
            "and not internal").fetchall()} - {"main"}
        missing = sorted(set(expected) - found)
        extra = sorted(found - set(expected))
        if missing or extra or views or not schemas_found <= set(schemas):
            raise PublishError(
                f"the new file {path} does not hold what was copied (missing {missing[:3]}, extra {extra[:3]}, "
                f"views {views}, schemas {sorted(schemas_found)})")
        for (s, t), n in expected.items():
            got = con.execute(f"select count(*) from {q(s)}.{q(t)}").fetchone()[0]
            if got != n:
                raise PublishError(f"the new file {path} has {got} rows in {s}.{t}, the working database {n}")
    finally:
        con.close()


def _keep_previous(published: Path, prev: Path) -> Path | None:
    """Hard-link the current published file as prev (the published name stays in place)."""
    if not published.exists():
        return None
    tmp = prev.with_name(prev.name + ".tmp")
    _unlink(tmp)
    try:
        os.link(published, tmp)
    except OSError:  # no hard links on this filesystem: copy instead
        shutil.copy2(published, tmp)
    os.replace(tmp, prev)
    return prev


def _move_wal(published: Path, prev: Path) -> None:
    """A `.wal` beside the published file belongs to it (someone opened it read-write): it must
    not be replayed into the new file; it goes with the previous version."""
    wal = Path(str(published) + ".wal")
    if wal.exists():
        os.replace(wal, Path(str(prev) + ".wal"))


def publish(work_db: Path, published: Path, run_info: dict | None = None,
            schemas: tuple[str, ...] = PUBLISHED_SCHEMAS, patch: bool = False) -> PublishResult:
    """Copy `schemas` of `work_db` into a new file and swap it in as `published` (see module doc).
    `patch`: start from the previous version or a copy of the published file and replace only what
    differs (a nightly run); falls back to a full write when that file cannot be reused
    (`result.why_full`)."""
    t0 = time.perf_counter()
    files = WarehouseFiles(published)
    nxt = files.next
    result = PublishResult(published)
    if not work_db.is_file():
        raise PublishError(f"the working database {work_db} does not exist: nothing to publish")
    try:
        _unlink(nxt, Path(str(nxt) + ".wal"))
    except OSError as e:
        raise PublishError(f"cannot remove the stale {nxt}: {_reason(e)}") from e
    if patch:
        result.why_full = _reusable(published) or ""
        if not result.why_full:
            result.mode = "patch"
            result.why_copy = _previous_as_next(files) or ""
            if result.why_copy:
                _copy_published(published, nxt, result)
            else:
                result.start = "previous"
    try:
        expected = _write_with_fallbacks(work_db, files, schemas, run_info, result)
        if Path(str(nxt) + ".wal").exists():
            raise PublishError(f"the new file {nxt} was not checkpointed completely (a .wal file is left)")
        t_step = time.perf_counter()
        verify(nxt, expected, schemas)
        result.step_seconds["verify"] = time.perf_counter() - t_step
        result.previous_run_id = _last_run_id(published)
        result.kept_previous = _keep_previous(published, files.prev)
        _move_wal(published, files.prev)
        os.replace(nxt, published)
    except PublishError:
        _give_back_previous(files, result)
        raise
    except OSError as e:
        _give_back_previous(files, result)
        raise PublishError(f"cannot publish {published}: {_reason(e)} ({e.filename or published.parent})") from e
    _fsync_dir(published.parent)
    if (run_info or {}).get("run_id"):
        _prune_kept_buckets(files.state_dir / BUCKETS_DIR, (run_info["run_id"], result.previous_run_id))
    for (s, t), n in sorted(expected.items()):
        result.tables.setdefault(s, []).append((t, n))
    result.bytes = published.stat().st_size
    result.seconds = time.perf_counter() - t0
    return result


def _write_with_fallbacks(work_db: Path, files: WarehouseFiles, schemas: tuple[str, ...], run_info: dict | None,
                          result: PublishResult) -> dict[tuple[str, str], int]:
    """_write_next; when a patch fails: once more on a copy of the published file (when the previous
    version was the start), then a full write."""
    try:
        return _write_next(work_db, files.next, schemas, run_info, result, files.state_dir / BUCKETS_DIR)
    except PublishError as e:
        if result.mode != "patch":
            raise
        failure = e
    if result.start == "previous":
        _give_back_previous(files, result)
        result.why_copy = f"patching the previous version failed: {failure}"
        _forget_patch(result)
        try:
            _copy_published(files.published, files.next, result)
            return _write_next(work_db, files.next, schemas, run_info, result, files.state_dir / BUCKETS_DIR)
        except PublishError as e:
            failure = e
    # patching failed (e.g. a type or storage problem of the old file): write afresh once
    _cleanup(files.next)
    _forget_patch(result)
    result.mode, result.why_full, result.start = "full", f"patching failed: {failure}", ""
    return _write_next(work_db, files.next, schemas, run_info, result, files.state_dir / BUCKETS_DIR)


def _forget_patch(result: PublishResult) -> None:
    result.patched, result.fallbacks, result.summaries = {}, [], {}
    result.step_seconds = {k: v for k, v in result.step_seconds.items() if k == "copy"}
    result.kept_buckets, result.kept_buckets_failure = [], ""
    result.known_sides, result.committed = 0, False


def _cleanup(nxt: Path) -> None:
    try:
        _unlink(nxt, Path(str(nxt) + ".wal"))
    except OSError:
        pass


def record_publish(work_con: duckdb.DuckDBPyConnection, run_info: dict, result: PublishResult | None = None) -> None:
    """Append this publish to meta.publish_log in the working database (history for audit.publish_log),
    and keep the partition sums of the tables it left equal to the working database in
    meta.publish_partitions (those of the file just published and of the previous version, the
    start of the next night's patch; the sums of other runs are removed)."""
    cols = ", ".join(f"{q(c)} {t}" for c, t in PUBLISH_LOG_COLUMNS)
    work_con.execute(f"create schema if not exists meta; create table if not exists meta.publish_log ({cols})")
    names = [c for c, _ in PUBLISH_LOG_COLUMNS]
    work_con.execute(f"insert into meta.publish_log ({', '.join(q(c) for c in names)}) values "
                     f"({', '.join('?' for _ in names)})", [run_info.get(c) for c in names])
    work_con.execute(f"create table if not exists meta.{SUMMARY_TABLE} (run_id varchar, schema_name varchar, "
                     "table_name varchar, signature varchar, partition_value varchar, rows bigint, row_hash hugeint)")
    keep = [r for r in (run_info.get("run_id"), result.previous_run_id if result else None) if r is not None]
    work_con.execute(f"delete from meta.{SUMMARY_TABLE} where run_id is null or not list_contains(?, run_id)",
                     [keep])
    rows = [(run_info.get("run_id"), schema, table, signature, p, n, str(h))
            for (schema, table), (signature, sums) in sorted((result.summaries if result else {}).items())
            for p, (n, h) in sums.items()]
    for i in range(0, len(rows), 500):  # a few hundred values per statement
        chunk = rows[i:i + 500]
        work_con.execute(f"insert into meta.{SUMMARY_TABLE} values "
                         + ", ".join("(?, ?, ?, ?, ?, ?, cast(? as hugeint))" for _ in chunk),
                         [v for r in chunk for v in r])


def rollback(published: Path) -> tuple[Path, Path | None]:
    """Put `<stem>.prev.duckdb` back as the published file. -> (restored from, where the replaced file is kept)."""
    files = WarehouseFiles(published)
    if not files.prev.is_file():
        raise PublishError(f"there is no previous file {files.prev} to roll back to")
    kept = None
    try:
        if published.exists():
            kept = _keep_previous(published, files.rolled_back)
            _move_wal(published, files.rolled_back)
        prev_wal = Path(str(files.prev) + ".wal")
        if prev_wal.exists():
            os.replace(prev_wal, Path(str(published) + ".wal"))
        os.replace(files.prev, published)
    except OSError as e:
        raise PublishError(f"cannot roll back {published}: {_reason(e)}") from e
    _fsync_dir(published.parent)
    return files.prev, kept


def describe(path: Path) -> dict:
    """What a published file says about itself (read-only): last publish row, if any."""
    info: dict = {"path": path, "mtime": datetime.fromtimestamp(path.stat().st_mtime).replace(microsecond=0)}
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return info
    try:
        if _has_table(con, current_db(con), "audit", "publish_log"):
            row = con.execute("select run_id, published_at, data_date from audit.publish_log "
                              "order by published_at desc limit 1").fetchone()
            if row:
                info.update(run_id=row[0], published_at=row[1], data_date=row[2])
    finally:
        con.close()
    return info


def current_db(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_database()").fetchone()[0]
