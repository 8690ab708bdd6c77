"""PowerCRM benchmark: the nightly pipeline at 20 000 / 200 000 / 1 000 000 customers × 24 months.

One harness that prints its figures and writes them to bench/results/ (a markdown table per
run, with the machine's cores and memory, and the same figures as JSON). It measures:

- the phases: simulate, load, dbt build, quality checks, publish — wall time and peak RSS of
  each (one real `powercrm run` in a subprocess; phase times from its last_run.json, peak RSS
  per phase from /proc polling attributed by the phase lines it prints, overall peak from
  wait4); landing size on disk, working and published file sizes; rows per table;
- the floor: DuckDB reading every landing file once (workers.py floor); load / floor and
  pipeline / floor;
- a nightly increment: `powercrm simulate --continue` then `powercrm run` (only that day);
  incremental / full;
- the analysts' queries (bench/queries/*.sql) over the published file, cold (new connection)
  and warm (repeated): p50 / p95;
- the pandas peer (bench/peer_pandas.py) against PowerCRM building the same three marts from
  raw (loader + `dbt build --select +sales_volume_monthly +recovery_monthly +customer_value`,
  tests excluded), with a comparison of the frames;
- time per million bill lines, for the scaling table (`--summary` rebuilds
  bench/results/SUMMARY.md from every run's JSON).

Benchmarks are never timed assertions in tests; nothing here fails on a slow figure.

    python bench/run_bench.py --size small            # or medium, large, or --customers N
    make bench SIZE=medium
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from measure import Measured, run  # noqa: E402

SIZES = {"small": 20_000, "medium": 200_000, "large": 1_000_000}
GIB = 1 << 30
MIB = 1 << 20
MARKER = ".powercrm-bench"
THREE = ["sales_volume_monthly", "recovery_monthly", "customer_value"]
GOALS = {  # at 1 000 000 customers (docs/benchmarks.md)
    "pipeline_over_floor": 4.0, "pipeline_seconds": 20 * 60, "increment_share": 0.10,
    "peak_rss_bytes": 8 * GIB, "query_p95_seconds": 1.0, "peer_speedup": 5.0,
}


def venv_bin(name: str) -> str:
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else name


def say(msg: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {msg}", flush=True)


# ------------------------------------------------------------------------------------ machine

def machine() -> dict:
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("duckdb", "pandas", "pyarrow", "numpy"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            versions[mod] = "?"
    try:
        from importlib.metadata import version
        versions["dbt-core"] = version("dbt-core")
        versions["dbt-duckdb"] = version("dbt-duckdb")
    except Exception:  # noqa: BLE001
        pass
    return {"cores": os.cpu_count(), "memory_bytes": mem, "cpu": cpu, "python": platform.python_version(),
            "versions": versions, "git": git_head(), "loadavg_start": os.getloadavg()}


def git_head() -> str:
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
    return git.stdout.strip() + (" (+uncommitted changes by others)" if dirty.stdout.strip() else "")


def du(path: Path) -> tuple[int, int]:
    """(bytes on disk, apparent bytes) of a file or folder."""
    if path.is_file():
        st = path.stat()
        return st.st_blocks * 512, st.st_size
    disk = app = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            disk += st.st_blocks * 512
            app += st.st_size
    return disk, app


def landing_stats(landing: Path) -> dict:
    ext = {}
    for d in sorted(p for p in landing.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        parts = files = rows = 0
        for part in d.iterdir():
            m = part / "_manifest.json"
            if m.is_file():
                parts += 1
                for f in json.loads(m.read_text(encoding="utf-8")).get("files", []):
                    files += 1
                    rows += int(f.get("rows", 0))
        disk, app = du(d)
        ext[d.name] = {"partitions": parts, "files": files, "rows": rows, "bytes": app, "disk_bytes": disk}
    disk, app = du(landing)
    return {"extracts": ext, "bytes": app, "disk_bytes": disk, "rows": sum(e["rows"] for e in ext.values()),
            "partitions": sum(e["partitions"] for e in ext.values()),
            "files": sum(e["files"] for e in ext.values())}


# ------------------------------------------------------------------------------------ steps

def worker(*args: str) -> tuple[Measured, dict]:
    m = run([sys.executable, str(HERE / "workers.py"), *map(str, args)])
    data = {}
    if m.ok:
        try:
            data = json.loads(m.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            data = {"error": "no JSON from worker"}
    else:
        data = {"error": m.stderr_tail[-2000:]}
    return m, data


def powercrm_run(landing: Path, warehouse: Path) -> dict:
    """One real `powercrm run`, measured; phases from last_run.json, per-phase peaks from polling."""
    started = time.time()
    m = run([venv_bin("powercrm"), "run", "--landing", str(landing), "--warehouse", str(warehouse)],
            phase_pattern=r"^(\w+) …$")
    state = warehouse.with_name(warehouse.stem + ".state")
    try:
        last = json.loads((state / "last_run.json").read_text())
    except (OSError, ValueError):
        last = {}
    phases = last.get("phases") or {}
    res = {"exit_code": m.returncode, "outcome": last.get("outcome"), "error": last.get("error"),
           "blocking": last.get("blocking", []), "seconds": m.seconds, "phases": phases,
           "phase_peak_rss_bytes": m.phase_peak_rss_bytes, "peak_rss_bytes": m.peak_rss_bytes,
           "sampled_peak_rss_bytes": m.sampled_peak_rss_bytes, "cpu_seconds": m.user_seconds + m.sys_seconds,
           "startup_seconds": max(0.0, m.seconds - sum(phases.values())), "stdout": m.stdout[-6000:],
           "publish_seconds": last.get("publish_seconds") or {},
           "stderr_tail": m.stderr_tail if not m.ok else ""}
    mm = re.search(r"partitions\s+(\d+) found: (\d+) loaded, (\d+) unchanged", m.stdout)
    if mm:
        res["partitions_found"], res["partitions_loaded"], res["partitions_unchanged"] = map(int, mm.groups())
    results = state / "target" / "run_results.json"
    # a build that stopped on a fatal error writes none: the file left is an earlier run's
    res["dbt_nodes"] = dbt_timing(results) if results.is_file() and results.stat().st_mtime >= started else {}
    return res


def dbt_timing(path: Path, top: int = 15) -> dict:
    try:
        rr = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    nodes = []
    for r in rr.get("results", []):
        uid = r.get("unique_id", "")
        parts = uid.split(".")
        nodes.append((parts[0], parts[2] if parts[0] in ("test", "unit_test") and len(parts) > 2 else parts[-1],
                      float(r.get("execution_time") or 0), r.get("status")))
    by_type: dict[str, float] = {}
    for t, _n, s, _st in nodes:
        by_type[t] = by_type.get(t, 0.0) + s
    models = sorted((n for n in nodes if n[0] in ("model", "seed")), key=lambda n: -n[2])[:top]
    tests = sorted((n for n in nodes if n[0] in ("test", "unit_test")), key=lambda n: -n[2])[:5]
    return {"elapsed": rr.get("elapsed_time"), "seconds_by_type": by_type,
            "slowest_models": [[n, s] for _t, n, s, _st in models],
            "slowest_tests": [[n, s] for _t, n, s, _st in tests], "nodes": len(nodes)}


def dbt_project() -> Path:
    return Path(os.environ.get("POWERCRM_DBT_PROJECT_DIR") or ROOT)


PROJECT_PATHS = ("dbt_project.yml", "packages.yml", "dependencies.yml", "models", "macros", "seeds",
                 "data-tests", "analyses", "snapshots", "profiles", "dbt_packages")


def frozen_commit(src: Path) -> str | None:
    """The commit of `src` when it is a git checkout (a worktree frozen for a bench run) whose dbt
    project files have no uncommitted change; None for anything else (a candidate change)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(src), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != src.resolve():
            return None
        if git("status", "--porcelain", "--", *PROJECT_PATHS):
            return None
        return git("rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return None


def is_candidate(r: dict) -> bool:
    """Whether a run benchmarked a candidate dbt project rather than the repository's (at some
    commit): another folder with changes of its own, or an added memory_limit."""
    proj = r.get("dbt_project") or {}
    if proj.get("source") in (None, str(ROOT)):
        return False
    return not proj.get("commit") or bool(proj.get("memory_limit"))


def candidate_project(src: Path, dst: Path, memory_limit: str | None) -> Path:
    """A copy of the dbt project `src` (optionally with a DuckDB memory_limit in its profile) for
    `powercrm run` to use through POWERCRM_DBT_PROJECT_DIR: benchmark a change before it is merged."""
    dst.mkdir(parents=True)
    for name in ("dbt_project.yml", "packages.yml", "dependencies.yml"):
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    for name in ("models", "macros", "seeds", "data-tests", "analyses", "snapshots", "profiles", "dbt_packages"):
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name)
    if memory_limit:
        prof = dst / "profiles" / "profiles.yml"
        text = prof.read_text()
        if "memory_limit" in text:
            raise SystemExit(f"{prof} already sets memory_limit")
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.strip() == "settings:":
                indent = len(lines[i + 1]) - len(lines[i + 1].lstrip())
                lines.insert(i + 1, " " * indent + f"memory_limit: {memory_limit!r}")
                break
        else:
            raise SystemExit(f"{prof} has no settings: block to add memory_limit to")
        prof.write_text("\n".join(lines) + "\n")
    return dst


