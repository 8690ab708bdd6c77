"""`powercrm` command line: simulate, run, status, rollback, rebuild.

Exit statuses of `run` and `rebuild` (README.md, "Exit statuses"):
0 everything loaded and published · 1 failed, nothing published · 2 wrong command line ·
3 published, but some partitions were rejected · 4 blocked by the quality gate (the previous
published file stays).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback
from datetime import date
from pathlib import Path

from powercrm.pipeline import (
    DEFAULT_LANDING,
    DEFAULT_WAREHOUSE,
    EXIT_BLOCKED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    NodeResult,
    PowerCRMError,
    Progress,
    RunLock,
    RunReport,
    env_path,
    execute,
    read_last_run,
)
from powercrm.publish import PublishError, WarehouseFiles

FILES_HELP = """\
files beside the published warehouse file <dir>/<stem>.duckdb:
  <stem>.duckdb        the analysts' file (schemas core, marts, audit), replaced atomically by each publish
  <stem>.work.duckdb   the private working database (raw, meta, staging, intermediate, core, marts, audit)
  <stem>.prev.duckdb   the previously published file (`powercrm rollback` puts it back)
  <stem>.lock          the run lock (one run per warehouse at a time)
  <stem>.state/        dbt's target and logs, last_run.json
"""

EXIT_HELP = """\
exit statuses:
  0  everything loaded, checked and published
  1  failed: nothing published (one sentence says which file and what went wrong)
  2  wrong command line
  3  published, but some partitions were rejected (each is listed with what disagreed)
  4  blocked by the quality gate: nothing published, the previous published file stays
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


# --------------------------------------------------------------------------------------- console

