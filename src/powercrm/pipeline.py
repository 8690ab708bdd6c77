"""One nightly run: lock → load → dbt build → quality gate → publish.

The CLI (`powercrm run`, `powercrm rebuild`) and the Dagster definitions call this module; it
prints nothing itself (progress goes to the `Progress` object it is given) and raises
`PowerCRMError` with one sentence for the operator when a step fails. The report object is
filled in as the run goes, so that a failed run can still say what it did before it failed.

Files (beside the published file `<dir>/<stem>.duckdb`, see `publish.WarehouseFiles`):
`<stem>.work.duckdb` the private working database, `<stem>.lock` the run lock,
`<stem>.state/` dbt's target and logs and `last_run.json`, `<stem>.prev.duckdb` the previous
published file, `<stem>.next.duckdb` the file being written (exists only during a publish).
"""

from __future__ import annotations

import fcntl
import importlib
import inspect
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from powercrm.extracts import PROJECT_DIR
from powercrm.ingest.loader import LoadSummary, PartitionResult, data_date, load_landing
from powercrm.publish import (
    PublishError,
    PublishResult,
    WarehouseFiles,
    bound_memory,
    publish,
    record_publish,
)
from powercrm.testhooks import pause_point

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 3
EXIT_BLOCKED = 4

# dbt tests tagged so scan whole tables: left out on incremental nights, run by full checks
FULL_SCAN_TAG = "full_scan"
# tests that check only the rows tonight's build wrote (macros/generic_tests.sql): a night's
# cheap stand-in for a full_scan test, left out when the full one runs
NEW_ROWS_TAG = "new_rows"

DEFAULT_LANDING = "landing"
DEFAULT_WAREHOUSE = "warehouse/powercrm.duckdb"


class PowerCRMError(Exception):
    """A run failed; the message is one sentence naming the file and the problem."""


class LockHeld(PowerCRMError):
    pass


def env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default)


def dbt_project_dir() -> Path:
    """The dbt project: the repository root, or POWERCRM_DBT_PROJECT_DIR (tests use a small fixture)."""
    return Path(os.environ.get("POWERCRM_DBT_PROJECT_DIR") or PROJECT_DIR)


def quality_gate() -> Callable:
    """`powercrm.quality.gate.run_quality`, or the `module:function` named by POWERCRM_QUALITY_GATE (tests)."""
    spec = os.environ.get("POWERCRM_QUALITY_GATE") or "powercrm.quality.gate:run_quality"
    module, _, func = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), func or "run_quality")
    except (ImportError, AttributeError) as e:
        raise PowerCRMError(f"the quality gate {spec} cannot be loaded: {_reason(e)}") from e


def _first_line(message: str) -> str:
    lines = [ln.strip() for ln in (message or "").splitlines() if ln.strip()]
    return " ".join(lines[:2])[:300] if lines else "(no message)"


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror + (f" ({e.filename})" if e.filename else "")
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return " ".join(lines[:2])[:400] if lines else type(e).__name__


# --------------------------------------------------------------------------------------- lock

