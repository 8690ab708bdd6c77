"""The analysts' DuckDB file from a Spark build (docs/spark.md).

A Spark build ends with the published schemas written as Parquet folders
(`spark_loader.py --export-parquet DIR`: `DIR/<schema>/<table>/part-*.parquet`). This module,
run with the main venv (it needs DuckDB, not Spark), reads them into a private import
database and publishes it with `powercrm.publish.publish`: the same atomic swap, DuckDB 1.x
storage version and `.prev` copy as a DuckDB build's file.

    .venv/bin/python -m powercrm.spark_export DIR warehouse/powercrm.duckdb
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from powercrm.ingest.rules import lit, q
from powercrm.publish import PUBLISHED_SCHEMAS, publish


def parquet_tables(parquet_dir: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> dict[tuple[str, str], Path]:
    """(schema, table) → its Parquet folder, for every folder holding Parquet files."""
    out = {}
    for schema in schemas:
        base = parquet_dir / schema
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            if any(folder.glob("*.parquet")):
                out[(schema, folder.name)] = folder
    return out


def import_parquet(parquet_dir: Path, db_path: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> int:
    """A DuckDB file with one table per Parquet folder (replaced when it exists). -> tables."""
    db_path.unlink(missing_ok=True)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tables = parquet_tables(parquet_dir, schemas)
    if not tables:
        raise FileNotFoundError(f"no Parquet tables under {parquet_dir}/<{'|'.join(schemas)}>/<table>/")
    with duckdb.connect(str(db_path)) as con:
        for schema in {s for s, _ in tables}:
            con.execute(f"create schema if not exists {q(schema)}")
        for (schema, table), folder in tables.items():
            con.execute(f"create table {q(schema)}.{q(table)} as "
                        f"select * from read_parquet({lit(str(folder / '*.parquet'))})")
    return len(tables)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Publish the analysts' DuckDB file from a Spark build's Parquet export.")
    ap.add_argument("parquet_dir", type=Path, help="the folder spark_loader.py --export-parquet wrote")
    ap.add_argument("published", type=Path, help="the analysts' file to write, e.g. warehouse/powercrm.duckdb")
    args = ap.parse_args(argv)
    work = args.published.with_name(args.published.stem + ".spark-import.duckdb")
    try:
        n = import_parquet(args.parquet_dir, work)
        result = publish(work, args.published)
    except Exception as e:  # noqa: BLE001 - one sentence for the operator
        print(f"spark export failed: {e}", file=sys.stderr)
        return 1
    finally:
        work.unlink(missing_ok=True)
    print(f"published {args.published}: {result.table_count} tables from {n} Parquet folders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
