"""Landing folder → raw layer of the working DuckDB database.

Every partition `<landing>/<extract>/<business_date>/` with a `_manifest.json` is compared
with what was loaded before (by the manifest's sha256). New or changed partitions are
verified (every file's sha256 and record count) and read into temp tables; the row rules
(rules.py) mark the unusable rows. Partitions are then written in batches, each batch in ONE
transaction: a changed partition's earlier rows are deleted from `raw.<extract>` and
`meta.quarantine`, the usable rows inserted into `raw.<extract>`, the unusable ones into
`meta.quarantine`, one row per partition appended to `meta.load_log` and upserted into
`meta.partitions`. A crash leaves every partition of the batch as it was; the next run loads
them again. A rejected partition is found before any write. Files are read by DuckDB
(streaming); only GB18030 files are transcoded to UTF-8 by Python first (DuckDB's reader has
no GB18030 without a network extension).

Checking many small partitions one by one costs more in query planning than in reading, so
the rules run once per extract per batch over all its staged partitions (`_seq` tells them
apart; a conflicting duplicate is one within a partition), and the batch's UTF-8 CSV files of
one extract are read by one read_csv (see _read_planned; docs/architecture.md, "How the loader
writes").
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from powercrm.extracts import EXTRACTS, Extract
from powercrm.ingest.landing import (  # noqa: F401  (re-exported: the loader's interface)
    DATE_DIR,
    LINEAGE,
    LoadSummary,
    Partition,
    PartitionResult,
    RejectedPartition,
    discover,
    read_manifest,
    sha256_file,
)
from powercrm.ingest.landing import open_text as _open_text  # noqa: F401
from powercrm.ingest.landing import read_header as _header
from powercrm.ingest.rules import fingerprint_sql, key_sql, lit, q, raw_text_sql, reason_sql
from powercrm.testhooks import pause_point

META_DDL = """
create schema if not exists raw;
create schema if not exists meta;
create table if not exists meta.load_log (
    load_id varchar, run_id varchar, extract varchar, business_date date, manifest_sha256 varchar,
    files varchar, rows_in bigint, rows_loaded bigint, rows_quarantined bigint, status varchar,
    message varchar, loaded_at timestamp, seconds double
);
create table if not exists meta.partitions (
    extract varchar, business_date date, manifest_sha256 varchar, status varchar,
    rows_in bigint, rows_loaded bigint, rows_quarantined bigint, loaded_at timestamp,
    primary key (extract, business_date)
);
create table if not exists meta.quarantine (
    extract varchar, business_date date, file varchar, record_no bigint, reason varchar,
    raw_text varchar, key_text varchar, manifest_sha256 varchar, loaded_at timestamp
);
"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(META_DDL)
    for ext in EXTRACTS.values():
        cols = ", ".join(f"{q(c)} varchar" for c in ext.column_names)
        con.execute(
            f"create table if not exists raw.{q(ext.name)} ({cols}, _extract varchar, _business_date date, "
            f"_file varchar, _record_no bigint, _manifest_sha256 varchar, _loaded_at timestamp)"
        )


def _transcode(path: Path, tmpdir: str) -> Path:
    """GB18030 (optionally gzipped) → UTF-8 temp file, streamed in 1 MiB chunks."""
    out = Path(tmpdir) / (path.name.removesuffix(".gz") + ".utf8.csv")
    decoder = codecs.getincrementaldecoder("gb18030")(errors="strict")
    src = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    with src, open(out, "w", encoding="utf-8", newline="") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return out


def _stage_table(ext: Extract) -> str:
    return f"_stage_{ext.name}"


