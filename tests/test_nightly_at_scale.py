"""A night at the size `make run` simulates: 20 000 customers × 24 months, a full run, one more
business day (`powercrm simulate --continue`) and the nightly run over it, with the real models.

The other end-to-end tests load small landing folders whose batches fit in a few DuckDB vectors
(2 048 rows). Some plans go wrong only over many chunks: DuckDB 2.0.0's "dictionary-surviving"
hash join failed fatally in the nightly batch of fct_arrears_snapshot ("dict-surviving join:
narrowed column 7 received a non-dictionary chunk", macros/cross_db.sql, materialized_cte) at
20 000 customers and at 1 000 000, not at 10 000; the fatal error invalidated the database and
the night published nothing. This test runs that night (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]


def _powercrm(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERCRM_")}  # the real project
    return subprocess.run([sys.executable, "-m", "powercrm", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scale")
    landing, warehouse = tmp / "landing", tmp / "wh" / "powercrm.duckdb"
    steps = {}
    for name, args in (("simulate", ("simulate", "--out", str(landing), "--customers", "20000", "--quiet")),
                       ("full", ("run", "--landing", str(landing), "--warehouse", str(warehouse))),
                       ("continue", ("simulate", "--continue", str(landing), "--quiet")),
                       ("night", ("run", "--landing", str(landing), "--warehouse", str(warehouse)))):
        p = _powercrm(*args)
        steps[name] = p
        assert p.returncode == 0, f"{name}: exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return landing, warehouse, steps


def test_the_night_after_a_full_run_publishes(night) -> None:
    landing, warehouse, steps = night
    out = steps["night"].stdout
    assert "result      OK" in out, out
    # the simulator's default company: data date 2025-01-24, continued by one business day
    sim = json.loads((landing / "_simulation.json").read_text(encoding="utf-8"))
    assert sim["data_date"] == "2025-01-25"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select max(snapshot_date) from core.fct_arrears_snapshot").fetchone() == (date(2025, 1, 25),)
        assert con.execute("select distinct as_of_date from marts.customer_credit").fetchall() == [(date(2025, 1, 25),)]
        # the night loaded only the new day's partitions, each accounted for
        loaded = con.execute("select count(*) from audit.load_log "
                             "where status = 'LOADED' and business_date = date '2025-01-25'").fetchone()[0]
        assert loaded >= 5
        bad = con.execute("select count(*) from audit.load_log where status = 'LOADED' "
                          "and rows_in <> rows_loaded + rows_quarantined").fetchone()
        assert bad == (0,)


def test_the_night_reads_only_the_new_day(night) -> None:
    _, _, steps = night
    first, again = steps["full"].stdout, steps["night"].stdout
    assert "0 unchanged" in first
    line = next(ln for ln in again.splitlines() if ln.strip().startswith("partitions"))
    assert " 0 rejected" in line and "unchanged" in line and " 0 loaded" not in line, line
