"""`powercrm` commands end to end on hand-made landing folders, with the fixture dbt project.

Exit statuses: 0 published · 1 failed · 3 published with rejected partitions · 4 blocked.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import (
    FIXTURE_PROJECT,
    add_day,
    query,
    query_here,
    sha,
    small_landing,
    start_paused,
    use_fixture_project,
)
from test_publish import _make_unwritable, _make_writable, duckdb1_python

from powercrm import cli, pipeline
from powercrm import publish as publish_module
from powercrm.publish import WarehouseFiles
from powercrm.quality import gate


@pytest.fixture
def fixture_project(monkeypatch):
    use_fixture_project(monkeypatch)
    return FIXTURE_PROJECT


@pytest.fixture
def run(fixture_project, capsys):
    """Run `powercrm <args>` in this process -> (exit status, stdout, stderr)."""

    def _run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


@pytest.fixture
def wh(tmp_path) -> Path:
    return tmp_path / "wh" / "pc.duckdb"


def schemas_and_tables(db: Path) -> list[str]:
    return [f"{s}.{t}" for s, t in query(db, "select schema_name, table_name from duckdb_tables() order by 1, 2")]


# ------------------------------------------------------------------------------ help

@pytest.mark.parametrize("command, options", [
    ("run", ["--landing", "--warehouse", "--from", "--full-check", "--skip-quality", "--quiet", "--debug", "POWERCRM_LANDING",
             "POWERCRM_WAREHOUSE", "<stem>.work.duckdb"]),
    ("status", ["--warehouse", "--debug"]),
    ("rollback", ["--warehouse", "<stem>.prev.duckdb"]),
    ("rebuild", ["--from", "--landing", "--warehouse", "--quiet"]),
    ("simulate", ["simulate"]),
])
def test_every_command_explains_its_options(command, options, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for opt in options:
        assert opt in text, opt


def test_simulate_is_wired_or_says_it_is_missing(run):
    try:
        import powercrm.simulate.cli  # noqa: F401
    except ImportError:
        code, out, err = run("simulate")
        assert code == 1 and "powercrm.simulate.cli is missing or cannot be imported" in err
    else:
        with pytest.raises(SystemExit) as e:
            cli.main(["simulate", "--help"])
        assert e.value.code == 0


# ------------------------------------------------------------------------------ run / status / rollback

def test_run_publishes_only_core_marts_audit(run, tmp_path, wh):
    landing = small_landing(tmp_path / "landing")
    code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
    assert code == 0, out + err
    assert "2 found: 2 loaded, 0 unchanged, 0 rejected, 0 without manifest" in out
    assert "payment               2            4            1" in out  # 5 rows in: 4 loaded + 1 quarantined
    assert "data date   2024-03-06" in out
    assert f"published   {wh}" in out
    assert "model    core.fct_payment" in err  # one progress line per model
    assert schemas_and_tables(wh) == [
        "audit.load_log", "audit.publish_log", "audit.quarantine", "core.fct_payment", "marts.payment_daily"]
    assert query(wh, "select count(*), sum(amount_yuan) from core.fct_payment") == [[4, "130.00"]]  # 10 + 30 + 40 + 50; P2 (20, CASH) quarantined
    assert query(wh, "select count(*) from duckdb_views() where not internal") == [[0]]  # the mart view is a table
    # dbt's persist_docs comments survive the publish
    assert query(wh, "select comment from duckdb_tables() where table_name = 'fct_payment'") == [
        ["One row per payment."]]
    assert query(wh, "select comment from duckdb_columns() where table_name = 'fct_payment' "
                     "and column_name = 'amount_yuan'") == [["Amount paid, yuan."]]
    assert query(wh, "select reason from audit.quarantine") == [["unknown code channel=CASH"]]
    files = WarehouseFiles(wh)
    assert files.work.exists() and not files.next.exists() and not files.prev.exists()
    assert {s for s, in query_here(files.work, "select schema_name from duckdb_schemas()")} >= {
        "raw", "meta", "staging", "core", "marts"}

    # unchanged landing: nothing loaded, still rebuilt and published; the previous file is kept
    first = sha(wh)
    code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh), "--quiet")
    assert code == 0, out + err
    assert "2 found: 0 loaded, 2 unchanged" in out
    assert err == ""  # --quiet: no progress
    assert sha(files.prev) == first
    assert query(wh, "select count(*) from audit.publish_log") == [[2]]

    code, out, err = run("status", "--warehouse", str(wh))
    assert code == 0, err
    assert "data date   2024-03-06" in out
    assert "core.fct_payment" in out and "4" in out.split("core.fct_payment")[1].split("\n")[0]
    assert f"previous    {files.prev}" in out

    # analysts' DuckDB 1.x clients can open it
    python = duckdb1_python()
    p = subprocess.run([str(python), "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                        "print(c.execute('select count(*) from core.fct_payment').fetchone()[0])", str(wh)],
                       capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout.strip()) == (0, "4"), p.stderr


def test_exit_3_when_a_partition_is_rejected(run, tmp_path, wh):
    landing = small_landing(tmp_path / "landing")
    add_day(landing, "2024-03-07", rows_delta=2)
    code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
    assert code == 3, out + err
    assert "3 found: 2 loaded, 0 unchanged, 1 rejected" in out
    assert "payment/2024-03-07/payment.csv: 1 records in the file, manifest says 3" in out
    assert "(exit 3)" in out
    assert "data date   2024-03-06" in out  # the rejected day does not count
    assert query(wh, "select count(*) from core.fct_payment") == [[4]]


def test_exit_4_when_a_dbt_test_fails_and_the_previous_file_stays(run, tmp_path, wh):
    landing = small_landing(tmp_path / "landing")
    assert run("run", "--landing", str(landing), "--warehouse", str(wh))[0] == 0
    before = sha(wh)
    add_day(landing, "2024-03-07", amount="-5.00")
    code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
    assert code == 4, out + err
    assert "dbt test assert_no_negative_payment failed on 1 rows" in out
    assert "BLOCKED" in out
    assert sha(wh) == before
    assert not WarehouseFiles(wh).prev.exists()


def test_exit_4_when_the_quality_gate_blocks(run, tmp_path, wh, monkeypatch):
    monkeypatch.setenv("FIXTURE_GATE_BLOCKING", "expect_recovery_rate_between_0_and_1 failed on 3 rows of "
                                                "marts.recovery_monthly")
    monkeypatch.setenv("FIXTURE_GATE_WARNINGS", "drift in payments")
    code, out, err = run("run", "--landing", str(small_landing(tmp_path / "landing")), "--warehouse", str(wh))
    assert code == 4, out + err
    assert "expect_recovery_rate_between_0_and_1 failed on 3 rows of marts.recovery_monthly" in out
    assert "drift in payments" in out
    assert not wh.exists()


def test_the_quality_gate_is_powercrm_quality_gate_by_default(monkeypatch):
    monkeypatch.delenv("POWERCRM_QUALITY_GATE", raising=False)
    assert pipeline.quality_gate() is gate.run_quality
    monkeypatch.setenv("POWERCRM_QUALITY_GATE", "no_such_module:run_quality")
    with pytest.raises(pipeline.PowerCRMError, match="the quality gate no_such_module:run_quality cannot be loaded"):
        pipeline.quality_gate()


def test_exit_1_with_one_sentence_when_the_landing_folder_is_missing(run, tmp_path, wh):
    code, out, err = run("run", "--landing", str(tmp_path / "nowhere"), "--warehouse", str(wh))
    assert code == 1
    assert err.strip() == (f"powercrm: error: the landing folder {tmp_path / 'nowhere'} does not exist "
                           "(--landing or POWERCRM_LANDING)")
    assert not wh.exists()


def test_exit_1_before_loading_when_the_memory_limit_is_not_a_size(run, tmp_path, wh, monkeypatch):
    landing = small_landing(tmp_path)
    monkeypatch.setenv("POWERCRM_DUCKDB_MEMORY_LIMIT", "lots")
    code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh), "--quiet")
    assert code == 1
    assert "POWERCRM_DUCKDB_MEMORY_LIMIT='lots' is not a DuckDB memory size" in err
    assert query(wh.with_name("pc.work.duckdb"), "select count(*) from duckdb_tables()") == [[0]]  # nothing loaded
    assert not wh.exists()


def test_exit_1_when_a_model_fails_names_the_model(run, tmp_path, wh, monkeypatch):
    broken = tmp_path / "broken_project"
    shutil.copytree(FIXTURE_PROJECT, broken)
    (broken / "models" / "core" / "fct_payment.sql").write_text(
        "select pay_id, no_such_column from {{ ref('stg_payments') }}")
    monkeypatch.setenv("POWERCRM_DBT_PROJECT_DIR", str(broken))
    code, out, err = run("run", "--landing", str(small_landing(tmp_path / "landing")), "--warehouse", str(wh))
    assert code == 1
    [line] = [ln for ln in err.splitlines() if ln.startswith("powercrm: error:")]
    assert line.startswith("powercrm: error: dbt build failed: model core.fct_payment (models/core/fct_payment.sql):")
    assert "no_such_column" in line
    assert "Traceback" not in err
    assert not wh.exists()


def test_rollback_puts_the_previous_file_back(run, tmp_path, wh):
    landing = small_landing(tmp_path / "landing")
    assert run("run", "--landing", str(landing), "--warehouse", str(wh))[0] == 0
    first = sha(wh)
    add_day(landing, "2024-03-07")
    assert run("run", "--landing", str(landing), "--warehouse", str(wh))[0] == 0
    assert query(wh, "select count(*) from core.fct_payment") == [[5]]
    code, out, err = run("rollback", "--warehouse", str(wh))
    assert code == 0, err
    assert f"rolled back {wh}" in out and "data date 2024-03-06" in out
    assert str(WarehouseFiles(wh).rolled_back) in out
    assert sha(wh) == first
    assert query(wh, "select count(*) from core.fct_payment") == [[4]]
    code, out, err = run("rollback", "--warehouse", str(wh))
    assert code == 1 and "there is no previous file" in err


def test_rebuild_reloads_from_the_date(run, tmp_path, wh):
    landing = small_landing(tmp_path / "landing")
    assert run("run", "--landing", str(landing), "--warehouse", str(wh))[0] == 0
    code, out, err = run("rebuild", "--from", "2024-03-06", "--landing", str(landing), "--warehouse", str(wh))
    assert code == 0, out + err
    assert "2 found: 1 loaded, 1 unchanged" in out
    assert query(wh, "select count(*) from core.fct_payment") == [[4]]  # reloaded, not appended


def test_status_without_a_published_file(run, wh):
    code, out, err = run("status", "--warehouse", str(wh))
    assert code == 1 and f"no published file {wh} yet" in err


# ------------------------------------------------------------------------------ concurrency and failures

def test_second_run_is_refused_while_the_first_holds_the_lock(run, tmp_path, wh):
    landing = small_landing(tmp_path / "landing")
    first = start_paused("run", "--landing", str(landing), "--warehouse", str(wh), at="load")
    try:
        code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
        assert code == 1
        assert f"another powercrm run (pid {first.pid}, started " in err
        assert "this run was refused" in err and "Traceback" not in err
        code, out, err = run("status", "--warehouse", str(wh))
        assert f"a run is in progress: pid {first.pid}" in out
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the kernel released the lock with the killed process
    code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
    assert code == 0, out + err


def test_a_reader_holding_the_file_open_is_unaffected_by_a_publish(run, tmp_path, wh):
    landing = small_landing(tmp_path / "landing")
    assert run("run", "--landing", str(landing), "--warehouse", str(wh))[0] == 0
    reader_code = ("import duckdb, sys\n"
                   "con = duckdb.connect(sys.argv[1], read_only=True)\n"
                   "for _ in sys.stdin:\n"
                   "    print(con.execute('select count(*) from core.fct_payment').fetchone()[0], flush=True)\n")
    reader = subprocess.Popen([sys.executable, "-c", reader_code, str(wh)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "4"
        add_day(landing, "2024-03-07")
        code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
        assert code == 0, out + err
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "4"  # its snapshot
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert query(wh, "select count(*) from core.fct_payment") == [[5]]


def test_unwritable_warehouse_directory_gives_one_clear_message(run, tmp_path, wh):
    landing = small_landing(tmp_path / "landing")
    assert run("run", "--landing", str(landing), "--warehouse", str(wh))[0] == 0
    before = sha(wh)
    add_day(landing, "2024-03-07")
    immutable = _make_unwritable(wh.parent)
    try:
        code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
    finally:
        _make_writable(wh.parent, immutable)
    assert code == 1
    [line] = [ln for ln in err.splitlines() if ln.startswith("powercrm: error:")]
    assert str(wh.parent) in line
    assert "ermission denied" in line or "not permitted" in line
    assert "Traceback" not in err
    assert sha(wh) == before


def test_cannot_create_the_warehouse_directory(run, tmp_path):
    (tmp_path / "afile").write_text("x")
    code, out, err = run("run", "--landing", str(small_landing(tmp_path / "landing")),
                         "--warehouse", str(tmp_path / "afile" / "pc.duckdb"))
    assert code == 1
    assert err.strip() == (f"powercrm: error: cannot create the warehouse directory {tmp_path / 'afile'}: "
                           f"{tmp_path / 'afile'} is a file, not a directory")


def test_defaults_come_from_the_environment(run, tmp_path, monkeypatch):
    landing = small_landing(tmp_path / "landing")
    wh = tmp_path / "envwh" / "x.duckdb"
    monkeypatch.setenv("POWERCRM_LANDING", str(landing))
    monkeypatch.setenv("POWERCRM_WAREHOUSE", str(wh))
    code, out, err = run("run", "--quiet")
    assert code == 0, out + err
    assert wh.exists() and (tmp_path / "envwh" / "x.work.duckdb").exists()


# ------------------------------------------------------------------------------ check scope

GATE_CALLS: list[tuple[str, bool]] = []


def recording_gate(work_db: Path, run_id: str, full_check: bool = True):
    """A stand-in gate that remembers whether it was asked for a full check."""
    from fixture_gate import Outcome

    GATE_CALLS.append((run_id, full_check))
    return Outcome()


def test_full_check_on_first_publish_and_with_the_option_incremental_otherwise(run, tmp_path, wh, monkeypatch):
    monkeypatch.setenv("POWERCRM_QUALITY_GATE", "test_cli:recording_gate")
    builds: list[bool] = []
    real = pipeline.run_dbt

    def recording_dbt(*a, **kw):
        builds.append(kw.get("full_check", True))
        return real(*a, **kw)

    monkeypatch.setattr(pipeline, "run_dbt", recording_dbt)
    # the fixture's tables are tiny: compare them all, as the big ones are compared at scale
    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    GATE_CALLS.clear()
    landing = small_landing(tmp_path / "landing")
    code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
    assert code == 0, out + err
    assert "checks      full check (first publish)" in out
    add_day(landing, "2024-03-07")
    code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
    assert code == 0, out + err
    assert "checks      incremental" in out and "dbt tests tagged full_scan not run" in out
    assert "weekly full check, or `powercrm run --full-check`" in out
    # the night's publish patches; there is no previous version yet, so it patches a copy
    assert "publish     patched a copy of the published file" in out
    assert "(the previous version was not reused: no previous version" in out
    # one count per kind, then one line per patched table naming it and its rows
    summary = re.search(r"^  publish     patched a copy of the published file: (.*)$", out, re.M).group(1)
    kinds = dict((k, int(n)) for n, k in (part.split(" ") for part in summary.split(", ")))
    assert set(kinds) <= {"patched", "unchanged", "written"} and kinds.get("patched", 0) >= 1, summary
    patched_lines = re.findall(r"^ {16}(\w+\.\w+): (\d+) rows? deleted, (\d+) inserted \((.+)\)$", out, re.M)
    assert len(patched_lines) == kinds["patched"], out
    # the slowest steps of the publish, with their seconds (also in last_run.json)
    slowest = re.search(r"^  publish     slowest steps: (.*)$", out, re.M).group(1).split(", ")
    assert len(slowest) == 4 and all(re.fullmatch(r"[\w.]+ \d+\.\d+s", x) for x in slowest), slowest
    last = json.loads((wh.with_name(wh.stem + ".state") / "last_run.json").read_text())
    assert {"copy", "checkpoint", "verify", "record"} <= set(last["publish_seconds"]), last["publish_seconds"]
    code, out, err = run("run", "--full-check", "--landing", str(landing), "--warehouse", str(wh))
    assert code == 0, out + err
    assert "checks      full check (--full-check)" in out
    assert "publish     patched" not in out  # a full check writes the file afresh
    # the next night patches the previous version (the second night's file) instead of a copy
    add_day(landing, "2024-03-08")
    code, out, err = run("run", "--landing", str(landing), "--warehouse", str(wh))
    assert code == 0, out + err
    assert "publish     patched the previous version (no copy)" in out and "was not reused" not in out
    assert [full for _, full in GATE_CALLS] == [True, False, True, False]
    assert builds == [True, False, True, False]


def test_run_help_explains_full_check(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--full-check" in out and "leaves out the dbt tests tagged full_scan" in out
