"""Fault-injection hook for the crash tests (tests/test_faults.py).

`POWERCRM_TEST_PAUSE_AT=load|build|publish` makes a run stop for a while at that point, after
announcing it on stderr, so that a test can SIGKILL the process at a known moment:

- `load`: inside a partition's transaction, after its rows went into raw and quarantine,
  before the load log and commit;
- `build`: inside `dbt build`, after the first model finished;
- `publish`: while the next file is half written (first table copied, not yet checkpointed).

`POWERCRM_TEST_PAUSE_SECONDS` (default 120) is how long it waits. Unset, nothing happens.
"""

from __future__ import annotations

import os
import sys
import time

ENV_AT = "POWERCRM_TEST_PAUSE_AT"
ENV_SECONDS = "POWERCRM_TEST_PAUSE_SECONDS"
_paused: set[str] = set()


def pause_point(name: str) -> None:
    if os.environ.get(ENV_AT) != name or name in _paused:
        return
    _paused.add(name)
    sys.stderr.write(f"powercrm: test pause at {name} (pid {os.getpid()})\n")
    sys.stderr.flush()
    time.sleep(float(os.environ.get(ENV_SECONDS) or 120))