class RunLock:
    """An exclusive `flock` on `<stem>.lock`: one run per warehouse at a time.

    The kernel releases it when the process ends, however it ends (SIGKILL included), so a
    crashed run never leaves a stale lock behind. The holder writes its pid, start time and
    command into the file so that a refused run can say who holds it.
    """

    def __init__(self, path: Path, command: str) -> None:
        self.path = path
        self.command = command
        self.fd: int | None = None

    def holder(self) -> dict | None:
        """Who holds the lock, or None when nobody does (does not take it)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise PowerCRMError(f"cannot create the lock file {self.path}: {e.strerror}") from e
        deadline = time.monotonic() + 2.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                info = _read_holder(fd)
                # no holder details: `powercrm status` probing for a moment, or a run that has just
                # taken the lock; wait briefly before refusing
                if not info and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
            os.close(fd)
            who = (f"pid {info.get('pid', '?')}, started {info.get('started_at', '?')}, "
                   f"`powercrm {info.get('command', '?')}`") if info else "details not written yet"
            raise LockHeld(
                f"another powercrm run ({who}) is working on {self.path.with_name(self.path.stem + '.duckdb')}; "
                f"this run was refused (lock {self.path}): wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started_at": datetime.now().isoformat(" ", "seconds"),
                                  "command": self.command}).encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------------------- progress

class Progress:
    """Callbacks for long steps; the default does nothing (the CLI's console prints)."""

    def phase(self, name: str) -> None: ...

    def load(self, done: int, total: int, result: PartitionResult) -> None: ...

    def node(self, done: int, total: int, node: NodeResult) -> None: ...

    def done(self) -> None: ...


# --------------------------------------------------------------------------------------- dbt

@dataclass
class NodeResult:
    unique_id: str
    resource_type: str
    name: str
    relation: str
    status: str  # success | error | skipped | pass | fail | warn | ...
    failures: int | None = None
    message: str = ""
    seconds: float = 0.0
    severity: str = ""
    path: str = ""


@dataclass
class BuildResult:
    nodes: list[NodeResult] = field(default_factory=list)
    seconds: float = 0.0
    target_path: Path | None = None

    def of(self, *types: str) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type in types]

    @property
    def errors(self) -> list[NodeResult]:
        """Models, seeds and snapshots that failed to build: the run fails."""
        return [n for n in self.of("model", "seed", "snapshot") if n.status == "error"]

    @property
    def failed_tests(self) -> list[NodeResult]:
        """Tests that failed or could not run with severity error: they block the publish."""
        return [n for n in self.of("test", "unit_test") if n.status in ("fail", "error")]

    @property
    def warned_tests(self) -> list[NodeResult]:
        return [n for n in self.of("test", "unit_test") if n.status == "warn"]

    @property
    def skipped(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status == "skipped"]


def _node_from_result(r) -> NodeResult:
    node = r.node
    rtype = str(getattr(node.resource_type, "value", node.resource_type))
    relation = ""
    if rtype in ("model", "seed", "snapshot"):
        relation = f"{node.schema}.{node.alias}"
    else:
        attached = getattr(node, "attached_node", None)
        if attached:
            relation = attached.split(".")[-1]
    status = str(getattr(r.status, "value", r.status))
    severity = ""
    config = getattr(node, "config", None)
    if config is not None and getattr(config, "severity", None):
        severity = str(config.severity).upper()
    return NodeResult(node.unique_id, rtype, node.name, relation, status, r.failures,
                      (r.message or "").strip(), r.execution_time or 0.0, severity,
                      getattr(node, "original_file_path", ""))


def _close_dbt_connections() -> None:
    """dbt-duckdb keeps its DuckDB handle open after the invocation; close it (same process)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager
    except ImportError:  # pragma: no cover
        return
    with manager._LOCK:
        env = manager._ENV
        if env is not None:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
            manager._ENV = None


@contextmanager
def dbt_against(work_db: Path) -> Iterator[None]:
    """An in-process dbt invocation against `work_db` (the profile reads POWERCRM_WORK_DB); after
    it, dbt-duckdb's connection is closed and the variable restored."""
    old = os.environ.get("POWERCRM_WORK_DB")
    os.environ["POWERCRM_WORK_DB"] = str(work_db)
    try:
        yield
    finally:
        _close_dbt_connections()
        if old is None:
            os.environ.pop("POWERCRM_WORK_DB", None)
        else:
            os.environ["POWERCRM_WORK_DB"] = old


def dbt_build_args(project_dir: Path, state_dir: Path, full_refresh: bool = False, skip_tests: bool = False,
                   full_check: bool = True) -> list[str]:
    """The `dbt build` command line. Not a full check: the tests tagged `full_scan` (whole-table
    data tests) are excluded; a full check excludes their nightly stand-ins tagged `new_rows`
    instead (an exclusion that matches no node is fine)."""
    target = state_dir / "target"
    args = ["build", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir / "profiles"),
            "--target-path", str(target), "--log-path", str(state_dir / "logs"),
            "--log-level", "none", "--log-level-file", os.environ.get("POWERCRM_DBT_LOG_LEVEL_FILE", "info"), "--no-use-colors"]
    if full_refresh:
        args.append("--full-refresh")
    if skip_tests:
        args += ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    else:
        args += dbt_test_exclusion(full_check or full_refresh)
    return args


