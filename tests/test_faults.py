"""SIGKILL during a run: the published file stays intact and the next run completes.

Each test starts from the same published warehouse (2 days of payments), adds a day, starts
`powercrm run` in a subprocess that pauses at a known point (POWERCRM_TEST_PAUSE_AT, see
powercrm/testhooks.py), kills it with SIGKILL, checks what is left, and runs again.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import duckdb
import pytest
from cli_helpers import add_day, query, run_subprocess, sha, small_landing, start_paused, use_fixture_project

from powercrm import cli
from powercrm.pipeline import RunLock
from powercrm.publish import WarehouseFiles


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("faults-baseline")
    small_landing(base / "landing")
    p = run_subprocess("run", "--quiet", "--landing", str(base / "landing"), "--warehouse", str(base / "wh" / "pc.duckdb"))
    assert p.returncode == 0, p.stdout + p.stderr
    return base


@pytest.fixture
def setup(baseline, tmp_path) -> tuple[Path, Path]:
    shutil.copytree(baseline, tmp_path / "c")
    landing, wh = tmp_path / "c" / "landing", tmp_path / "c" / "wh" / "pc.duckdb"
    add_day(landing, "2024-03-07", amount="70.00")
    return landing, wh


def work_state(work: Path) -> tuple:
    con = duckdb.connect(str(work), read_only=True)
    try:
        return (con.execute("select pay_id from raw.payment order by all").fetchall(),
                con.execute("select extract, business_date, manifest_sha256 from meta.partitions order by all").fetchall(),
                con.execute("select count(*) from meta.load_log where status = 'LOADED'").fetchone()[0])
    finally:
        con.close()


@pytest.mark.parametrize("at", ["load", "build", "publish"])
def test_sigkill_leaves_the_published_file_intact_and_the_next_run_completes(setup, at, monkeypatch, capsys):
    landing, wh = setup
    files = WarehouseFiles(wh)
    published_before = sha(wh)
    work_before = work_state(files.work)
    assert query(wh, "select count(*) from core.fct_payment") == [[4]]

    proc = start_paused("run", "--landing", str(landing), "--warehouse", str(wh), at=at)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert sha(wh) == published_before  # the analysts' file is untouched ...
    assert query(wh, "select count(*) from core.fct_payment") == [[4]]  # ... and opens
    assert RunLock(files.lock, "test").holder() is None  # the kernel released the lock
    if at == "load":
        # killed inside the partition's transaction: the working database is as before the run
        assert work_state(files.work) == work_before
    if at == "publish":
        assert files.next.exists()  # half written; the next run starts it again

    use_fixture_project(monkeypatch)  # the next run, in this process (saves a Python and dbt start)
    code = cli.main(["run", "--quiet", "--landing", str(landing), "--warehouse", str(wh)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    expect_loaded = "1 loaded, 2 unchanged" if at == "load" else "0 loaded, 3 unchanged"
    assert f"3 found: {expect_loaded}" in out
    assert query(wh, "select count(*), sum(amount_yuan) from core.fct_payment") == [[5, "200.00"]]
    assert sha(files.prev) == published_before
    assert not files.next.exists()