class Console(Progress):
    """Progress on stderr: a bar while loading, one line per model while building."""

    def __init__(self, quiet: bool = False, stream=None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.lock = threading.Lock()
        self.rows = 0
        self.last_draw = 0.0
        self.bar_open = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _end_bar(self) -> None:
        if self.bar_open:
            self._write("\n")
            self.bar_open = False

    def phase(self, name: str) -> None:
        if self.quiet:
            return
        with self.lock:
            self._end_bar()
            self._write(f"{name} …\n")

    def load(self, done: int, total: int, result) -> None:
        self.rows += result.rows_in
        if self.quiet:
            return
        with self.lock:
            if result.status == "REJECTED":
                self._end_bar()
                self._write(f"  rejected {result.message}\n")
            now = time.monotonic()
            final = done == total
            if self.tty:
                if final or now - self.last_draw > 0.1:
                    width = 30
                    fill = int(width * done / max(total, 1))
                    self._write(f"\r  load [{'#' * fill}{'.' * (width - fill)}] {done}/{total} partitions, "
                                f"{self.rows:,} rows")
                    self.bar_open = True
                    self.last_draw = now
            elif final or now - self.last_draw > 5:
                self._write(f"  load {done}/{total} partitions, {self.rows:,} rows\n")
                self.last_draw = now

    def node(self, done: int, total: int, node: NodeResult) -> None:
        if self.quiet:
            return
        is_test = node.resource_type in ("test", "unit_test")
        if is_test and node.status == "pass":
            return
        status = {"success": "OK", "pass": "PASS"}.get(node.status, node.status.upper())
        what = node.relation or node.name
        line = f"  [{done:>{len(str(total))}}/{total}] {node.resource_type:<8} {what:<48} {status:<7} {node.seconds:5.1f}s"
        if node.status in ("error", "fail", "warn") and node.message:
            line += f"  {node.message.splitlines()[0][:160]}"
        with self.lock:
            self._end_bar()
            self._write(line + "\n")

    def done(self) -> None:
        with self.lock:
            self._end_bar()


# --------------------------------------------------------------------------------------- summary

def print_summary(report: RunReport, out=None) -> None:
    out = out or sys.stdout
    p = lambda *a: print(*a, file=out)  # noqa: E731
    s = report.load
    p(f"powercrm {report.command} {report.run_id}: {report.landing} → {report.files.published}")
    if s is not None:
        loaded, unchanged = s.by_status("LOADED"), s.by_status("UNCHANGED")
        p(f"  partitions  {s.found} found: {len(loaded)} loaded, {len(unchanged)} unchanged, "
          f"{len(s.rejected)} rejected, {len(s.without_manifest)} without manifest")
        per: dict[str, list[int]] = {}
        for r in loaded:
            acc = per.setdefault(r.partition.extract, [0, 0, 0])
            acc[0] += 1
            acc[1] += r.rows_loaded
            acc[2] += r.rows_quarantined
        if per:
            p(f"  {'extract':<12} {'partitions':>10} {'rows loaded':>12} {'quarantined':>12}")
            for ext in sorted(per):
                n, rl, rq = per[ext]
                p(f"  {ext:<12} {n:>10} {rl:>12,} {rq:>12,}")
            p(f"  {'total':<12} {len(loaded):>10} {sum(v[1] for v in per.values()):>12,} "
              f"{sum(v[2] for v in per.values()):>12,}")
        if s.without_manifest:
            p(f"  without manifest (not loaded yet): {', '.join(s.without_manifest[:10])}"
              + (" …" if len(s.without_manifest) > 10 else ""))
        if s.unknown_folders:
            p(f"  ignored folders: {', '.join(s.unknown_folders[:10])}")
    if report.data_date:
        p(f"  data date   {report.data_date}")
    b = report.build
    if b is not None:
        built = [n for n in b.of("model", "seed", "snapshot") if n.status == "success"]
        tests = b.of("test", "unit_test")
        p(f"  dbt build   {len(built)} models/seeds built, {len(b.errors)} errors, {len(b.skipped)} skipped; "
          f"{len(tests)} tests: {sum(t.status == 'pass' for t in tests)} pass, {len(b.warned_tests)} warn, "
          f"{len(b.failed_tests)} fail")
    if report.published is not None:
        pub = report.published
        schemas = ", ".join(f"{k} {len(v)}" for k, v in sorted(pub.tables.items()))
        p(f"  published   {pub.published} ({_human_bytes(pub.bytes)}; tables: {schemas})")
        if pub.mode == "patch":
            kinds: dict[str, int] = {}
            rows_patched = []
            for table, how in sorted(pub.patched.items()):
                kind = how if how in ("unchanged", "written") else "patched"
                kinds[kind] = kinds.get(kind, 0) + 1
                if kind == "patched":
                    rows_patched.append(f"{table}: {how}")
            start = ("the previous version (no copy)" if pub.start == "previous"
                     else "a copy of the published file")
            p(f"  publish     patched {start}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
            if pub.start != "previous" and pub.why_copy:
                p(f"                (the previous version was not reused: {pub.why_copy})")
            for line in rows_patched:
                p(f"                {line}")
        elif pub.why_full:
            p(f"  publish     written afresh: {pub.why_full}")
        if pub.kept_buckets_failure:  # the publish went on; the night after next buckets both sides
            p(f"  publish     {pub.kept_buckets_failure}")
        if pub.step_seconds:
            slowest = sorted(pub.step_seconds.items(), key=lambda kv: -kv[1])[:4]
            p("  publish     slowest steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in slowest))
        if pub.kept_previous:
            p(f"  previous    {pub.kept_previous} (powercrm rollback puts it back)")
    if report.quality_report is not None:
        p(f"  quality     {report.quality_report} (every check, its history and failing examples)")
    if report.check_scope and (report.quality_report is not None or report.build is not None):
        p(f"  checks      {report.check_scope}"
          + ("" if report.full_check or report.check_scope.startswith("none")
             else " (older months: weekly full check, or `powercrm run --full-check`)"))
    if report.phases:
        p("  time        " + ", ".join(f"{k} {v:.1f}s" for k, v in report.phases.items())
          + f"; total {sum(report.phases.values()):.1f}s")
    if report.warnings:
        p(f"  warnings ({len(report.warnings)}):")
        for w in report.warnings[:20]:
            p(f"    - {w}")
    if s is not None and s.rejected:
        p(f"  REJECTED partitions ({len(s.rejected)}), nothing of them loaded (landing {report.landing}):")
        for r in s.rejected:
            p(f"    - {r.message}")
    if report.blocking:
        kept = (f"{report.files.published} was not replaced" if report.files.published.exists()
                else f"nothing was published ({report.files.published} does not exist yet)")
        p(f"  BLOCKED by the quality gate ({len(report.blocking)} blocking check(s)); {kept}:")
        for m in report.blocking:
            p(f"    - {m}")
    verdict = {
        EXIT_OK: "OK: everything loaded and published",
        EXIT_REJECTED: "PUBLISHED WITH REJECTIONS: fix or redeliver the rejected partitions (exit 3)",
        EXIT_BLOCKED: "BLOCKED: nothing published, the previous file stays (exit 4)",
        EXIT_FAILED: "FAILED: nothing published (exit 1)",
    }[report.exit_code]
    p(f"  result      {verdict}")


# --------------------------------------------------------------------------------------- commands

def _fail(args: argparse.Namespace, message: str, exc: BaseException | None = None) -> int:
    if exc is not None and getattr(args, "debug", False):
        traceback.print_exception(exc)
    print(f"powercrm: error: {message}", file=sys.stderr)
    return EXIT_FAILED


def _run_like(args: argparse.Namespace, command: str, force_from: date | None, full_refresh: bool) -> int:
    files = WarehouseFiles(Path(args.warehouse))
    report = RunReport(command=command, landing=Path(args.landing), files=files)
    console = Console(quiet=args.quiet)
    try:
        execute(report, force_from=force_from, full_refresh=full_refresh,
                skip_quality=getattr(args, "skip_quality", False), progress=console,
                full_check=getattr(args, "full_check", False))
    except PowerCRMError as e:
        if report.load is not None:
            print_summary(report)
        return _fail(args, str(e), e)
    except KeyboardInterrupt:
        return _fail(args, "interrupted: nothing published")
    except Exception as e:  # noqa: BLE001 - one sentence unless --debug
        if report.load is not None:
            print_summary(report)
        return _fail(args, f"unexpected {type(e).__name__} during the run on {files.published}: {e} "
                           f"(run again with --debug for the traceback)", e)
    print_summary(report)
    return report.exit_code


def cmd_run(args: argparse.Namespace) -> int:
    return _run_like(args, "run", args.from_date, full_refresh=False)


def cmd_rebuild(args: argparse.Namespace) -> int:
    return _run_like(args, "rebuild", args.from_date, full_refresh=True)


def cmd_rollback(args: argparse.Namespace) -> int:
    from powercrm.publish import describe, rollback

    files = WarehouseFiles(Path(args.warehouse))
    try:
        with RunLock(files.lock, "rollback"):
            if not files.prev.is_file():
                raise PublishError(f"there is no previous file {files.prev} to roll back to")
            before = describe(files.published) if files.published.exists() else None
            restored = describe(files.prev)
            _, kept = rollback(files.published)
    except (PowerCRMError, PublishError) as e:
        return _fail(args, str(e), e)

    def what(info: dict | None) -> str:
        if not info:
            return "nothing"
        return (f"the file published {info.get('published_at') or info['mtime']}"
                f" (data date {info.get('data_date', 'unknown')}, run {info.get('run_id', 'unknown')})")

    print(f"rolled back {files.published}: it is now {what(restored)}.")
    if kept:
        print(f"the file it replaced, {what(before)}, is kept as {kept}.")
    print("note: the working database still holds the newer data; the next `powercrm run` publishes it again "
          "(fix the cause first, or use `powercrm rebuild --from DATE`).")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    import duckdb

    from powercrm.pipeline import _reason

    files = WarehouseFiles(Path(args.warehouse))
    holder = RunLock(files.lock, "status").holder()
    if holder:
        print(f"a run is in progress: pid {holder.get('pid')}, started {holder.get('started_at')}, "
              f"`powercrm {holder.get('command')}`")
    last = read_last_run(files)
    if not files.published.is_file():
        if last:
            print(f"last run    {last['run_id']} ({last['command']}): {last['outcome']}"
                  + (f" — {last['error']}" if last.get("error") else ""))
        return _fail(args, f"no published file {files.published} yet: run `powercrm run --warehouse {files.published}`")
    try:
        con = duckdb.connect(str(files.published), read_only=True)
    except duckdb.Error as e:
        return _fail(args, f"cannot open {files.published}: {_reason(e)}", e)
    try:
        _print_status(con, files, last)
    finally:
        con.close()
    return EXIT_OK


def _print_status(con, files: WarehouseFiles, last: dict | None) -> None:
    from powercrm.ingest.rules import q

    tables = con.execute("select schema_name, table_name from duckdb_tables() "
                         "where database_name = current_database() order by 1, 2").fetchall()
    have = set(tables)
    st = files.published.stat()
    print(f"warehouse   {files.published} ({_human_bytes(st.st_size)}, written "
          f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(st.st_mtime))})")
    pub = None
    if ("audit", "publish_log") in have:
        pub = con.execute("select run_id, published_at, data_date, command, partitions_loaded, partitions_unchanged, "
                          "partitions_rejected, rows_loaded, rows_quarantined from audit.publish_log "
                          "order by published_at desc limit 1").fetchone()
    data_date = pub[2] if pub else None
    if data_date is None and ("audit", "load_log") in have:
        data_date = con.execute("select max(business_date) from audit.load_log where status = 'LOADED'").fetchone()[0]
    print(f"data date   {data_date or 'unknown'}")
    if pub:
        print(f"published   by run {pub[0]} (`powercrm {pub[3]}`) at {pub[1]}: {pub[4]} partitions loaded, "
              f"{pub[5]} unchanged, {pub[6]} rejected; {pub[7]:,} rows loaded, {pub[8]:,} quarantined")
    if last and (not pub or last.get("run_id") != pub[0]):
        print(f"last run    {last['run_id']} (`powercrm {last['command']}`, finished {last.get('finished_at')}): "
              f"{last['outcome']}" + (f" — {last['error']}" if last.get("error") else ""))
        for m in (last.get("blocking") or [])[:10]:
            print(f"              blocking: {m}")
    if last and last.get("rejected"):
        print(f"rejected    {len(last['rejected'])} partition(s) in the last run:")
        for m in last["rejected"][:10]:
            print(f"              {m}")
    if ("audit", "load_log") in have:
        rows = con.execute("select status, count(*) from audit.load_log group by 1 order by 1").fetchall()
        print("load log    " + ", ".join(f"{n} {s}" for s, n in rows) + " (audit.load_log, all runs)")
    if ("audit", "quarantine") in have:
        n = con.execute("select count(*) from audit.quarantine").fetchone()[0]
        print(f"quarantine  {n} rows (audit.quarantine)")
    if ("audit", "check_results") in have:
        cols = {r[0] for r in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'audit' and table_name = 'check_results'"
        ).fetchall()}
        if "status" in cols:
            where = "true"
            if {"run_id", "run_at"} <= cols:  # the table keeps every run's checks: summarise the latest
                where = ("run_id = (select run_id from audit.check_results where run_at is not null "
                         "order by run_at desc limit 1)")
            rows = con.execute(f"select lower(cast(status as varchar)), count(*) from audit.check_results "
                               f"where {where} group by 1 order by 1").fetchall()
            print("quality     " + ", ".join(f"{n} {s}" for s, n in rows) + " (audit.check_results, latest run)")
            name_col = next((c for c in ("check_name", "name", "test_name") if c in cols), None)
            if name_col:
                extra = ", ".join(q(c) for c in ("table_name", "failing_rows") if c in cols) or "null"
                bad = con.execute(
                    f"select lower(cast(status as varchar)), {q(name_col)}, {extra} from audit.check_results "
                    f"where {where} and lower(cast(status as varchar)) in ('fail', 'error', 'warn') "
                    f"order by 1, 2 limit 20").fetchall()
                for status, name, *rest in bad:
                    detail = " ".join(f"{v}" for v in rest if v is not None)
                    print(f"              {status}: {name}" + (f" ({detail})" if detail else ""))
    else:
        print("quality     no audit.check_results in this file")
    print(f"tables      {len(tables)}")
    for s, t in tables:
        n = con.execute(f"select count(*) from {q(s)}.{q(t)}").fetchone()[0]
        print(f"  {s + '.' + t:<48} {n:>12,}")
    if files.prev.is_file():
        print(f"previous    {files.prev} (`powercrm rollback` puts it back)")