def dbt_threads_args(work_db: Path, full_refresh: bool) -> list[str]:
    """`--threads N` for this build, or nothing (the profile's two threads).

    POWERCRM_DBT_THREADS, when set, decides. Otherwise a whole build (`--full-refresh`, or a working
    database whose `core` schema holds nothing yet: the first run) runs one node at a time: its big
    nodes are queries that each keep both cores busy, and two of them at once only contend for the
    cores and the one memory limit (1 000 000 customers: build 1 126 s with two threads, 798 s
    with one; fct_payment 149 → 40 s, fct_bill 160 → 51 s). A nightly build keeps two threads:
    its ≈ 500 nodes are small, and one thread's SQL overlaps the other's dbt overhead
    (docs/benchmarks.md)."""
    threads = os.environ.get("POWERCRM_DBT_THREADS", "").strip()
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise PowerCRMError(f"POWERCRM_DBT_THREADS={threads!r} is not a positive whole number")
        return ["--threads", threads]
    if full_refresh or not _has_built_models(work_db):
        return ["--threads", "1"]
    return []


def _has_built_models(work_db: Path) -> bool:
    """Whether dbt has built anything into the working database's `core` schema yet."""
    if not work_db.is_file():
        return False
    con = _open_work(work_db)
    try:
        return con.execute("select count(*) from duckdb_tables() where schema_name = 'core'").fetchone()[0] > 0
    finally:
        con.close()


def dbt_test_exclusion(full_check: bool) -> list[str]:
    """A night leaves out the whole-table tests (tag full_scan); a full check leaves out their
    nightly stand-ins, which check tonight's rows only (tag new_rows)."""
    return ["--exclude", f"tag:{NEW_ROWS_TAG if full_check else FULL_SCAN_TAG}"]


def run_dbt(work_db: Path, state_dir: Path, project_dir: Path | None = None, full_refresh: bool = False,
            skip_tests: bool = False, on_node: Callable[[int, int, NodeResult], None] | None = None,
            full_check: bool = True) -> BuildResult:
    """`dbt build` (seeds, models, tests) in this process against `work_db`; `full_check=False`
    leaves out the tests tagged `full_scan` (an incremental night)."""
    from dbt.cli.main import dbtRunner  # slow import: only when building

    project_dir = project_dir or dbt_project_dir()
    target = state_dir / "target"
    args = dbt_build_args(project_dir, state_dir, full_refresh, skip_tests, full_check)
    counter = {"done": 0, "total": 0}
    failed: list[NodeResult] = []  # in the order they finished: the first is the cause

    def callback(event) -> None:
        # never raise from here: an exception in a callback aborts dbt's worker thread
        try:
            name = event.info.name
            if name == "LogStartLine":
                counter["total"] = max(counter["total"], int(event.data.total))
            elif name == "NodeFinished":
                info, rr = event.data.node_info, event.data.run_result
                counter["done"] += 1
                rel = info.node_relation
                node = NodeResult(info.unique_id, info.resource_type, info.node_name,
                                  f"{rel.schema}.{rel.alias}" if rel and rel.alias else "",
                                  rr.status or info.node_status, None, rr.message or "",
                                  float(rr.execution_time or 0.0))
                if node.status in ("error", "fail"):
                    failed.append(node)
                if on_node:
                    on_node(counter["done"], max(counter["total"], counter["done"]), node)
                if info.resource_type == "model":
                    pause_point("build")
        except Exception:  # noqa: BLE001
            pass

    weights = node_seconds(target / "run_results.json")
    threads_args = dbt_threads_args(work_db, full_refresh)
    args += threads_args
    threads = int(threads_args[1]) if threads_args else PROFILE_THREADS
    t0 = time.perf_counter()
    with dbt_against(work_db.resolve()), critical_path_first(weights, threads):
        res = dbtRunner(callbacks=[callback]).invoke(args)
    build = BuildResult(seconds=time.perf_counter() - t0, target_path=target)
    results = getattr(res.result, "results", None)
    if res.exception is not None or results is None:
        why = _reason(res.exception) if res.exception is not None else "dbt returned no results"
        raise PowerCRMError(fatal_build_message(project_dir, why, failed, state_dir / "logs" / "dbt.log"))
    build.nodes = [_node_from_result(r) for r in results]
    return build


