"""Run the quality gate on a working database by hand.

    python -m powercrm.quality WORK_DB [--run-id ID] [--incremental] [--dbt-target DIR] [--report OUT.html]

Prints the counts by status, every blocking and warning sentence and the time per suite; writes
`audit.check_results` like a nightly run and, with --report, the HTML report. Exit status 4 when
a check blocks (as `powercrm run`), 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m powercrm.quality", description=__doc__.splitlines()[0])
    ap.add_argument("work_db", type=Path)
    ap.add_argument("--run-id", default=f"manual-{datetime.now():%Y%m%dT%H%M%S}")
    ap.add_argument("--incremental", action="store_true",
                    help="check the big fact tables only in the months that run --run-id loaded (meta.load_log), "
                         "as on a nightly run; default: every row")
    ap.add_argument("--dbt-target", type=Path, default=None, help="dbt target dir with run_results.json")
    ap.add_argument("--report", type=Path, default=None, help="write the HTML report here")
    args = ap.parse_args(argv)
    if not args.work_db.is_file():
        print(f"{args.work_db}: no such database file", file=sys.stderr)
        return 2
    from powercrm.quality.gate import run_quality

    t0 = time.perf_counter()
    out = run_quality(args.work_db, args.run_id, args.dbt_target, full_check=not args.incremental)
    seconds = time.perf_counter() - t0
    counts = out.counts()
    print(f"quality {args.run_id}: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("fail", "warn", "skipped", "pass"))
          + f" in {seconds:.1f}s (audit.check_results of {args.work_db})")
    print(f"  scope     {out.scope}")
    per_suite: dict[str, float] = {}
    for r in out.results:
        per_suite[r["suite"]] = per_suite.get(r["suite"], 0.0) + float(r.get("seconds") or 0.0)
    print("  time      " + ", ".join(f"{k} {v:.1f}s" for k, v in per_suite.items()))
    for b in out.blocking:
        print(f"  BLOCKING  {b}")
    for w in out.warnings:
        print(f"  warning   {w}")
    if args.report:
        from powercrm.quality.report import write_report

        print(f"  report    {write_report(args.work_db, args.report, args.run_id)}")
    return 4 if out.blocking else 0


if __name__ == "__main__":
    sys.exit(main())