def cmd_simulate_missing(args: argparse.Namespace) -> int:
    return _fail(args, "`powercrm simulate` is not available: the module powercrm.simulate.cli is missing or "
                       f"cannot be imported ({args.import_error})")


# --------------------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    landing_default = str(env_path("POWERCRM_LANDING", DEFAULT_LANDING))
    warehouse_default = str(env_path("POWERCRM_WAREHOUSE", DEFAULT_WAREHOUSE))
    parser = argparse.ArgumentParser(
        prog="powercrm",
        description="PowerCRM: load the billing system's landing folder, build the warehouse with dbt, "
                    "check it, and publish the analysts' DuckDB file.",
        epilog=FILES_HELP + "\n" + EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="print the Python traceback when a command fails (normally one sentence)")
    wh = argparse.ArgumentParser(add_help=False)
    wh.add_argument("--warehouse", metavar="FILE", default=warehouse_default,
                    help="the analysts' published DuckDB file; the private working database lives beside it "
                         "as <stem>.work.duckdb (env POWERCRM_WAREHOUSE, default warehouse/powercrm.duckdb; "
                         f"now {warehouse_default})")
    land = argparse.ArgumentParser(add_help=False)
    land.add_argument("--landing", metavar="DIR", default=landing_default,
                      help="the landing folder <extract>/<YYYY-MM-DD>/ written by the billing system "
                           f"(env POWERCRM_LANDING, default landing/; now {landing_default})")
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("--quiet", action="store_true",
                       help="no progress on stderr (the summary and errors are still printed)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    fmt = argparse.RawDescriptionHelpFormatter

    try:
        from powercrm.simulate.cli import add_parser as add_simulate
    except Exception as e:  # noqa: BLE001 - a missing or broken simulator must not break `run`
        sim = sub.add_parser("simulate", parents=[common], help="write a synthetic landing folder (not installed yet)",
                             description="The synthetic source system; its module powercrm.simulate is not "
                                         "installed yet.")
        sim.set_defaults(func=cmd_simulate_missing, import_error=str(e))
        sim.add_argument("rest", nargs=argparse.REMAINDER, help="the simulator's options")
    else:
        add_simulate(sub)

    run = sub.add_parser(
        "run", parents=[common, land, wh, quiet], formatter_class=fmt, epilog=FILES_HELP + "\n" + EXIT_HELP,
        help="load new and changed partitions, build, check and publish",
        description="The nightly run: take the warehouse lock, load every new or changed partition of the landing "
                    "folder into the working database, dbt build (seeds, models, tests), run the quality gate, "
                    "and publish the analysts' file (core, marts and audit only) atomically.")
    run.add_argument("--from", dest="from_date", metavar="YYYY-MM-DD", type=_date, default=None,
                     help="also reload the partitions whose business date is on or after this date even when their "
                          "manifest is unchanged (e.g. after a fix to the loading rules); models are rebuilt as usual")
    run.add_argument("--full-check", action="store_true",
                     help="check every row of every table and run every dbt test, as a first load or rebuild does "
                          "(default: an incremental night checks the big fact tables' changed months only and "
                          "leaves out the dbt tests tagged full_scan)")
    run.add_argument("--skip-quality", action="store_true",
                     help="development only: skip dbt tests and the quality gate, publish whatever builds")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser(
        "status", parents=[common, wh], formatter_class=fmt,
        help="what the published file holds: data date, last run, tables, quality",
        description="Describe the published file (opened read-only): data date, the run that published it and the "
                    "last run's outcome, rows per table, the quality summary of audit.check_results.")
    status.set_defaults(func=cmd_status)

    rb = sub.add_parser(
        "rollback", parents=[common, wh], formatter_class=fmt,
        help="put the previously published file back",
        description="Replace the published file by <stem>.prev.duckdb (atomic rename). The replaced file is kept "
                    "as <stem>.rolledback.duckdb. Refused while a run holds the lock.")
    rb.set_defaults(func=cmd_rollback)

    reb = sub.add_parser(
        "rebuild", parents=[common, land, wh, quiet], formatter_class=fmt, epilog=EXIT_HELP,
        help="reprocess history from a business date and rebuild every model",
        description="Reload every partition whose business date is on or after --from even when unchanged, "
                    "rebuild all models from scratch (dbt --full-refresh), check and publish.")
    reb.add_argument("--from", dest="from_date", metavar="YYYY-MM-DD", type=_date, required=True,
                     help="first business date to reload (partitions before it are kept as loaded)")
    reb.set_defaults(func=cmd_rebuild)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        result = func(args)
    except KeyboardInterrupt:
        print("powercrm: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # `powercrm status | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK if func is cmd_status else EXIT_FAILED
    return EXIT_OK if result is None else int(result)