def three_marts_powercrm(landing: Path, wdir: Path) -> dict:
    """PowerCRM from raw to the three marts: loader (the extracts they need) + dbt build --select."""
    wdir.mkdir(parents=True, exist_ok=True)
    work = wdir / "three.work.duckdb"
    env = dict(os.environ, POWERCRM_WORK_DB=str(work))
    root = dbt_project()
    select = " ".join(f"+{t}" for t in THREE)
    ls = subprocess.run([venv_bin("dbt"), "ls", "--select", *select.split(), "--resource-type", "source",
                         "--output", "name", "-q", "--project-dir", str(root), "--profiles-dir",
                         str(root / "profiles"), "--target-path", str(wdir / "target"), "--log-path",
                         str(wdir / "logs")], capture_output=True, text=True, env=env)
    extracts = sorted({ln.strip().split(".", 1)[1] for ln in ls.stdout.splitlines()
                       if ln.strip().startswith("raw.")})
    load_m, load_d = worker("load", landing, work, *extracts)
    dbt_m = run([venv_bin("dbt"), "build", "--select", *select.split(), "--exclude-resource-type", "test",
                 "--exclude-resource-type", "unit_test", "--project-dir", str(root), "--profiles-dir",
                 str(root / "profiles"), "--target-path", str(wdir / "target"), "--log-path", str(wdir / "logs"),
                 "--no-use-colors"], env=env)
    return {"extracts": extracts, "load_seconds": load_m.seconds, "load_peak_rss_bytes": load_m.peak_rss_bytes,
            "load": load_d, "dbt_seconds": dbt_m.seconds, "dbt_peak_rss_bytes": dbt_m.peak_rss_bytes,
            "dbt_ok": dbt_m.ok, "dbt_tail": "" if dbt_m.ok else (dbt_m.stdout[-3000:] + dbt_m.stderr_tail),
            "seconds": load_m.seconds + dbt_m.seconds,
            "peak_rss_bytes": max(load_m.peak_rss_bytes, dbt_m.peak_rss_bytes),
            "dbt_nodes": dbt_timing(wdir / "target" / "run_results.json"), "work_db": str(work)}


