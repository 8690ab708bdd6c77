"""The run lock: one run per warehouse, the refusal names the holder, and a probe by `status`
does not make a starting run fail."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest

from powercrm.pipeline import LockHeld, RunLock


def test_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    path = tmp_path / "pc.lock"
    with RunLock(path, "run"):
        info = RunLock(path, "status").holder()
        assert info["pid"] == os.getpid() and info["command"] == "run"
        with pytest.raises(LockHeld) as e:
            RunLock(path, "rebuild").acquire()
        assert f"another powercrm run (pid {os.getpid()}, started " in str(e.value)
        assert f"is working on {tmp_path / 'pc.duckdb'}" in str(e.value)
    assert RunLock(path, "status").holder() is None
    with RunLock(path, "run"):  # free again
        pass


def test_a_momentary_probe_without_details_is_waited_for(tmp_path):
    path = tmp_path / "pc.lock"
    path.write_text("")
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)  # what `powercrm status` does for an instant

    def release():
        time.sleep(0.3)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    t = threading.Thread(target=release)
    t.start()
    t0 = time.monotonic()
    with RunLock(path, "run"):
        assert 0.2 < time.monotonic() - t0 < 2.0
    t.join()
