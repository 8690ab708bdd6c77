"""Benchmark of `powercrm simulate`: rows per second and peak memory (not a test).

usage: python bench/bench_simulate.py [--customers N] [--months M] [--dirty R] [--format F] [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from powercrm.simulate import simulate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=20000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--start", default="2023-01")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dirty", type=float, default=0.0)
    ap.add_argument("--format", dest="fmt", default="auto", choices=["csv", "csv.gz", "auto"])
    ap.add_argument("--out", type=Path, help="landing folder (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the landing folder")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    t0 = time.perf_counter()
    rec = simulate(out, customers=args.customers, months=args.months, start=args.start, seed=args.seed,
                   dirty=args.dirty, fmt=args.fmt)
    secs = time.perf_counter() - t0
    rows = rec["rows_total"]
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mib = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    print(f"customers={args.customers} months={args.months} format={args.fmt} dirty={args.dirty}")
    print(f"rows={rows:,} partitions={sum(rec['partitions'].values()):,} bytes={size / 2**20:,.1f} MiB")
    for e, n in rec["rows"].items():
        print(f"  {e:10s} {n:>14,}")
    print(f"seconds={secs:.1f} cpu_seconds={cpu:.1f} rows_per_s={rows / secs:,.0f} "
          f"rows_per_cpu_s={rows / max(cpu, 1e-9):,.0f} peak_rss_mib={peak_mib:,.0f}")
    if not args.keep and args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