def copy_landing(src: Path, dst: Path) -> None:
    """Hard links for the data files (never rewritten), real copies of JSON (continue rewrites them)."""
    def cp(s, d):
        if s.endswith(".json"):
            return shutil.copy2(s, d)
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
        return d
    shutil.copytree(src, dst, copy_function=cp)


# ------------------------------------------------------------------------------------ report

def fs(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:,.0f}" if x >= 100 else (f"{x:.1f}" if x >= 10 else (f"{x:.2f}" if x >= 0.1 else f"{x:.3f}"))


def fb(n: int | None) -> str:
    if n is None:
        return "–"
    if n >= GIB:
        return f"{n / GIB:.2f} GiB"
    return f"{n / MIB:,.0f} MiB" if n >= 10 * MIB else (f"{n / MIB:.1f} MiB" if n >= MIB else f"{n / 1024:,.0f} KiB")


def ratio(a, b) -> float | None:
    return a / b if a is not None and b else None


def fr(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}×"


def status(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def goals(r: dict) -> list[tuple[str, str, str]]:
    full = r.get("full") or {}
    pipeline = full.get("pipeline_seconds")
    floor = (r.get("floor") or {}).get("per_file_seconds")
    inc = (r.get("increment") or {}).get("run", {}).get("seconds")
    qs = (r.get("queries") or {}).get("queries") or {}
    worst = max(qs.items(), key=lambda kv: max(kv[1]["cold_p95"], kv[1]["warm_p95"]), default=None)
    worst_p95 = max(worst[1]["cold_p95"], worst[1]["warm_p95"]) if worst else None
    peer = r.get("peer") or {}
    speed = ratio((peer.get("pandas") or {}).get("seconds"), (peer.get("powercrm") or {}).get("seconds"))
    mem = ratio((peer.get("pandas") or {}).get("peak_rss_bytes"), (peer.get("powercrm") or {}).get("peak_rss_bytes"))
    g = GOALS
    pf = ratio(pipeline, floor)
    return [
        ("full pipeline ≤ 4× the floor", fr(pf), status(None if pf is None else pf <= g["pipeline_over_floor"])),
        ("full pipeline < 20 min", f"{fs(pipeline)} s" if pipeline else "–",
         status(None if pipeline is None else pipeline < g["pipeline_seconds"])),
        ("nightly increment ≤ 10 % of a full run",
         f"{100 * ratio(inc, full.get('pipeline_seconds')):.1f} %" if inc and full.get("pipeline_seconds") else "–",
         status(None if not (inc and full.get("pipeline_seconds")) else inc / full["pipeline_seconds"] <= g["increment_share"])),
        ("peak memory ≤ 8 GiB (pipeline)", fb(full.get("peak_rss_bytes")),
         status(None if not full.get("peak_rss_bytes") else full["peak_rss_bytes"] <= g["peak_rss_bytes"])),
        ("every analyst query p95 < 1 s",
         f"worst {worst[0]}: {fs(worst_p95)} s" if worst else "–",
         status(None if worst_p95 is None else worst_p95 < g["query_p95_seconds"])),
        ("PowerCRM ≥ 5× faster than pandas", fr(speed),
         status(None if speed is None else speed >= g["peer_speedup"])),
        ("PowerCRM uses less memory than pandas", f"pandas / PowerCRM = {fr(mem, 2)}",
         status(None if mem is None else mem > 1)),
    ]


def markdown(r: dict) -> str:
    L: list[str] = []
    w = L.append
    mc, land = r["machine"], r.get("landing") or {}
    bill_lines = land.get("extracts", {}).get("bill_item", {}).get("rows") or 0

    def per_m(s):
        return s / (bill_lines / 1e6) if s is not None and bill_lines else None

    w(f"# PowerCRM benchmark — {r['size']} ({r['customers']:,} customers × {r['months']} months)\n")
    end_git = mc.get("git_end")
    w(f"Run {r['started_at']} – {r.get('finished_at', '?')}, commit {mc['git']}"
      + (f" (at the end: {end_git})" if end_git and end_git != mc["git"] else "") + ".  ")
    w(f"Machine: **{mc['cores']} cores, {fb(mc['memory_bytes'])} RAM** ({mc['cpu']}); Python {mc['python']}, "
      + ", ".join(f"{k} {v}" for k, v in mc["versions"].items()) + ".  ")
    la, lb = mc.get("loadavg_start"), mc.get("loadavg_end")
    w(f"Load average at start {la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f}"
      + (f", at end {lb[0]:.1f} / {lb[1]:.1f} / {lb[2]:.1f}" if lb else "")
      + (f"; 1-min load average during the run: mean {mc['loadavg_1min_mean']:.1f}, max {mc['loadavg_1min_max']:.1f}"
         if mc.get("loadavg_1min_mean") is not None else "")
      + f". Other work on the machine makes timings noisy when the load exceeds the {mc['cores']} cores.\n")
    if r.get("notes"):
        for n in r["notes"]:
            w(f"> {n}  ")
        w("")

    w("## Landing folder\n")
    w("| extract | partitions | files | rows | size |")
    w("| --- | ---: | ---: | ---: | ---: |")
    for e, d in land.get("extracts", {}).items():
        w(f"| {e} | {d['partitions']:,} | {d['files']:,} | {d['rows']:,} | {fb(d['bytes'])} |")
    w(f"| **total** | {land.get('partitions', 0):,} | {land.get('files', 0):,} | {land.get('rows', 0):,} | "
      f"{fb(land.get('bytes'))} ({fb(land.get('disk_bytes'))} on disk) |\n")
    w(f"Bill lines (bill_item rows): **{bill_lines:,}**.\n")

    full, sim = r.get("full") or {}, r.get("simulate") or {}
    w("## Full run: phases\n")
    w(f"One `powercrm run` on the fresh landing (exit {full.get('exit_code')}, {full.get('outcome')}).\n")
    w("| phase | wall s | share of pipeline | peak RSS | s per M bill lines |")
    w("| --- | ---: | ---: | ---: | ---: |")
    if sim:
        w(f"| simulate (not part of the pipeline) | {fs(sim.get('seconds'))} | | {fb(sim.get('peak_rss_bytes'))} | "
          f"{fs(per_m(sim.get('seconds')))} |")
    pipe = full.get("pipeline_seconds")
    pk = full.get("phase_peak_rss_bytes", {})
    for ph in ("startup", "load", "build", "quality", "publish"):
        s = full.get("phases", {}).get(ph) if ph != "startup" else full.get("startup_seconds")
        if ph == "publish" and full.get("publish_separate"):
            s = full["publish_separate"]["seconds"]
            label, peak = "publish (run separately: the gate blocked)", full["publish_separate"]["peak_rss_bytes"]
        else:
            label, peak = {"startup": "process start, imports", "build": "dbt build"}.get(ph, ph), pk.get(ph)
        if s is None:
            continue
        w(f"| {label} | {fs(s)} | {100 * s / pipe:.0f} % | {fb(peak)} | {fs(per_m(s))} |" if pipe else
          f"| {label} | {fs(s)} | | {fb(peak)} | {fs(per_m(s))} |")
    w(f"| **pipeline total** | **{fs(pipe)}** | 100 % | **{fb(full.get('peak_rss_bytes'))}** (wait4) | "
      f"{fs(per_m(pipe))} |\n")
    w("Peak RSS per phase: /proc polling every 50 ms of the process tree; the total is the kernel's "
      "`ru_maxrss` of the run (exact).\n")

    fl = r.get("floor") or {}
    load = full.get("phases", {}).get("load")
    w("## The floor\n")
    w("| measure | s | ratio |")
    w("| --- | ---: | ---: |")
    w(f"| floor: DuckDB reads every landing file once (one `read_csv` per file, all VARCHAR) | "
      f"{fs(fl.get('per_file_seconds'))} | 1× |")
    w(f"| same, one `read_csv` over all files of an extract (batched) | {fs(fl.get('batched_seconds'))} | "
      f"{fr(ratio(fl.get('batched_seconds'), fl.get('per_file_seconds')), 2)} |")
    w(f"| sha256 of every file (the manifest check) | {fs(fl.get('sha256_seconds'))} | "
      f"{fr(ratio(fl.get('sha256_seconds'), fl.get('per_file_seconds')), 2)} |")
    w(f"| **load / floor** | {fs(load)} | **{fr(ratio(load, fl.get('per_file_seconds')))}** |")
    w(f"| **full pipeline / floor** | {fs(pipe)} | **{fr(ratio(pipe, fl.get('per_file_seconds')))}** |\n")

    files = r.get("files") or {}
    w("## Files\n")
    w("| file | size |")
    w("| --- | ---: |")
    w(f"| landing folder | {fb(land.get('bytes'))} ({fb(land.get('disk_bytes'))} on disk) |")
    for k in ("work", "published"):
        if files.get(k) is not None:
            w(f"| {'working database' if k == 'work' else 'published file'} | {fb(files[k])} |")
    w("")

    inc = r.get("increment") or {}
    if inc:
        ir = inc.get("run", {})
        w("## Nightly increment\n")
        w(f"`powercrm simulate --continue` adds one business day, then `powercrm run` on the same warehouse "
          f"(exit {ir.get('exit_code')}, {ir.get('outcome')}): {ir.get('partitions_loaded', '?')} partitions loaded, "
          f"{ir.get('partitions_unchanged', '?')} unchanged.\n")
        w("| step | wall s | peak RSS | vs full run |")
        w("| --- | ---: | ---: | ---: |")
        w(f"| simulate --continue | {fs(inc.get('simulate', {}).get('seconds'))} | "
          f"{fb(inc.get('simulate', {}).get('peak_rss_bytes'))} | |")
        for ph, s in ir.get("phases", {}).items():
            fp = full.get("phases", {}).get(ph) or (
                (full.get("publish_separate") or {}).get("seconds") if ph == "publish" else None)
            w(f"| {ph} | {fs(s)} | {fb(ir.get('phase_peak_rss_bytes', {}).get(ph))} | "
              f"{'' if not fp else f'{100 * s / fp:.0f} %'} |")
        w(f"| **powercrm run total** | **{fs(ir.get('seconds'))}** | {fb(ir.get('peak_rss_bytes'))} | "
          f"**{100 * ratio(ir.get('seconds'), full.get('pipeline_seconds')):.1f} %** |\n" if ir.get("seconds") and full.get("pipeline_seconds")
          else "")
        earlier = (r.get("increment_nights") or [])[:-1]
        if earlier:
            w("Earlier nights of this run (the table above is the last): " + "; ".join(
                f"night {i}: {fs(n['seconds'])} s (" + ", ".join(f"{k} {fs(v)}" for k, v in n["phases"].items()) + ")"
                for i, n in enumerate(earlier, 1)) + ". The first night after the first publish has no previous "
                "version to patch: its publish copies the published file.\n")
        if ir.get("dbt_nodes"):
            w("Slowest dbt nodes in the increment: " + ", ".join(
                f"{n} {s:.1f}s" for n, s in ir["dbt_nodes"].get("slowest_models", [])[:8]) + ".\n")
        if ir.get("publish_seconds"):
            w("Slowest steps of the increment's publish: " + ", ".join(
                f"{n} {s:.1f}s" for n, s in sorted(ir["publish_seconds"].items(), key=lambda kv: -kv[1])[:8]) + ".\n")

    qs = (r.get("queries") or {}).get("queries") or {}
    if qs:
        q0 = next(iter(qs.values()))
        w("## Analysts' queries (published file)\n")
        w(f"Cold: a new read-only connection per run ({q0['cold_n']} runs; OS page cache warm). Warm: one "
          f"connection, {q0['warm_n']} repeats after a warm-up. Customer for 08: `{r['queries'].get('cons_no')}`.\n")
        w("| query | rows | cold p50 s | cold p95 s | warm p50 s | warm p95 s |")
        w("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, d in qs.items():
            w(f"| {name} | {d['rows']} | {fs(d['cold_p50'])} | {fs(d['cold_p95'])} | {fs(d['warm_p50'])} | "
              f"{fs(d['warm_p95'])} |")
        w("")

    peer = r.get("peer") or {}
    if peer:
        pd_, pc = peer.get("pandas", {}), peer.get("powercrm", {})
        w("## The pandas peer (sales_volume_monthly, recovery_monthly, customer_value from raw)\n")
        w("| | wall s | peak RSS |")
        w("| --- | ---: | ---: |")
        w(f"| pandas (bench/peer_pandas.py) | {fs(pd_.get('seconds'))} | {fb(pd_.get('peak_rss_bytes'))} |")
        w(f"| PowerCRM: loader ({len(pc.get('extracts', []))} extracts) | {fs(pc.get('load_seconds'))} | "
          f"{fb(pc.get('load_peak_rss_bytes'))} |")
        w(f"| PowerCRM: dbt build --select +three marts (no tests) | {fs(pc.get('dbt_seconds'))} | "
          f"{fb(pc.get('dbt_peak_rss_bytes'))} |")
        w(f"| **PowerCRM total** | **{fs(pc.get('seconds'))}** | **{fb(pc.get('peak_rss_bytes'))}** |")
        w(f"| **pandas / PowerCRM** | **{fr(ratio(pd_.get('seconds'), pc.get('seconds')), 2)}** | "
          f"**{fr(ratio(pd_.get('peak_rss_bytes'), pc.get('peak_rss_bytes')), 2)}** |\n")
        cmp_ = peer.get("compare") or {}
        if cmp_:
            w("Same numbers? (full outer join on the grain; money ±0.005, rates relative 1e-9, counts exact)\n")
            w("| mart | rows PowerCRM | rows pandas | only PowerCRM | only pandas | values differing |")
            w("| --- | ---: | ---: | ---: | ---: | ---: |")
            for t, d in cmp_.items():
                if "error" in d:
                    w(f"| {t} | {d['error']} | | | | |")
                    continue
                cols = ", ".join(f"{c} {n}" for c, n in d["columns"].items() if n) or "none"
                w(f"| {t} | {d['rows_powercrm']:,} | {d['rows_peer']:,} | {d['only_powercrm']} | {d['only_peer']} | "
                  f"{cols} |")
            w("")
            for t, d in cmp_.items():
                for c, rows in (d.get("samples") or {}).items():
                    w(f"- {t}.{c} e.g.: " + "; ".join(" / ".join(x) for x in rows[:3]))
            w("")

    nodes = full.get("dbt_nodes") or {}
    if nodes:
        w("## dbt build of the full run (run_results.json)\n")
        w("Seconds by resource type: " + ", ".join(f"{k} {v:.1f}" for k, v in nodes.get("seconds_by_type", {}).items())
          + f" (summed over 2 threads; build phase wall {fs(full.get('phases', {}).get('build'))} s).\n")
        w("| slowest models | s |")
        w("| --- | ---: |")
        for n, s in nodes.get("slowest_models", []):
            w(f"| {n} | {s:.1f} |")
        w("")
        w("Slowest tests: " + ", ".join(f"{n} {s:.1f}s" for n, s in nodes.get("slowest_tests", [])) + ".\n")

    rows = r.get("tables") or {}
    if rows:
        w("## Rows per published table\n")
        w("| table | rows |")
        w("| --- | ---: |")
        for t, n in rows.items():
            w(f"| {t} | {n:,} |")
        w("")

    w("## Goals (stated for 1 000 000 customers; shown here as measured at this size)\n")
    w("| goal | measured | status |")
    w("| --- | --- | --- |")
    for g, m, s in goals(r):
        w(f"| {g} | {m} | {s} |")
    w("")
    return "\n".join(L)


def load_mean(mc: dict) -> str:
    if mc.get("loadavg_1min_mean") is not None:
        return fs(mc["loadavg_1min_mean"])
    ends = [x[0] for x in (mc.get("loadavg_start"), mc.get("loadavg_end")) if x]
    return f"≈{fs(sum(ends) / len(ends))} (start/end)" if ends else "–"


def summary(results: Path) -> str:
    """The scaling table over the latest run of each size (bench/results/*.json)."""
    runs: dict[int, dict] = {}
    for p in sorted(results.glob("*.json")):
        try:
            r = json.loads(p.read_text())
        except ValueError:
            continue
        if r.get("full", {}).get("pipeline_seconds") and not is_candidate(r):
            runs[r["customers"]] = r | {"_file": p.name}
    L = ["# PowerCRM benchmark: scaling (latest run of each size)\n",
         "Seconds per million bill lines (bill_item rows): constant across sizes means linear growth.\n",
         "| customers | bill lines | landing | load s | build s | quality s | publish s | pipeline s | "
         "s / M lines | floor s | pipeline / floor | peak RSS | increment s | queries worst p95 s | "
         "pandas / PowerCRM time | machine load (mean 1-min) | run |",
         "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in sorted(runs):
        r = runs[c]
        f = r["full"]
        ph = f.get("phases", {})
        lines = r["landing"]["extracts"].get("bill_item", {}).get("rows", 0)
        fl = (r.get("floor") or {}).get("per_file_seconds")
        qs = (r.get("queries") or {}).get("queries") or {}
        worst = max((max(d["cold_p95"], d["warm_p95"]) for d in qs.values()), default=None)
        peer = r.get("peer") or {}
        sp = ratio((peer.get("pandas") or {}).get("seconds"), (peer.get("powercrm") or {}).get("seconds"))
        pub = ph.get("publish") or (f.get("publish_separate") or {}).get("seconds")
        inc = (r.get("increment") or {}).get("run", {}).get("seconds")
        L.append(f"| {c:,} | {lines:,} | {fb(r['landing']['bytes'])} | {fs(ph.get('load'))} | {fs(ph.get('build'))} | "
                 f"{fs(ph.get('quality'))} | {fs(pub)} | {fs(f['pipeline_seconds'])} | "
                 f"{fs(f['pipeline_seconds'] / (lines / 1e6)) if lines else '–'} | {fs(fl)} | "
                 f"{fr(ratio(f['pipeline_seconds'], fl))} | {fb(f.get('peak_rss_bytes'))} | {fs(inc)} | {fs(worst)} | "
                 f"{fr(sp, 2)} | {load_mean(r['machine'])} | {r['_file']}"
                 + (f" (dbt memory_limit {r['dbt_project']['memory_limit']})"
                    if (r.get("dbt_project") or {}).get("memory_limit") else "") + " |")
    L.append("\nA machine load above the 2 cores means other work shared the CPU: those timings are inflated "
             "(the 200 000 run of 14:28 took 1 982 s under a load of 8, the same landing 595 s under 2.6).")
    return "\n".join(L) + "\n"


# ------------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="PowerCRM benchmark: phases, floor, nightly increment, analysts' "
                                             "queries, pandas peer, scaling. Writes bench/results/<time>-<size>.md/.json.",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="sizes: small 20 000, medium 200 000, large 1 000 000 customers (× --months)")
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--customers", type=int, help="override the size's customer count")
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dirty", type=float, default=0.0, help="simulate --dirty (default 0: clean extracts)")
    ap.add_argument("--work", type=Path, help="scratch folder (default $POWERCRM_BENCH_WORK or "
                                             "/tmp/powercrm-bench/<size>); replaced at start")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--landing", type=Path, help="reuse this simulated landing (copied with hard links) "
                                                 "instead of simulating; simulate is then not timed")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["floor", "queries", "peer", "increment", "tables"], help="leave a step out (repeatable)")
    ap.add_argument("--nights", type=int, default=2,
                    help="nightly increments run one after the other (default 2: the first night after the "
                         "first publish copies the published file, later nights patch the previous version); "
                         "the last is reported against the goal")
    ap.add_argument("--cold", type=int, default=10, help="cold runs per query (default 10)")
    ap.add_argument("--warm", type=int, default=20, help="warm runs per query (default 20)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (landing, warehouse)")
    ap.add_argument("--label", help="appended to the size in the result file names (e.g. candidate)")
    ap.add_argument("--dbt-project", type=Path, help="benchmark this dbt project instead of the repository's "
                                                     "(a candidate change; passed as POWERCRM_DBT_PROJECT_DIR)")
    ap.add_argument("--duckdb-memory-limit", metavar="SIZE",
                    help="run dbt with this DuckDB memory_limit (e.g. 6GB): a copy of the project whose profile "
                         "sets it (the loader and quality gate keep DuckDB's default)")
    ap.add_argument("--summary", action="store_true", help="only rebuild bench/results/SUMMARY.md and exit")
    ap.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                    help="only re-render the markdown of earlier runs from their JSON and exit")
    args = ap.parse_args(argv)

    args.results.mkdir(parents=True, exist_ok=True)
    if args.render:
        for f in args.render:
            f.with_suffix(".md").write_text(markdown(json.loads(f.read_text())))
            print(f"rendered {f.with_suffix('.md')}")
        return 0
    if args.summary:
        (args.results / "SUMMARY.md").write_text(summary(args.results))
        print(summary(args.results))
        return 0

    customers = args.customers or SIZES[args.size]
    size = args.size if not args.customers else f"{args.customers // 1000}k"
    if args.label:
        size += f"-{args.label}"
    work = args.work or Path(os.environ.get("POWERCRM_BENCH_WORK") or f"/tmp/powercrm-bench/{size}")
    if work.exists():
        if not (work / MARKER).exists():
            ap.error(f"{work} exists and is not a bench scratch folder (no {MARKER}); choose another --work")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / MARKER).write_text("scratch folder of bench/run_bench.py\n")
    landing, warehouse = work / "landing", work / "wh" / "powercrm.duckdb"
    warehouse.parent.mkdir()
    stamp = datetime.now()
    r: dict = {"size": size, "customers": customers, "months": args.months, "seed": args.seed, "dirty": args.dirty,
               "started_at": stamp.isoformat(" ", "seconds"), "machine": machine(), "work": str(work), "notes": []}
    base = args.results / f"{stamp:%Y%m%d-%H%M%S}-{size}"

    load_samples: list[float] = []
    stop = threading.Event()

    def sample_load() -> None:  # how busy the machine was while we measured (other work makes timings noisy)
        while not stop.wait(15):
            load_samples.append(os.getloadavg()[0])

    threading.Thread(target=sample_load, daemon=True).start()

    def save() -> None:
        r["finished_at"] = datetime.now().isoformat(" ", "seconds")
        r["machine"]["loadavg_end"] = os.getloadavg()
        if load_samples:
            r["machine"]["loadavg_1min_mean"] = sum(load_samples) / len(load_samples)
            r["machine"]["loadavg_1min_max"] = max(load_samples)
        r["machine"]["git_end"] = git_head()
        base.with_suffix(".json").write_text(json.dumps(r, indent=1, default=str, ensure_ascii=False))
        base.with_suffix(".md").write_text(markdown(r))

    if args.dbt_project or args.duckdb_memory_limit:
        src = (args.dbt_project or ROOT).resolve()
        proj = candidate_project(src, work / "dbt_project", args.duckdb_memory_limit)
        os.environ["POWERCRM_DBT_PROJECT_DIR"] = str(proj)
        commit = frozen_commit(src)
        r["dbt_project"] = {"source": str(src), "memory_limit": args.duckdb_memory_limit, "commit": commit}
        r["notes"].append(f"dbt project: a copy of {src}" + (
            f" with DuckDB memory_limit {args.duckdb_memory_limit}" if args.duckdb_memory_limit else "")
            + (f" (a clean checkout of commit {commit[:7]})" if commit
               else " (not the repository's project as committed)"))
    say(f"{size}: {customers:,} customers × {args.months} months in {work}; machine "
        f"{r['machine']['cores']} cores, {fb(r['machine']['memory_bytes'])}, load average "
        f"{r['machine']['loadavg_start'][0]:.1f}")

    # ---- simulate
    if args.landing:
        say(f"reusing the landing {args.landing} (copy with hard links)")
        copy_landing(args.landing, landing)
        r["notes"].append(f"landing reused from {args.landing}: simulate not timed in this run")
    else:
        say("simulate …")
        m = run([venv_bin("powercrm"), "simulate", "--out", str(landing), "--customers", str(customers),
                 "--months", str(args.months), "--seed", str(args.seed), "--dirty", str(args.dirty), "--quiet"])
        r["simulate"] = {"seconds": m.seconds, "peak_rss_bytes": m.peak_rss_bytes, "exit_code": m.returncode}
        if not m.ok:
            r["notes"].append("simulate failed: " + m.stderr_tail[-500:])
            save()
            say("simulate failed:\n" + m.stderr_tail)
            return 1
        say(f"  {m.seconds:.1f} s, peak {fb(m.peak_rss_bytes)}")
    r["landing"] = landing_stats(landing)
    say(f"  landing {r['landing']['partitions']:,} partitions, {r['landing']['rows']:,} rows, "
        f"{fb(r['landing']['bytes'])}")
    save()

    # ---- floor
    if "floor" not in args.skip:
        say("floor: DuckDB reads every landing file once …")
        m, d = worker("floor", landing)
        r["floor"] = d | {"process_seconds": m.seconds, "peak_rss_bytes": m.peak_rss_bytes}
        say(f"  per file {d.get('per_file_seconds', 0):.1f} s, batched {d.get('batched_seconds', 0):.1f} s, "
            f"sha256 {d.get('sha256_seconds', 0):.1f} s")
        save()

    # ---- full run
    say("powercrm run (full) …")
    full = powercrm_run(landing, warehouse)
    r["full"] = full
    say(f"  exit {full['exit_code']} ({full['outcome']}) in {full['seconds']:.1f} s: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in full["phases"].items()) + f"; peak {fb(full['peak_rss_bytes'])}")
    from powercrm.publish import WarehouseFiles
    wf = WarehouseFiles(warehouse)
    full["pipeline_seconds"] = full["seconds"]
    if full["exit_code"] == 4:
        note = ("the quality gate BLOCKED the full run (" + "; ".join(full["blocking"][:3]) + "); publish was "
                "measured separately (workers.py publish) and added to the pipeline time")
        r["notes"].append(note)
        say("  " + note)
        m, d = worker("publish", wf.work, warehouse)
        full["publish_separate"] = {"seconds": m.seconds, "peak_rss_bytes": m.peak_rss_bytes, **d}
        full["pipeline_seconds"] = full["seconds"] + m.seconds
        full["peak_rss_bytes"] = max(full["peak_rss_bytes"], m.peak_rss_bytes)
    elif full["exit_code"] not in (0, 3):
        r["notes"].append(f"the full run failed (exit {full['exit_code']}): {full['error']}")
        say(f"  FAILED: {full['error']}\n{full['stderr_tail']}")
    r["files"] = {"work": du(wf.work)[1] if wf.work.exists() else None,
                  "published": du(warehouse)[1] if warehouse.exists() else None}
    save()

    published = warehouse.exists()
    if "tables" not in args.skip:
        m, d = worker("tables", warehouse if published else wf.work)
        r["tables"] = d if "error" not in d else {}
        save()

    # ---- analysts' queries
    if "queries" not in args.skip and published:
        say("analysts' queries …")
        m, d = worker("queries", warehouse, HERE / "queries", args.cold, args.warm)
        r["queries"] = d
        for name, q in (d.get("queries") or {}).items():
            say(f"  {name:<36} cold p95 {q['cold_p95']:.3f} s, warm p95 {q['warm_p95']:.3f} s")
        if "error" in d:
            say("  queries failed: " + d["error"][-800:])
        save()

    # ---- pandas peer vs PowerCRM on the three marts
    if "peer" not in args.skip:
        say("pandas peer …")
        peer_dir = work / "peer"
        m = run([sys.executable, str(HERE / "peer_pandas.py"), "--landing", str(landing), "--out", str(peer_dir)])
        r["peer"] = {"pandas": {"seconds": m.seconds, "peak_rss_bytes": m.peak_rss_bytes, "exit_code": m.returncode,
                                "log": m.stderr_tail[-3000:]}}
        say(f"  pandas {m.seconds:.1f} s, peak {fb(m.peak_rss_bytes)} (exit {m.returncode})")
        save()
        say("PowerCRM from raw to the three marts …")
        pc = three_marts_powercrm(landing, work / "three")
        r["peer"]["powercrm"] = pc
        say(f"  load {pc['load_seconds']:.1f} s + dbt {pc['dbt_seconds']:.1f} s, peak {fb(pc['peak_rss_bytes'])}")
        if m.ok and pc["dbt_ok"]:
            _, d = worker("compare", pc["work_db"], peer_dir)
            r["peer"]["compare"] = d
            for t, c in d.items():
                say(f"  {t}: " + (c.get("error") or f"{c['rows_powercrm']} vs {c['rows_peer']} rows, "
                                  f"{c['only_powercrm']}+{c['only_peer']} unmatched, "
                                  f"{c['mismatched_values']} values differ"))
        save()

    # ---- nightly increment: --nights business days, one after the other on the same warehouse.
    # The first night after the first publish has no previous version to patch and copies the
    # published file; the later nights are what every night costs, and the last one is reported.
    if "increment" not in args.skip and full["exit_code"] in (0, 3, 4):
        nights = []
        for night in range(1, args.nights + 1):
            say(f"nightly increment {night}/{args.nights}: simulate --continue …")
            m = run([venv_bin("powercrm"), "simulate", "--continue", str(landing), "--quiet"])
            one = {"simulate": {"seconds": m.seconds, "peak_rss_bytes": m.peak_rss_bytes, "exit_code": m.returncode}}
            if not m.ok:
                r["notes"].append("simulate --continue failed: " + m.stderr_tail[-400:])
                break
            say(f"  {m.seconds:.1f} s; powercrm run (increment) …")
            inc = powercrm_run(landing, warehouse)
            one["run"] = inc
            if inc["exit_code"] == 4:  # blocked: publish what was built, as for the full run
                m, d = worker("publish", wf.work, warehouse)
                inc["publish_separate"] = {"seconds": m.seconds, "peak_rss_bytes": m.peak_rss_bytes, **d}
                inc["phases"]["publish"] = m.seconds
                inc["phase_peak_rss_bytes"]["publish"] = m.peak_rss_bytes
                inc["seconds"] += m.seconds
                r["notes"].append("the quality gate BLOCKED the incremental run too; its publish was measured "
                                  "separately and added")
            say(f"  exit {inc['exit_code']} ({inc['outcome']}) in {inc['seconds']:.1f} s: "
                + ", ".join(f"{k} {v:.1f}s" for k, v in inc["phases"].items())
                + f"; {inc.get('partitions_loaded')} partitions loaded; "
                  f"{100 * inc['seconds'] / full['pipeline_seconds']:.1f} % of the full run")
            nights.append(one)
            r["increment"] = one
            r["increment_nights"] = [{"seconds": n["run"]["seconds"], "phases": n["run"]["phases"]}
                                     for n in nights if n.get("run")]
            save()

    save()
    (args.results / "SUMMARY.md").write_text(summary(args.results))
    say(f"results: {base.with_suffix('.md')} (and .json); scaling table: {args.results / 'SUMMARY.md'}")
    print()
    print(markdown(r))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