PROFILE_THREADS = 2  # profiles/profiles.yml, target duckdb: the threads of a build without --threads
NODE_SECONDS_UNKNOWN = 0.1  # the weight of a node the previous build did not run (critical_path_first)


def node_seconds(run_results: Path) -> dict[str, float]:
    """Seconds per node of the previous build (its run_results.json), or nothing when unreadable."""
    try:
        data = json.loads(run_results.read_text(encoding="utf-8"))
        return {r["unique_id"]: float(r.get("execution_time") or 0.0) for r in data.get("results", [])}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


@contextmanager
def critical_path_first(weights: dict[str, float], threads: int) -> Iterator[None]:
    """While dbt builds in this process, a dbt thread takes a node only when it is free, and the
    ready node with the longest chain of work still behind it first (the node's seconds in the
    previous build plus the longest such chain of what depends on it; 0.1 s for a node it did not
    run), instead of dbt's own order: the shallowest node of the graph first, every ready node
    handed to the thread pool at once.

    Why: a night's build is a chain (`int_receivables` → `fct_bill` → … → `int_credit_scores` →
    `int_credit_segments` → `customer_segment_history`) beside ≈ 450 short nodes. In dbt's order
    the short nodes of shallow depth (marts, tests) ran while the chain waited, and its last
    nodes ran alone at the end with the other core idle (1 000 000 customers: 6-8 s with one
    thread busy; docs/benchmarks.md). Only the order changes: dependencies are dbt's, so the
    results are the same. Without a previous build (the first run) every node weighs the same
    and the longest chain in nodes goes first. dbt's queue is internal API (dbt-core 1.11 is
    pinned): when it is not where expected, dbt keeps its own order."""
    try:
        import networkx as nx
        from dbt.graph.queue import GraphQueue
    except ImportError:  # pragma: no cover - both come with dbt-core
        yield
        return
    original = GraphQueue.__dict__.get("_get_scores")
    if original is None:  # pragma: no cover - another dbt-core
        yield
        return

    def scores(self, graph):  # noqa: ANN001, ANN202 - dbt's signature
        try:
            remaining: dict[str, float] = {}
            for node in reversed(list(nx.topological_sort(graph))):
                after = max((remaining[child] for child in graph.successors(node)), default=0.0)
                remaining[node] = weights.get(node, NODE_SECONDS_UNKNOWN) + after
            return {node: -remaining[node] for node in graph.nodes}
        except Exception:  # noqa: BLE001 - an order is an optimisation: dbt's own is always right
            return original(self, graph)

    original_get = GraphQueue.__dict__.get("get")

    def get(self, block: bool = True, timeout: float | None = None):  # noqa: ANN202 - dbt's signature
        # dbt hands every ready node to its thread pool at once (a FIFO): a node that becomes
        # ready later waits behind all of them, whatever its score. Taking a node only when a
        # thread is free lets the score decide each time a thread takes work.
        if block and timeout is None:
            with self.some_task_done:
                while len(self.in_progress) >= threads:
                    self.some_task_done.wait()
        return original_get(self, block, timeout)

    GraphQueue._get_scores = scores
    if original_get is not None and threads > 0:
        GraphQueue.get = get
    try:
        yield
    finally:
        GraphQueue._get_scores = original
        if original_get is not None:
            GraphQueue.get = original_get


SCHEMA_DRIFT = "incremental model are out of sync"  # dbt's on_schema_change='fail' message


def _is_schema_drift(message: str) -> bool:
    """dbt's on_schema_change='fail', or an incremental model's pre-hook reading the build stamp
    of a table built before the model had one (DuckDB: Referenced column "_loaded_at" not found)."""
    return SCHEMA_DRIFT in message or ('"_loaded_at"' in message and "not found" in message)


