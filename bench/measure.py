"""Run a command in a subprocess and measure it: wall time, peak RSS, and phase markers.

Peak RSS comes from two sources:
- `os.wait4` on the child: the kernel's `ru_maxrss` of that child (the largest of it and its
  waited-for descendants), exact but one figure for the whole process;
- a polling thread that sums VmRSS over the child and its descendants every `interval` seconds
  (no psutil: /proc/<pid>/task/<tid>/children and /proc/<pid>/status), so that a peak can be
  attributed to the phase that was running (phases are read from the child's stderr lines, see
  `phase_pattern`). Sampled peaks can miss a short spike; the wait4 figure never does.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Measured:
    argv: list[str]
    returncode: int = 0
    seconds: float = 0.0
    peak_rss_bytes: int = 0            # wait4 ru_maxrss (exact, the whole child)
    sampled_peak_rss_bytes: int = 0    # polled tree sum
    user_seconds: float = 0.0
    sys_seconds: float = 0.0
    phase_peak_rss_bytes: dict[str, int] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)  # from the stderr markers
    stdout: str = ""
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["stdout"] = self.stdout[-4000:]
        return d


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss(p)
        todo += _children(p)
    return total


def run(argv: list[str], *, env: dict | None = None, cwd: str | Path | None = None,
        phase_pattern: str | None = None, interval: float = 0.05, echo: bool = False,
        stdin=subprocess.DEVNULL) -> Measured:
    """Run `argv`; stdout is captured, stderr is scanned line by line for phase markers.

    `phase_pattern`: a regex with one group, the phase name (e.g. powercrm's Console prints
    `load …` when a phase starts). Peak RSS samples are attributed to the current phase.
    """
    m = Measured(list(map(str, argv)))
    pat = re.compile(phase_pattern) if phase_pattern else None
    state = {"phase": "startup", "since": None}
    lock = threading.Lock()
    t0 = time.perf_counter()
    proc = subprocess.Popen(m.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin,
                            env=env, cwd=cwd, text=True, errors="replace", bufsize=1)
    state["since"] = t0
    done = threading.Event()
    out_chunks: list[str] = []
    err_tail: list[str] = []

    def poll() -> None:
        while not done.is_set():
            r = tree_rss(proc.pid)
            with lock:
                ph = state["phase"]
                if r > m.sampled_peak_rss_bytes:
                    m.sampled_peak_rss_bytes = r
                if r > m.phase_peak_rss_bytes.get(ph, 0):
                    m.phase_peak_rss_bytes[ph] = r
            done.wait(interval)

    def read_err() -> None:
        for line in proc.stderr:
            if echo:
                print("    | " + line.rstrip(), flush=True)
            err_tail.append(line)
            if len(err_tail) > 200:
                del err_tail[:100]
            if pat:
                mm = pat.match(line.strip())
                if mm:
                    now = time.perf_counter()
                    with lock:
                        prev = state["phase"]
                        m.phase_seconds[prev] = m.phase_seconds.get(prev, 0.0) + now - state["since"]
                        state["phase"], state["since"] = mm.group(1), now

    def read_out() -> None:
        for chunk in proc.stdout:
            out_chunks.append(chunk)

    threads = [threading.Thread(target=f, daemon=True) for f in (poll, read_err, read_out)]
    for t in threads:
        t.start()
    _, status, ru = os.wait4(proc.pid, 0)
    m.seconds = time.perf_counter() - t0
    done.set()
    for t in threads[1:]:
        t.join(timeout=10)
    threads[0].join(timeout=1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    m.returncode = proc.returncode
    m.peak_rss_bytes = ru.ru_maxrss * 1024
    m.user_seconds, m.sys_seconds = ru.ru_utime, ru.ru_stime
    with lock:
        m.phase_seconds[state["phase"]] = m.phase_seconds.get(state["phase"], 0.0) + (
            time.perf_counter() - state["since"])
    m.stdout = "".join(out_chunks)
    m.stderr_tail = "".join(err_tail[-40:])
    return m
