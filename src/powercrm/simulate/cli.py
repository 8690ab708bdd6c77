"""`powercrm simulate`: the subcommand the project CLI mounts with add_parser(subparsers)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .engine import Params, continue_simulation, run, validate


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "simulate",
        help="write a synthetic landing folder (the marketing & billing source system)",
        description="Simulate a Chinese supply company's marketing & billing system and write its nightly "
                    "extracts into a landing folder as shared/SOURCE_EXTRACTS.md specifies (14 extracts, "
                    "daily/monthly partitions, manifests written last). Same arguments and seed give "
                    "byte-identical files. A run record with the parameters and every planted dirty case is "
                    "written to <out>/_simulation.json.",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="landing folder to write (its extract folders are replaced)")
    p.add_argument("--customers", type=int, default=20000, help="customer accounts at the start (default 20000)")
    p.add_argument("--months", type=int, default=24,
                   help="billing months to simulate; the data date is the 24th of the month after the last "
                        "billing month, three weeks after its bills are issued (default 24)")
    p.add_argument("--start", default="2023-01", help="first billing month, YYYY-MM (default 2023-01)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--dirty", type=float, default=0.0,
                   help="share of rows made dirty as real extracts are (bad numbers and dates, unknown codes, "
                        "missing keys, duplicates, full-width codes...) plus the partition-level cases "
                        "(redelivery, GB18030, gzip, wrong sha256, a partition without manifest); 0 = clean "
                        "(default 0)")
    p.add_argument("--format", dest="fmt", default="auto", choices=["csv", "csv.gz", "auto"],
                   help="file format: csv, csv.gz, or auto = .csv.gz for bill, bill_item, reading and payment "
                        "from 200 000 customers up, .csv otherwise (default auto)")
    p.add_argument("--continue", dest="cont", type=Path, metavar="DIR",
                   help="continue the simulation in DIR by one more business day (uses DIR/_simulation.json)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=handle)
    return p


def handle(args: argparse.Namespace) -> int:
    try:
        if args.cont is not None:
            rec = continue_simulation(args.cont, progress=not args.quiet)
            print(f"simulate: continued {args.cont} to data date {rec['data_date']}")
            return 0
        if args.out is None:
            raise ValueError("--out DIR is required (or --continue DIR)")
        params = Params(args.customers, args.months, args.start, args.seed, args.dirty, args.fmt, 0)
        validate(params)
        rec = run(params, args.out, progress=not args.quiet)
        print(f"simulate: wrote {rec['rows_total']:,} rows to {args.out}, data date {rec['data_date']}")
        return 0
    except (ValueError, FileNotFoundError) as err:
        print(f"powercrm simulate: {err}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="powercrm")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["simulate", *(argv or sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