def fatal_build_message(project_dir: Path, why: str, failed: list[NodeResult], log: Path) -> str:
    """dbt stopped without results (a fatal error). After a fatal DuckDB error (an INTERNAL error
    invalidates the database) every later statement fails with "database has been invalidated":
    the cause is the first node to fail with an error of its own."""
    first = next((n for n in failed if "has been invalidated" not in n.message), failed[0] if failed else None)
    cause = (f"; the first node to fail: {first.resource_type} {first.relation or first.name}: "
             f"{_first_line(first.message)}") if first else ""
    return f"dbt could not build the project {project_dir}: {why}{cause} (log: {log})"


def build_failure_message(errors: list[NodeResult]) -> str:
    """The error of a failed build: the first failed node, how many more, and what to do when an
    incremental table was built by an earlier version of the models (its columns differ)."""
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    text = (f"dbt build failed: {first.resource_type} {first.relation or first.name} "
            f"({first.path}): {_reason(Exception(first.message))}{more}")
    drifted = [e.relation or e.name for e in errors if _is_schema_drift(e.message or "")]
    if drifted:
        text += (f". The incremental table{'s' if len(drifted) > 1 else ''} {', '.join(drifted)} "
                 f"{'were' if len(drifted) > 1 else 'was'} built by an earlier version of the models and "
                 f"their columns differ: run `powercrm rebuild` once (every model from scratch)")
    return text


def save_dbt_results(con: duckdb.DuckDBPyConnection, run_id: str, build: BuildResult) -> None:
    """meta.dbt_results: the latest build's nodes and tests (the quality gate and audit read them)."""
    con.execute("create schema if not exists meta")
    con.execute("create table if not exists meta.dbt_results (run_id varchar, unique_id varchar, "
                "resource_type varchar, name varchar, relation varchar, status varchar, failures bigint, "
                "severity varchar, message varchar, seconds double, path varchar, finished_at timestamp)")
    now = datetime.now().replace(microsecond=0)
    con.execute("begin transaction")
    con.execute("delete from meta.dbt_results")
    con.executemany("insert into meta.dbt_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [[run_id, n.unique_id, n.resource_type, n.name, n.relation, n.status, n.failures, n.severity,
                      n.message, n.seconds, n.path, now] for n in build.nodes])
    con.execute("commit")


# --------------------------------------------------------------------------------------- run

@dataclass
class RunReport:
    command: str
    landing: Path
    files: WarehouseFiles
    run_id: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))
    load: LoadSummary | None = None
    build: BuildResult | None = None
    blocking: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    published: PublishResult | None = None
    quality_report: Path | None = None
    data_date: date | None = None
    full_check: bool = True  # every row checked (else: the big facts' changed months, no full_scan dbt tests)
    check_scope: str = ""  # why full, or what an incremental night checked
    phases: dict[str, float] = field(default_factory=dict)
    exit_code: int = EXIT_FAILED
    error: str | None = None

    def __post_init__(self) -> None:
        if not self.run_id:
            self.run_id = f"{self.started_at:%Y%m%dT%H%M%S}-{os.getpid()}"

    def run_info(self) -> dict:
        s = self.load
        loaded = s.by_status("LOADED") if s else []
        return {
            "run_id": self.run_id, "published_at": datetime.now().replace(microsecond=0),
            "data_date": self.data_date, "command": self.command,
            "partitions_found": s.found if s else None,
            "partitions_loaded": len(loaded),
            "partitions_unchanged": len(s.by_status("UNCHANGED")) if s else None,
            "partitions_rejected": len(s.rejected) if s else None,
            "partitions_without_manifest": len(s.without_manifest) if s else None,
            "rows_loaded": sum(r.rows_loaded for r in loaded),
            "rows_quarantined": sum(r.rows_quarantined for r in loaded),
            "seconds": round(sum(self.phases.values()), 3),
        }

    def outcome(self) -> str:
        return {EXIT_OK: "published", EXIT_REJECTED: "published, some partitions rejected",
                EXIT_BLOCKED: "blocked by the quality gate", EXIT_FAILED: "failed"}.get(self.exit_code, "?")


