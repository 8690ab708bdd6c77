"""Running `powercrm` in tests: in-process (fast) or as a subprocess (locks, kills).

Both point dbt at tests/fixtures/dbt_project (POWERCRM_DBT_PROJECT_DIR), a tiny project that
builds staging/core/marts from raw.payment, and the quality gate at tests/fixtures/fixture_gate.py
(POWERCRM_QUALITY_GATE), so these tests do not depend on the real models and suites.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from landing_factory import payment, write_partition

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
FIXTURE_PROJECT = FIXTURES / "dbt_project"
FIXTURE_GATE = "fixture_gate:run_quality"  # tests/fixtures/fixture_gate.py


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERCRM_")}
    env["POWERCRM_DBT_PROJECT_DIR"] = str(FIXTURE_PROJECT)
    env["POWERCRM_QUALITY_GATE"] = FIXTURE_GATE
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(FIXTURES), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def use_fixture_project(monkeypatch) -> None:
    """For in-process runs (`powercrm.cli.main`): the same environment as `cli_env`."""
    for k in list(os.environ):
        if k.startswith("POWERCRM_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("POWERCRM_DBT_PROJECT_DIR", str(FIXTURE_PROJECT))
    monkeypatch.setenv("POWERCRM_QUALITY_GATE", FIXTURE_GATE)
    monkeypatch.syspath_prepend(str(FIXTURES))


def run_subprocess(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "powercrm", *args], env=env or cli_env(), capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def start_paused(*args: str, at: str, timeout: float = 90) -> subprocess.Popen:
    """Start `powercrm <args>` with POWERCRM_TEST_PAUSE_AT=at; return once it is paused there."""
    proc = subprocess.Popen([sys.executable, "-m", "powercrm", *args], cwd=REPO,
                            env=cli_env(POWERCRM_TEST_PAUSE_AT=at, POWERCRM_TEST_PAUSE_SECONDS="120"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                raise AssertionError(f"powercrm ended (status {proc.returncode}) before pausing at {at}: {''.join(seen)}")
            continue
        seen.append(line)
        if f"test pause at {at}" in line:
            return proc
    proc.kill()
    raise AssertionError(f"powercrm did not pause at {at} within {timeout}s: {''.join(seen)}")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(db: Path, sql: str) -> list[list]:
    """Read a published file from another process (this one's DuckDB caches open instances).
    Values other than numbers and text come back as text."""
    code = ("import duckdb, json, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print(json.dumps(con.execute(sys.argv[2]).fetchall(), default=str))")
    p = subprocess.run([sys.executable, "-c", code, str(db), sql], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def query_here(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def small_landing(landing: Path) -> Path:
    """Two days of payments: 3 + 2 rows, one of them quarantined (unknown channel)."""
    write_partition(landing, "payment", "2024-03-05",
                    [payment("P1", "10.00"), payment("P2", "20.00", channel="CASH"), payment("P3", "30.00")])
    write_partition(landing, "payment", "2024-03-06",
                    [payment("P4", "40.00", pay_time="2024-03-06 09:00:00"),
                     payment("P5", "50.00", pay_time="2024/03/06 10:00")])
    return landing


def add_day(landing: Path, day: str = "2024-03-07", amount: str = "70.00", **kw) -> Path:
    return write_partition(landing, "payment", day, [payment(f"P{day[-2:]}", amount, pay_time=f"{day} 09:00:00")],
                           **kw)
