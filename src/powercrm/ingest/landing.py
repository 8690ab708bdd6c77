"""The landing folder as files (../shared/SOURCE_EXTRACTS.md): partitions, manifests, checksums, headers.

Plain Python, no database: the DuckDB loader (`powercrm.ingest.loader`) and the Spark loader
(`powercrm.spark_loader`, run with the spark venv, which has no DuckDB) both discover and verify
partitions with these functions, so a manifest rule is written once.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from powercrm.extracts import EXTRACTS

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


def open_text(path: Path, encoding: str) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig" if encoding.startswith("utf") else "gb18030", newline="")


def read_header(path: Path, encoding: str) -> list[str]:
    with open_text(path, encoding) as f:
        try:
            row = next(csv.reader(f))
        except StopIteration:
            return []
    return [h.strip().lower() for h in row]