def _open_work(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path))
        con.execute("set enable_progress_bar = false")  # the CLI draws its own progress
        return con
    except duckdb.Error as e:
        raise PowerCRMError(f"cannot open the working database {path}: {_reason(e)}") from e


def execute(report: RunReport, force_from: date | None = None, full_refresh: bool = False,
            skip_quality: bool = False, progress: Progress | None = None, full_check: bool = False) -> RunReport:
    """Run every step; fills `report`; raises PowerCRMError when the run fails (nothing published).

    Checks are full (every row, every dbt test) when `full_check` is asked, on `full_refresh`
    and when nothing has been published yet; otherwise the night is incremental (see
    powercrm.quality.scope)."""
    progress = progress or Progress()
    files = report.files
    if full_check:
        report.full_check, report.check_scope = True, "full check (--full-check)"
    elif full_refresh:
        report.full_check, report.check_scope = True, "full check (full refresh)"
    elif not files.published.exists():
        report.full_check, report.check_scope = True, "full check (first publish)"
    else:
        report.full_check, report.check_scope = False, "incremental"
    if skip_quality:
        report.check_scope = "none (--skip-quality: no dbt tests, no quality gate)"
    if not report.landing.is_dir():
        raise PowerCRMError(f"the landing folder {report.landing} does not exist (--landing or POWERCRM_LANDING)")
    try:
        files.published.parent.mkdir(parents=True, exist_ok=True)
        files.state_dir.mkdir(exist_ok=True)
    except OSError as e:
        why = "File exists" if e.strerror is None else e.strerror
        if isinstance(e, FileExistsError):
            why = f"{e.filename or files.published.parent} is a file, not a directory"
        raise PowerCRMError(f"cannot create the warehouse directory {files.published.parent}: {why}") from e
    with RunLock(files.lock, report.command):
        try:
            _steps(report, force_from, full_refresh, skip_quality, progress)
        except PowerCRMError as e:
            report.exit_code, report.error = EXIT_FAILED, str(e)
            raise
        except BaseException as e:
            report.exit_code, report.error = EXIT_FAILED, f"unexpected {type(e).__name__}: {_reason(e)}"
            raise
        finally:
            progress.done()
            _write_last_run(report)
    return report


def _timed(report: RunReport, name: str, progress: Progress):
    class _Timer:
        def __enter__(self):
            progress.phase(name)
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            report.phases[name] = time.perf_counter() - self.t0
    return _Timer()