def _create_stage(con: duckdb.DuckDBPyConnection, ext: Extract) -> str:
    table = _stage_table(ext)
    cols = ", ".join(f"{q(c)} varchar" for c in ext.column_names)
    # `_fid`: the file (see _Files); `_record_no`: the row's number in the read that staged it,
    # the file's first record being _Files.first[_fid]; NULL for a batched read, whose rows are
    # numbered by their position in this table (_rec_no); `_reason`, `_key`: the row rules,
    # applied as the rows are read (rules.reason_sql / key_sql)
    con.execute(f"create temp table if not exists {table} ({cols}, _fid integer, _record_no bigint, _seq integer, "
                f"_reason varchar, _key varchar)")
    return table


# A staged row's number in its read. A file read alone numbers its records (`_record_no`); a
# batched read leaves it NULL and its rows are numbered by `rowid`, their position in the stage
# table: the rows of one `insert … select … from read_csv([files])` are appended in insertion
# order (files in list order, records in file order), and a `row_number() over ()` in that read
# would be a streaming window that runs the whole read and the row rules on ONE thread (measured:
# 19.5 M bill lines read in 11.4 s with it, 6.0 s without). Deletes and the conflict update leave
# the other rows' rowid as it was.
def _rec_no(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return f"coalesce({a}_record_no, {a}rowid)"


def _insert_checked_sql(table: str, ext: Extract, rows_sql: str) -> str:
    """The insert of `rows_sql` (the extract's columns by name, then _fid, _record_no, _seq) into
    the stage table with the row rules' reason and key."""
    return f"insert into {table} select *, {reason_sql(ext)}, {key_sql(ext)} from ({rows_sql})"


def _insert_checked(con: duckdb.DuckDBPyConnection, table: str, ext: Extract, rows_sql: str) -> int:
    """Run `_insert_checked_sql`. -> rows inserted."""
    return con.execute(_insert_checked_sql(table, ext, rows_sql)).fetchone()[0]


def _keeps_order(con: duckdb.DuckDBPyConnection, table: str, ext: Extract, rows_sql: str) -> bool:
    """Does DuckDB plan the insert as an order-keeping BATCH_INSERT (whose rows' positions can
    number the records, _rec_no)? A join or an aggregate in the plan makes it a plain parallel
    INSERT, which appends the threads' rows in any order. The rules avoid that (rules.py,
    Dialect.not_in); this check keeps a future rule from numbering records wrongly unnoticed."""
    plan = con.execute(f"explain (format json) {_insert_checked_sql(table, ext, rows_sql)}").fetchall()[0][1]
    return json.loads(plan)[0]["name"] == "BATCH_INSERT"


def _named(ext: Extract, exprs: str) -> str:
    """`c0, c3, …` (one per extract column) → `c0 as "col", …`."""
    return ", ".join(f"{e} as {q(c)}" for e, c in zip(exprs.split(", "), ext.column_names, strict=True))


class _Files:
    """The batch's staged files: id -> label, and the number its first record got in its read
    (1 for a file read alone; a batched read numbers the records of all its files in a row)."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self.first: dict[int, int] = {}

    def add(self, label: str) -> int:
        self.labels.append(label)
        return len(self.labels) - 1

    def values_sql(self, fids: list[int]) -> str:
        return "(values " + ", ".join(
            f"({i}, {lit(self.labels[i])}, {self.first.get(i, 1) - 1})" for i in fids) + ") as f(_fid, _file, _off)"


CSV_OPTIONS = ("header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
               "encoding = 'utf-8', strict_mode = true, max_line_size = 16777216")


def _csv_columns(header: list[str]) -> str:
    return "{" + ", ".join(f"{lit(f'c{i}')}: 'VARCHAR'" for i in range(len(header))) + "}"


def _csv_select(ext: Extract, header: list[str]) -> str:
    return ", ".join((f"c{header.index(c)}" if c in header else "cast(null as varchar)") for c in ext.column_names)


def _precheck_file(ext: Extract, part: Partition, entry: dict) -> tuple[str, Path, int, str, list[str] | None]:
    """What is checked before a file is read: it exists, the manifest's row count is a number,
    the sha256 agrees, and a CSV's header has the key columns.
    -> (label, path, expected records, encoding, CSV header or None for parquet)."""
    name = entry["name"]
    path = part.path / name
    label = f"{part.extract}/{part.business_date.isoformat()}/{name}"
    if not path.is_file():
        raise RejectedPartition(f"{label}: file listed in the manifest is missing")
    try:
        expected_rows = int(entry["rows"])
    except (TypeError, ValueError):
        raise RejectedPartition(f"{label}: manifest rows {entry['rows']!r} is not a number") from None
    digest = sha256_file(path)
    if digest != str(entry["sha256"]).lower():
        raise RejectedPartition(f"{label}: sha256 {digest[:12]}… does not match the manifest's "
                                f"{str(entry['sha256'])[:12]}… (file changed or truncated)")
    encoding = str(entry.get("encoding", "utf-8")).lower()
    header = None
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        try:
            header = _header(path, encoding)
        except UnicodeDecodeError as e:
            raise RejectedPartition(f"{label}: not valid {encoding} ({e.reason} at byte {e.start})") from e
        except (OSError, EOFError) as e:  # e.g. a .gz that is not gzip
            raise RejectedPartition(f"{label}: cannot be read ({e})") from e
        if encoding != "gb18030":  # GB18030: after the transcoding (its errors come first)
            _check_header(ext, label, header)
    elif not name.endswith(".parquet"):
        raise RejectedPartition(f"{label}: unsupported file type (expected .csv, .csv.gz or .parquet)")
    return label, path, expected_rows, encoding, header


def _check_header(ext: Extract, label: str, header: list[str]) -> None:
    if not header:
        raise RejectedPartition(f"{label}: empty file (no header row)")
    missing_key = [c for c in ext.key if c not in header]
    if missing_key:
        raise RejectedPartition(f"{label}: header lacks key column(s) {', '.join(missing_key)}")


def _stage_file(con: duckdb.DuckDBPyConnection, ext: Extract, part: Partition, entry: dict,
                tmpdir: str, seq: int, files: _Files) -> tuple[str, int]:
    """Append one file's records to the extract's stage table (all text, `_fid`, `_record_no`,
    `_seq`). -> (file label, records). Raises RejectedPartition when the file disagrees with its
    manifest; the caller then removes the partition's staged rows."""
    label, path, expected_rows, encoding, header = _precheck_file(ext, part, entry)
    return _read_file(con, ext, label, path, expected_rows, encoding, header, entry, tmpdir, seq, files.add(label))


def _read_file(con: duckdb.DuckDBPyConnection, ext: Extract, label: str, path: Path, expected_rows: int,
               encoding: str, header: list[str] | None, entry: dict, tmpdir: str, seq: int,
               fid: int) -> tuple[str, int]:
    """One (prechecked) file read alone into the stage table, its rows tagged `fid`."""
    table = _create_stage(con, ext)
    spec = ext.column_names
    if header is None:  # parquet
        try:
            have = [r[0].lower() for r in con.execute(
                f"describe select * from read_parquet({lit(str(path))})").fetchall()]
        except duckdb.Error as e:
            raise RejectedPartition(f"{label}: cannot be read as parquet: {str(e).splitlines()[0][:300]}") from e
        sel = ", ".join(
            (f"cast({q(c)} as varchar)" if c in have else "cast(null as varchar)") for c in spec)
        rows = _insert_checked(con, table, ext,
                               f"select {_named(ext, sel)}, {fid} as _fid, file_row_number + 1 as _record_no, "
                               f"{seq} as _seq from read_parquet({lit(str(path))}, file_row_number = true)")
    else:
        src = path
        try:
            if encoding == "gb18030":
                src = _transcode(path, tmpdir)
        except UnicodeDecodeError as e:
            raise RejectedPartition(f"{label}: not valid {encoding} ({e.reason} at byte {e.start})") from e
        except (OSError, EOFError) as e:  # e.g. a .gz that is not gzip
            raise RejectedPartition(f"{label}: cannot be read ({e})") from e
        if encoding == "gb18030":
            try:
                _check_header(ext, label, header)
            except RejectedPartition:
                src.unlink(missing_ok=True)
                raise
        comp = "gzip" if src.name.endswith(".gz") else "none"
        try:
            # insertion order is preserved, so row_number() over () is the record's position in the file
            rows = _insert_checked(
                con, table, ext,
                f"select {_named(ext, _csv_select(ext, header))}, {fid} as _fid, row_number() over () as _record_no, "
                f"{seq} as _seq from read_csv({lit(str(src))}, columns = {_csv_columns(header)}, "
                f"compression = '{comp}', {CSV_OPTIONS})")
        except duckdb.Error as e:
            msg = str(e).splitlines()[0][:300]
            raise RejectedPartition(f"{label}: cannot be parsed as CSV: {msg}") from e
        finally:
            if src != path:
                src.unlink(missing_ok=True)
    if rows != expected_rows:
        raise RejectedPartition(f"{label}: {rows} records in the file, manifest says {entry['rows']}")
    return label, rows


@dataclass
class _Staged:
    """A partition whose files are in its extract's stage table (rows `_seq` = seq), not yet written."""

    partition: Partition
    seq: int
    files: list[str]
    rows_in: int
    seconds: float
    replace: bool  # an earlier delivery is in force: delete it first
    rows_quarantined: int = 0


def _stage_partition(con: duckdb.DuckDBPyConnection, part: Partition, seq: int, tmpdir: str,
                     replace: bool, files: _Files) -> _Staged:
    """Read every file of the partition into the stage table (autocommit, temp tables only:
    nothing in the database changes, and a rejection cannot abort a transaction)."""
    t0 = time.perf_counter()
    ext = EXTRACTS[part.extract]
    labels: list[str] = []
    rows_in = 0
    try:
        for entry in read_manifest(part):
            label, rows = _stage_file(con, ext, part, entry, tmpdir, seq, files)
            labels.append(label)
            rows_in += rows
    except RejectedPartition:
        if _has_temp(con, _stage_table(ext)):
            con.execute(f"delete from {_stage_table(ext)} where _seq = ?", [seq])
        raise
    return _Staged(part, seq, labels, rows_in, time.perf_counter() - t0, replace)


def _has_temp(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return con.execute("select count(*) from duckdb_tables() where temporary and table_name = ?",
                       [table]).fetchone()[0] > 0


@dataclass
class _Job:
    """A prechecked UTF-8 CSV file waiting for its batched read."""

    entry: dict
    label: str
    path: Path
    expected_rows: int
    header: list[str]
    seq: int
    fid: int = -1
    error: str | None = None


@dataclass
class _Planned:
    """A partition whose files are all prechecked UTF-8 CSV (.csv / .csv.gz): read at the batch's end."""

    partition: Partition
    seq: int
    jobs: list[_Job]
    seconds: float
    replace: bool

    @property
    def expected_rows(self) -> int:
        return sum(j.expected_rows for j in self.jobs)


def _plan_partition(part: Partition, seq: int, replace: bool) -> _Planned | None:
    """Precheck every file of the partition (sha256, header) for a batched read. None: the partition
    has a GB18030 or parquet file, or a file fails its precheck; it is staged on its own
    (_stage_partition), which gives the same message as ever. RejectedPartition: a bad manifest."""
    t0 = time.perf_counter()
    ext = EXTRACTS[part.extract]
    entries = read_manifest(part)
    jobs: list[_Job] = []
    for entry in entries:
        name = str(entry["name"])
        if not (name.endswith(".csv") or name.endswith(".csv.gz")) \
                or str(entry.get("encoding", "utf-8")).lower() == "gb18030":
            return None
        try:
            label, path, expected_rows, _, header = _precheck_file(ext, part, entry)
        except RejectedPartition:
            return None
        jobs.append(_Job(entry, label, path, expected_rows, header, seq))
    return _Planned(part, seq, jobs, time.perf_counter() - t0, replace)


def _read_planned(con: duckdb.DuckDBPyConnection, planned: list[_Planned], files: _Files,
                  tmpdir: str) -> list[_Staged | RejectedPartition]:
    """Read the planned partitions' files: those of one extract with the same header and
    compression by ONE read_csv (per-file planning and reading cost more than the reading of
    the small daily files). The rows' positions in the stage table (_rec_no) number the records
    of the whole read in order (insertion order is preserved: files in list order, records in file order); a file's
    record number is that minus the number its first record got (_Files.first). When a batched
    read fails (a file that is not valid CSV), its files are read one by one, so the bad one is
    rejected alone with its own message."""
    t0 = time.perf_counter()
    groups: dict[tuple, list[_Job]] = {}
    for pl in planned:
        for job in pl.jobs:
            job.fid = files.add(job.label)
            comp = "gzip" if job.path.name.endswith(".gz") else "none"
            groups.setdefault((pl.partition.extract, tuple(job.header), comp), []).append(job)
    batched: set[int] = set()
    for (name, header, comp), jobs in groups.items():
        ext = EXTRACTS[name]
        table = _create_stage(con, ext)
        paths = "[" + ", ".join(lit(str(j.path)) for j in jobs) + "]"
        # a file's id and partition by its position in the list: `filename` is constant over a
        # chunk, so this costs one lookup per chunk; a join to a table of the files would not
        # keep the rows in insertion order (measured: files interleaved)
        pos = f"list_position({paths}, filename)"
        fid_sql = "[" + ", ".join(str(j.fid) for j in jobs) + f"][{pos}]"
        seq_sql = "[" + ", ".join(str(j.seq) for j in jobs) + f"][{pos}]"
        read = (f"read_csv({paths}, columns = {_csv_columns(list(header))}, compression = '{comp}', "
                f"filename = true, {CSV_OPTIONS})")
        rows_sql = (f"select {_named(ext, _csv_select(ext, list(header)))}, {fid_sql} as _fid, "
                    f"cast(null as bigint) as _record_no, {seq_sql} as _seq from {read}")
        try:
            if not _keeps_order(con, table, ext, rows_sql):  # number the records on one thread
                rows_sql = (f"select {_named(ext, _csv_select(ext, list(header)))}, {fid_sql} as _fid, "
                            f"row_number() over () as _record_no, {seq_sql} as _seq from {read}")
            _insert_checked(con, table, ext, rows_sql)
            batched.update(j.fid for j in jobs)
        except duckdb.Error:
            for job in jobs:  # one by one: the file that cannot be parsed is named, the others load
                try:
                    _read_file(con, ext, job.label, job.path, job.expected_rows, "utf-8", list(header),
                               job.entry, tmpdir, job.seq, job.fid)
                except RejectedPartition as e:  # (a failed statement leaves no row behind)
                    job.error = str(e)
    counts: dict[int, int] = {}
    for name in {pl.partition.extract for pl in planned}:
        ext = EXTRACTS[name]
        if not _has_temp(con, _stage_table(ext)):
            continue
        fids = [j.fid for pl in planned if pl.partition.extract == name for j in pl.jobs]
        for fid, n, lo, hi in con.execute(
                f"select _fid, count(*), min({_rec_no()}), max({_rec_no()}) from {_stage_table(ext)} "
                f"where _fid between ? and ? group by _fid", [min(fids), max(fids)]).fetchall():
            if hi - lo + 1 != n:  # the files of a read were interleaved: the numbering would be wrong
                raise RuntimeError(f"{files.labels[fid]}: records {lo}..{hi} of a multi-file read are not "
                                   f"contiguous ({n} records)")
            counts[fid] = n
            files.first[fid] = lo
    out: list[_Staged | RejectedPartition] = []
    total = sum(pl.expected_rows for pl in planned) or 1
    read_seconds = time.perf_counter() - t0
    for pl in planned:
        error = None
        for job in pl.jobs:  # the first file (in the manifest's order) that disagrees
            rows = counts.get(job.fid, 0)
            if job.error is None and rows != job.expected_rows:
                job.error = f"{job.label}: {rows} records in the file, manifest says {job.entry['rows']}"
            if job.error is not None:
                error = job.error
                break
        if error is not None:
            con.execute(f"delete from {_stage_table(EXTRACTS[pl.partition.extract])} where _seq = ?", [pl.seq])
            out.append(RejectedPartition(error))
        else:
            seconds = pl.seconds + read_seconds * pl.expected_rows / total
            out.append(_Staged(pl.partition, pl.seq, [j.label for j in pl.jobs], pl.expected_rows, seconds,
                               pl.replace))
    return out


def _check(con: duckdb.DuckDBPyConnection, ext: Extract, staged: list[_Staged]) -> tuple[str, list[int]]:
    """Finish the row rules on the extract's stage table (each row's own reason is there since
    it was read): the conflicting duplicates. -> (the table, the files' ids in it)."""
    stage = _stage_table(ext)
    # two different rows with the same key in one partition: both are unusable (rows unusable
    # for another reason aside). The fingerprint is computed for the few rows whose key repeats.
    con.execute(
        f"update {stage} c set _reason = 'conflicting duplicate key ' || c._key "
        f"from (select _seq, _key from {stage} where _reason is null and (_seq, _key) in ("
        f"select _seq, _key from {stage} where _reason is null group by _seq, _key having count(*) > 1) "
        f"group by _seq, _key having min({fingerprint_sql(ext)}) <> max({fingerprint_sql(ext)})) d "
        f"where c._seq = d._seq and c._key = d._key and c._reason is null")
    counts = dict(con.execute(f"select _seq, count(*) from {stage} where _reason is not null group by 1").fetchall())
    for st in staged:
        st.rows_quarantined = counts.get(st.seq, 0)
    fids = [r[0] for r in con.execute(f"select distinct _fid from {stage}").fetchall()]
    return stage, fids


def _write(con: duckdb.DuckDBPyConnection, ext: Extract, checked: tuple[str, list[int]], staged: list[_Staged],
           files: _Files, loaded_at: datetime) -> None:
    """Inside the batch transaction: the extract's staged partitions replace theirs in raw and quarantine."""
    table, fids = checked
    for st in staged:
        if st.replace:  # a redelivery (or a forced reload): the earlier delivery goes, never appended twice
            con.execute(f"delete from raw.{q(ext.name)} where _business_date = ?", [st.partition.business_date])
            con.execute("delete from meta.quarantine where extract = ? and business_date = ?",
                        [ext.name, st.partition.business_date])
    if not fids:
        # every staged partition of the extract is empty (a header-only file, `rows: 0` in its
        # manifest, e.g. a day without surveys): nothing to insert; a redelivery's deletes stand
        return
    parts = "(values " + ", ".join(
        f"({st.seq}, date {lit(st.partition.business_date.isoformat())}, {lit(st.partition.manifest_sha256 or '')})"
        for st in staged) + ") as p(_seq, _business_date, _manifest_sha256)"
    cols = ", ".join(f"c.{q(c)}" for c in ext.column_names)
    con.execute(
        f"insert into raw.{q(ext.name)} select {cols}, ?, p._business_date, f._file, {_rec_no('c')} - f._off, "
        f"p._manifest_sha256, ? from {table} c join {parts} using (_seq) join {files.values_sql(fids)} using (_fid) "
        f"where c._reason is null",
        [ext.name, loaded_at])
    if any(st.rows_quarantined for st in staged):
        con.execute(
            f"insert into meta.quarantine select ?, p._business_date, f._file, c._rec - f._off, c._reason, "
            f"{raw_text_sql(ext)}, c._key, p._manifest_sha256, ? "
            f"from (select *, {_rec_no()} as _rec from {table} where _reason is not null) c join {parts} using (_seq) "
            f"join {files.values_sql(fids)} using (_fid) "
            f"order by c._seq, f._file, c._rec",
            [ext.name, loaded_at])



def _record(con: duckdb.DuckDBPyConnection, r: PartitionResult, run_id: str, loaded_at: datetime,
            files: list[str], seconds: float, pending: list[list] | None = None) -> None:
    """The partition's row of meta.load_log (and meta.partitions when LOADED): appended to
    `pending` (written by `_flush_records`), or written at once without it."""
    p = r.partition
    row = [f"{run_id}:{p.label}", run_id, p.extract, p.business_date, p.manifest_sha256, ";".join(files),
           r.rows_in, r.rows_loaded, r.rows_quarantined, r.status, r.message, loaded_at, seconds]
    if pending is not None:
        pending.append(row)
    else:
        _flush_records(con, [row])


LOAD_LOG_SCHEMA = (("load_id", "string"), ("run_id", "string"), ("extract", "string"), ("business_date", "date32"),
                   ("manifest_sha256", "string"), ("files", "string"), ("rows_in", "int64"),
                   ("rows_loaded", "int64"), ("rows_quarantined", "int64"), ("status", "string"),
                   ("message", "string"), ("loaded_at", "timestamp"), ("seconds", "float64"))


def _flush_records(con: duckdb.DuckDBPyConnection, rows: list[list]) -> None:
    """The batch's load_log rows (and meta.partitions for the loaded ones), passed as one Arrow
    table: binding thousands of parameters, or a long VALUES list, costs ~50 ms a batch."""
    if not rows:
        return
    import pyarrow as pa

    def typ(name: str) -> pa.DataType:
        return pa.timestamp("us") if name == "timestamp" else getattr(pa, name)()

    con.register("_load_log", pa.table({name: pa.array([r[i] for r in rows], type=typ(t))
                                        for i, (name, t) in enumerate(LOAD_LOG_SCHEMA)}))
    try:
        con.execute("insert into meta.load_log select * from _load_log")
        # a rejected redelivery leaves the earlier delivery in force
        con.execute("insert or replace into meta.partitions select extract, business_date, manifest_sha256, status, "
                    "rows_in, rows_loaded, rows_quarantined, loaded_at from _load_log where status = 'LOADED'")
    finally:
        con.unregister("_load_log")


# a batch is checked, written and committed in one transaction once it holds this many partitions or rows.
# A partition whose files are read batched (_Planned: its manifest's row count is known before
# any read) that would take the batch beyond BATCH_ROWS starts the next batch instead. A gzipped
# file is read, and its rows checked, by ONE thread: a batch needs two big files to use both
# cores (1 000 000 customers: a billing day's bill_item file holds ≈ 5 M rows; with batches
# "up to 5 M rows, then flush" each such file was read alone, on one core; the 119 M bill lines
# loaded alone, same machine: 286.3 → 218.8 s, peak RSS 3.91 → 4.04 GiB; docs/benchmarks.md).
# The stage stays within the loader's memory limit (it spills beyond).
BATCH_PARTITIONS = 250
BATCH_ROWS = 10_000_000


def load_landing(con: duckdb.DuckDBPyConnection, landing: Path, run_id: str,
                 progress: Callable[[int, int, PartitionResult], None] | None = None,
                 only: set[str] | None = None, force_from: date | None = None) -> LoadSummary:
    """Load every new or changed partition. `force_from` reloads partitions from that business date on.

    `progress(done, total, result)` is called for every partition once its batch is committed.
    """
    ensure_schema(con)
    t0 = time.perf_counter()
    summary = LoadSummary()
    known = {(e, d): (h, s) for e, d, h, s in con.execute(
        "select extract, business_date, manifest_sha256, status from meta.partitions").fetchall()}
    parts = []
    for part in discover(landing, summary):
        if only and part.extract not in only:
            continue
        summary.found += 1
        if part.manifest_sha256 is None:
            summary.without_manifest.append(part.label)
            continue
        parts.append(part)
    loaded_at = datetime.now().replace(microsecond=0)
    batch: list[tuple[Partition, _Staged | _Planned | PartitionResult]] = []
    batch_rows = 0
    done = 0
    files = _Files()

    def flush() -> None:
        nonlocal batch, batch_rows, done
        if not batch:
            return
        planned = [item for _, item in batch if isinstance(item, _Planned)]
        if planned:
            read = iter(_read_planned(con, planned, files, tmpdir))
            for i, (part, item) in enumerate(batch):
                if isinstance(item, _Planned):
                    st = next(read)
                    batch[i] = (part, PartitionResult(part, "REJECTED", message=str(st))
                                if isinstance(st, RejectedPartition) else st)
        by_ext: dict[str, list[_Staged]] = {}
        for _, item in batch:
            if isinstance(item, _Staged):
                by_ext.setdefault(item.partition.extract, []).append(item)
        checked = {name: _check(con, EXTRACTS[name], staged) for name, staged in by_ext.items()}
        results: list[PartitionResult] = []
        for _, item in batch:
            if isinstance(item, _Staged):
                results.append(PartitionResult(item.partition, "LOADED", item.rows_in,
                                               item.rows_in - item.rows_quarantined, item.rows_quarantined))
            else:
                results.append(item)
        pending: list[list] = []
        con.execute("begin transaction")
        try:
            for name, staged in by_ext.items():
                _write(con, EXTRACTS[name], checked[name], staged, files, loaded_at)
                pause_point("load")  # crash tests: killed here, the batch's transaction must vanish
            for (_, item), result in zip(batch, results, strict=True):
                if isinstance(item, _Staged):
                    _record(con, result, run_id, loaded_at, item.files, item.seconds, pending)
                else:
                    _record(con, result, run_id, loaded_at, [], 0.0, pending)
            _flush_records(con, pending)
            con.execute("commit")
        except BaseException:
            try:
                con.execute("rollback")
            except duckdb.Error:  # a failed commit has rolled back already; keep the original error
                pass
            raise
        finally:
            for table, _ in checked.values():
                con.execute(f"drop table if exists {table}")
        for result in results:
            summary.results.append(result)
            done += 1
            if progress:
                progress(done, len(parts), result)
        batch, batch_rows = [], 0

    with tempfile.TemporaryDirectory(prefix="powercrm-") as tmpdir:
        try:
            for seq, part in enumerate(parts):
                prev = known.get((part.extract, part.business_date))
                forced = force_from is not None and part.business_date >= force_from
                if prev and prev[0] == part.manifest_sha256 and prev[1] == "LOADED" and not forced:
                    batch.append((part, PartitionResult(part, "UNCHANGED", message="manifest unchanged since last load")))
                else:
                    try:
                        pl = _plan_partition(part, seq, replace=prev is not None)
                        if pl is not None and batch_rows and batch_rows + pl.expected_rows > BATCH_ROWS:
                            flush()  # this partition would take the batch beyond BATCH_ROWS: it starts the next
                        st = pl or _stage_partition(con, part, seq, tmpdir, replace=prev is not None, files=files)
                    except RejectedPartition as e:
                        batch.append((part, PartitionResult(part, "REJECTED", message=str(e))))
                    else:
                        batch.append((part, st))
                        batch_rows += st.expected_rows if isinstance(st, _Planned) else st.rows_in
                if len(batch) >= BATCH_PARTITIONS or batch_rows >= BATCH_ROWS:
                    flush()
            flush()
        finally:  # after an exception: drop what was staged
            for ext in EXTRACTS.values():
                for table in (_stage_table(ext), f"_checked_{ext.name}"):
                    con.execute(f"drop table if exists {table}")
    summary.seconds = time.perf_counter() - t0
    return summary


def data_date(con: duckdb.DuckDBPyConnection) -> date | None:
    row = con.execute("select max(business_date) from meta.partitions where status = 'LOADED'").fetchone()
    return row[0] if row else None


def env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default)
