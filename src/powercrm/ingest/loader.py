"""Landing folder → raw layer of the working DuckDB database.

Every partition `<landing>/<extract>/<business_date>/` with a `_manifest.json` is compared
with what was loaded before (by the manifest's sha256). New or changed partitions are
verified (every file's sha256 and record count) and loaded in ONE transaction each: the
partition's earlier rows are deleted from `raw.<extract>` and `meta.quarantine`, the usable
rows inserted into `raw.<extract>`, the unusable ones into `meta.quarantine`, and a row
appended to `meta.load_log`. A crash mid-partition leaves the partition as it was; the next
run loads it again. Files are read by DuckDB (streaming); only GB18030 files are transcoded
to UTF-8 by Python first (DuckDB's reader has no GB18030 without a network extension).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from powercrm.extracts import EXTRACTS, Extract
from powercrm.ingest.rules import fingerprint_sql, key_sql, lit, q, raw_text_sql, reason_sql
from powercrm.testhooks import pause_point

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LINEAGE = ("_extract", "_business_date", "_file", "_record_no", "_manifest_sha256", "_loaded_at")


class RejectedPartition(Exception):
    """A partition that must not be loaded; the message names the file and what disagreed."""


@dataclass
class Partition:
    extract: str
    business_date: date
    path: Path
    manifest_sha256: str | None  # None: no manifest yet (still being written)

    @property
    def label(self) -> str:
        return f"{self.extract}/{self.business_date.isoformat()}"


@dataclass
class PartitionResult:
    partition: Partition
    status: str  # LOADED | REJECTED | UNCHANGED
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""


@dataclass
class LoadSummary:
    found: int = 0
    without_manifest: list[str] = field(default_factory=list)
    results: list[PartitionResult] = field(default_factory=list)
    unknown_folders: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def by_status(self, status: str) -> list[PartitionResult]:
        return [r for r in self.results if r.status == status]

    @property
    def rejected(self) -> list[PartitionResult]:
        return self.by_status("REJECTED")


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


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def discover(landing: Path, summary: LoadSummary | None = None) -> Iterator[Partition]:
    """Every partition folder of the landing folder, in (extract, business_date) order."""
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    for ext_dir in sorted(p for p in landing.iterdir() if p.is_dir()):
        if ext_dir.name not in EXTRACTS:
            if summary is not None and not ext_dir.name.startswith((".", "_")):
                summary.unknown_folders.append(ext_dir.name)
            continue
        for part_dir in sorted(p for p in ext_dir.iterdir() if p.is_dir()):
            if not DATE_DIR.match(part_dir.name):
                if summary is not None:
                    summary.unknown_folders.append(f"{ext_dir.name}/{part_dir.name}")
                continue
            try:
                bdate = date.fromisoformat(part_dir.name)
            except ValueError:
                if summary is not None:
                    summary.unknown_folders.append(f"{ext_dir.name}/{part_dir.name}")
                continue
            manifest = part_dir / "_manifest.json"
            digest = sha256_file(manifest) if manifest.is_file() else None
            yield Partition(ext_dir.name, bdate, part_dir, digest)


def read_manifest(part: Partition) -> list[dict]:
    mpath = part.path / "_manifest.json"
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RejectedPartition(f"{mpath}: manifest is not valid JSON ({e})") from e
    if manifest.get("extract") not in (None, part.extract):
        raise RejectedPartition(f"{mpath}: manifest names extract {manifest.get('extract')!r}, folder is {part.extract}")
    if manifest.get("business_date") not in (None, part.business_date.isoformat()):
        raise RejectedPartition(
            f"{mpath}: manifest business_date {manifest.get('business_date')} differs from the folder's")
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        raise RejectedPartition(f"{mpath}: manifest lists no files")
    for f in files:
        if not isinstance(f, dict) or "name" not in f or "rows" not in f or "sha256" not in f:
            raise RejectedPartition(f"{mpath}: every file entry needs name, rows and sha256")
        enc = str(f.get("encoding", "utf-8")).lower().replace("_", "-")
        if enc not in ("utf-8", "utf8", "gb18030"):
            raise RejectedPartition(f"{mpath}: encoding {f.get('encoding')!r} of {f['name']} is not utf-8 or gb18030")
    return files


def _open_text(path: Path, encoding: str) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig" if encoding.startswith("utf") else "gb18030", newline="")


def _header(path: Path, encoding: str) -> list[str]:
    with _open_text(path, encoding) as f:
        try:
            row = next(csv.reader(f))
        except StopIteration:
            return []
    return [h.strip().lower() for h in row]


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


def _stage_file(con: duckdb.DuckDBPyConnection, ext: Extract, part: Partition, entry: dict,
                tmpdir: str) -> tuple[str, int]:
    """Read one file into temp table `_in` (all text, spec columns, `_record_no`). -> (file label, rows)."""
    name = entry["name"]
    path = part.path / name
    label = f"{part.extract}/{part.business_date.isoformat()}/{name}"
    if not path.is_file():
        raise RejectedPartition(f"{label}: file listed in the manifest is missing")
    digest = sha256_file(path)
    if digest != str(entry["sha256"]).lower():
        raise RejectedPartition(f"{label}: sha256 {digest[:12]}… does not match the manifest's "
                                f"{str(entry['sha256'])[:12]}… (file changed or truncated)")
    encoding = str(entry.get("encoding", "utf-8")).lower()
    con.execute("drop table if exists _in")
    spec = ext.column_names
    if name.endswith(".parquet"):
        have = [r[0].lower() for r in con.execute(
            f"describe select * from read_parquet({lit(str(path))})").fetchall()]
        sel = ", ".join(
            (f"cast({q(c)} as varchar) as {q(c)}" if c in have else f"cast(null as varchar) as {q(c)}") for c in spec)
        con.execute(f"create temp table _in as select {sel}, file_row_number + 1 as _record_no "
                    f"from read_parquet({lit(str(path))}, file_row_number = true)")
    elif name.endswith(".csv") or name.endswith(".csv.gz"):
        src = path
        if encoding == "gb18030":
            src = _transcode(path, tmpdir)
        try:
            header = _header(path, encoding)
        except UnicodeDecodeError as e:
            raise RejectedPartition(f"{label}: not valid {encoding} ({e.reason} at byte {e.start})") from e
        if not header:
            raise RejectedPartition(f"{label}: empty file (no header row)")
        missing_key = [c for c in ext.key if c not in header]
        if missing_key:
            raise RejectedPartition(f"{label}: header lacks key column(s) {', '.join(missing_key)}")
        cols = "{" + ", ".join(f"{lit(f'c{i}')}: 'VARCHAR'" for i in range(len(header))) + "}"
        comp = "gzip" if src.name.endswith(".gz") else "none"
        sel = ", ".join(
            (f"c{header.index(c)} as {q(c)}" if c in header else f"cast(null as varchar) as {q(c)}") for c in spec)
        try:
            # insertion order is preserved, so row_number() over () is the record's position in the file
            con.execute(
                f"create temp table _in as select {sel}, row_number() over () as _record_no "
                f"from read_csv({lit(str(src))}, header = true, "
                f"auto_detect = false, columns = {cols}, delim = ',', quote = '\"', escape = '\"', "
                f"compression = '{comp}', encoding = 'utf-8', strict_mode = true, max_line_size = 16777216)")
        except duckdb.Error as e:
            msg = str(e).splitlines()[0][:300]
            raise RejectedPartition(f"{label}: cannot be parsed as CSV: {msg}") from e
    else:
        raise RejectedPartition(f"{label}: unsupported file type (expected .csv, .csv.gz or .parquet)")
    rows = con.execute("select count(*) from _in").fetchone()[0]
    if rows != int(entry["rows"]):
        raise RejectedPartition(f"{label}: {rows} records in the file, manifest says {entry['rows']}")
    return label, rows


def load_partition(con: duckdb.DuckDBPyConnection, part: Partition, run_id: str,
                   loaded_at: datetime) -> PartitionResult:
    ext = EXTRACTS[part.extract]
    t0 = time.perf_counter()
    files = read_manifest(part)
    staged: list[tuple[str, int]] = []
    with tempfile.TemporaryDirectory(prefix="powercrm-") as tmpdir:
        con.execute("begin transaction")
        try:
            con.execute(f"delete from raw.{q(ext.name)} where _business_date = ?", [part.business_date])
            con.execute("delete from meta.quarantine where extract = ? and business_date = ?",
                        [ext.name, part.business_date])
            for entry in files:
                label, rows = _stage_file(con, ext, part, entry, tmpdir)
                staged.append((label, rows))
                _split(con, ext, part, label, loaded_at)
            rows_in = sum(r for _, r in staged)
            quarantined = con.execute(
                "select count(*) from meta.quarantine where extract = ? and business_date = ?",
                [ext.name, part.business_date]).fetchone()[0]
            result = PartitionResult(part, "LOADED", rows_in, rows_in - quarantined, quarantined)
            pause_point("load")  # crash tests: killed here, the partition's transaction must vanish
            _record(con, result, run_id, loaded_at, [s[0] for s in staged], time.perf_counter() - t0)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            con.execute("drop table if exists _in")
    return result


def _split(con: duckdb.DuckDBPyConnection, ext: Extract, part: Partition, label: str, loaded_at: datetime) -> None:
    """`_in` → good rows into raw.<extract>, unusable rows into meta.quarantine."""
    con.execute("drop table if exists _checked")
    con.execute(
        f"create temp table _checked as select *, {reason_sql(ext)} as _reason, {key_sql(ext)} as _key, "
        f"{fingerprint_sql(ext)} as _fp from _in")
    # two different rows with the same key in one partition: both are unusable
    con.execute(
        "update _checked set _reason = 'conflicting duplicate key ' || _key where _reason is null and _key in ("
        "select _key from _checked where _reason is null group by _key having count(distinct _fp) > 1)")
    cols = ", ".join(q(c) for c in ext.column_names)
    con.execute(
        f"insert into raw.{q(ext.name)} select {cols}, ?, ?, ?, _record_no, ?, ? "
        f"from _checked where _reason is null order by _record_no",
        [ext.name, part.business_date, label, part.manifest_sha256, loaded_at])
    con.execute(
        f"insert into meta.quarantine select ?, ?, ?, _record_no, _reason, {raw_text_sql(ext)}, _key, ?, ? "
        f"from _checked where _reason is not null order by _record_no",
        [ext.name, part.business_date, label, part.manifest_sha256, loaded_at])
    con.execute("drop table _checked")


def _record(con: duckdb.DuckDBPyConnection, r: PartitionResult, run_id: str, loaded_at: datetime,
            files: list[str], seconds: float) -> None:
    p = r.partition
    con.execute(
        "insert into meta.load_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [f"{run_id}:{p.label}", run_id, p.extract, p.business_date, p.manifest_sha256, ";".join(files),
         r.rows_in, r.rows_loaded, r.rows_quarantined, r.status, r.message, loaded_at, seconds])
    if r.status == "LOADED":  # a rejected redelivery leaves the earlier delivery in force
        con.execute(
            "insert or replace into meta.partitions values (?, ?, ?, ?, ?, ?, ?, ?)",
            [p.extract, p.business_date, p.manifest_sha256, r.status, r.rows_in, r.rows_loaded,
             r.rows_quarantined, loaded_at])


def load_landing(con: duckdb.DuckDBPyConnection, landing: Path, run_id: str,
                 progress: Callable[[int, int, PartitionResult], None] | None = None,
                 only: set[str] | None = None, force_from: date | None = None) -> LoadSummary:
    """Load every new or changed partition. `force_from` reloads partitions from that business date on."""
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
    for i, part in enumerate(parts, 1):
        prev = known.get((part.extract, part.business_date))
        forced = force_from is not None and part.business_date >= force_from
        if prev and prev[0] == part.manifest_sha256 and prev[1] == "LOADED" and not forced:
            result = PartitionResult(part, "UNCHANGED", message="manifest unchanged since last load")
            _record(con, result, run_id, loaded_at, [], 0.0)
        else:
            try:
                result = load_partition(con, part, run_id, loaded_at)
            except RejectedPartition as e:
                result = PartitionResult(part, "REJECTED", message=str(e))
                _record(con, result, run_id, loaded_at, [], 0.0)
        summary.results.append(result)
        if progress:
            progress(i, len(parts), result)
    summary.seconds = time.perf_counter() - t0
    return summary


def data_date(con: duckdb.DuckDBPyConnection) -> date | None:
    row = con.execute("select max(business_date) from meta.partitions where status = 'LOADED'").fetchone()
    return row[0] if row else None


def env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default)