def _steps(report: RunReport, force_from: date | None, full_refresh: bool, skip_quality: bool,
           progress: Progress) -> None:
    files = report.files
    # ---- load
    with _timed(report, "load", progress):
        con = _open_work(files.work)
        try:
            # the loader's batches (up to 5 M staged rows) stay within the same memory limit as
            # the build, the gate and the publish, spilling beside the working database
            bound_memory(con, Path(str(files.work) + ".tmp"))
            report.load = load_landing(con, report.landing, report.run_id, progress=progress.load,
                                       force_from=force_from)
            report.data_date = data_date(con)
        except FileNotFoundError as e:
            if e.filename is None:
                raise PowerCRMError(str(e)) from e
            raise PowerCRMError(f"cannot read {e.filename}: {e.strerror}") from e
        except OSError as e:
            raise PowerCRMError(f"cannot read {e.filename}: {e.strerror}") from e
        except duckdb.Error as e:
            raise PowerCRMError(f"loading into the working database {files.work} failed: {_reason(e)}") from e
        except ValueError as e:  # POWERCRM_DUCKDB_MEMORY_LIMIT is not a memory size
            raise PowerCRMError(str(e)) from e
        finally:
            con.close()
    s = report.load
    if s.found == 0:
        raise PowerCRMError(f"the landing folder {report.landing} holds no partitions "
                            f"(expected <extract>/<YYYY-MM-DD>/<extract>.csv with a _manifest.json)")
    if report.data_date is None:
        raise PowerCRMError(f"nothing loaded from {report.landing}: {len(s.rejected)} partition(s) rejected, "
                            f"{len(s.without_manifest)} without manifest, none loaded before")
    # ---- build
    with _timed(report, "build", progress):
        report.build = run_dbt(files.work, files.state_dir, full_refresh=full_refresh, skip_tests=skip_quality,
                               on_node=progress.node, full_check=report.full_check)
        con = _open_work(files.work)
        try:
            save_dbt_results(con, report.run_id, report.build)
        finally:
            con.close()
    if report.build.errors:
        raise PowerCRMError(build_failure_message(report.build.errors))
    for t in report.build.failed_tests:
        if t.status == "fail":
            report.blocking.append(f"dbt test {t.name} failed on {t.failures} rows"
                                   + (f" of {t.relation}" if t.relation else ""))
        else:
            report.blocking.append(f"dbt test {t.name} could not run: {_reason(Exception(t.message))}")
    for t in report.build.warned_tests:
        report.warnings.append(f"dbt test {t.name} warns on {t.failures} rows"
                               + (f" of {t.relation}" if t.relation else ""))
    # ---- quality gate
    if not skip_quality:
        with _timed(report, "quality", progress):
            try:
                gate = quality_gate()
                if _accepts(gate, "full_check"):
                    outcome = gate(files.work, report.run_id, full_check=report.full_check)
                else:  # a stand-in gate without scopes
                    outcome = gate(files.work, report.run_id)
                if not report.full_check:
                    scope = getattr(outcome, "scope", None)
                    report.check_scope = (f"incremental: big facts checked in their changed months only ({scope})"
                                          if scope else "incremental") + f"; dbt tests tagged {FULL_SCAN_TAG} not run"
            except Exception as e:  # noqa: BLE001 - the gate is another module; report it in one sentence
                raise PowerCRMError(f"the quality checks could not run on {files.work}: {_reason(e)}") from e
            report.blocking += list(outcome.blocking)
            report.warnings += list(outcome.warnings)
            _write_quality_report(report)
    if report.blocking:
        report.exit_code = EXIT_BLOCKED
        return
    # ---- publish
    with _timed(report, "publish", progress):
        info = report.run_info()
        try:
            report.published = publish(files.work, files.published, run_info=info, patch=not report.full_check)
        except PublishError as e:
            raise PowerCRMError(str(e)) from e
        t_record = time.perf_counter()
        con = _open_work(files.work)
        try:
            record_publish(con, info, report.published)
        except duckdb.Error:
            pass  # history only; the file is published
        finally:
            con.close()
        report.published.step_seconds["record"] = time.perf_counter() - t_record
    report.exit_code = EXIT_REJECTED if report.load.rejected else EXIT_OK


def _accepts(func: Callable, name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _write_quality_report(report: RunReport) -> None:
    """`<stem>.quality.html` beside the published file, blocked runs included (that is when it is read)."""
    try:
        from powercrm.quality.report import write_report

        report.quality_report = write_report(report.files.work, report.files.quality_report, run_id=report.run_id)
    except Exception as e:  # noqa: BLE001 - the page is for people; the gate's verdict stands without it
        report.warnings.append(f"the quality report {report.files.quality_report} could not be written: {_reason(e)}")


def _write_last_run(report: RunReport) -> None:
    """`<stem>.state/last_run.json`: what the last run did, for `powercrm status`."""
    try:
        s = report.load
        data = {
            "run_id": report.run_id, "command": report.command, "started_at": report.started_at.isoformat(" "),
            "finished_at": datetime.now().isoformat(" ", "seconds"), "exit_code": report.exit_code,
            "outcome": report.outcome(), "error": report.error, "landing": str(report.landing),
            "data_date": report.data_date.isoformat() if report.data_date else None,
            "rejected": [r.message for r in s.rejected] if s else [],
            "blocking": report.blocking, "warnings": report.warnings,
            "phases": {k: round(v, 2) for k, v in report.phases.items()},
            "full_check": report.full_check, "check_scope": report.check_scope,
            "publish_seconds": ({k: round(v, 2) for k, v in report.published.step_seconds.items()}
                                if report.published is not None else {}),
        }
        (report.files.state_dir / "last_run.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))
    except OSError:
        pass


def read_last_run(files: WarehouseFiles) -> dict | None:
    try:
        return json.loads((files.state_dir / "last_run.json").read_text())
    except (OSError, ValueError):
        return None
