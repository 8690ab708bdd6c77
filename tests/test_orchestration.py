"""The Dagster definitions (orchestration/): they load, hold what the design says, and the raw
step, the landing sensor and the blocking quality checks behave on small hand-made inputs.

Expected numbers are written out by hand here; nothing runs dbt except the `dbt parse` that the
definitions do themselves when their manifest is missing or stale.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `orchestration` is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

EXTRACT_NAMES = ["org", "cust", "tariff", "reading", "bill", "bill_item", "payment", "dunning", "violation",
                 "supply", "workorder", "survey", "outage", "cost"]
PAYMENT_HEADER = ["pay_id", "cons_no", "bill_id", "pay_time", "channel", "amount", "penalty_amount", "reversal_of"]
ORG_HEADER = ["org_no", "org_name", "parent_org_no", "org_level", "tg_id", "tg_name", "tg_capacity_kva"]


# --------------------------------------------------------------------------------------- helpers

def write_partition(landing: Path, extract: str, day: str, header: list[str], rows: list[list[str]]) -> Path:
    """`<landing>/<extract>/<day>/<extract>.csv` + a correct `_manifest.json` (sha256, record count)."""
    folder = landing / extract / day
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    (folder / f"{extract}.csv").write_bytes(data)
    manifest = {"extract": extract, "business_date": day, "schema_version": 1,
                "files": [{"name": f"{extract}.csv", "rows": len(rows),
                           "sha256": hashlib.sha256(data).hexdigest(), "encoding": "utf-8"}]}
    (folder / "_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def resource(tmp_path: Path, landing: Path):
    from orchestration.resources import PowerCRMResource

    return PowerCRMResource(landing=str(landing), warehouse=str(tmp_path / "wh" / "powercrm.duckdb"))


@pytest.fixture(scope="module")
def defs():
    from orchestration.definitions import defs

    return defs


@pytest.fixture(scope="module")
def graph(defs):
    return defs.resolve_asset_graph()


# --------------------------------------------------------------------------------------- definitions

def test_definitions_validate_from_the_repo(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.run(
        [str(dagster) if dagster.exists() else "dagster", "definitions", "validate",
         "-f", "orchestration/definitions.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "DAGSTER_HOME": str(home)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Validation successful" in proc.stdout + proc.stderr


def test_raw_assets_one_per_extract(graph):
    from dagster import AssetKey

    raw = sorted(k.path[1] for k in graph.get_all_asset_keys() if k.path[0] == "raw")
    assert raw == sorted(EXTRACT_NAMES)
    assert len(raw) == 14
    for name in EXTRACT_NAMES:
        assert graph.get(AssetKey(["raw", name])).group_name == "raw"


def test_dbt_assets_keyed_by_schema_and_downstream_of_raw(graph):
    from dagster import AssetKey

    keys = graph.get_all_asset_keys()
    prefixes = {k.path[0] for k in keys}
    assert {"staging", "intermediate", "core", "marts", "audit"} <= prefixes
    assert AssetKey(["core", "dim_customer"]) in keys
    assert AssetKey(["marts", "recovery_monthly"]) in keys
    assert graph.get(AssetKey(["core", "dim_customer"])).group_name == "core"
    assert graph.get(AssetKey(["marts", "recovery_monthly"])).group_name == "marts"
    # the dbt sources raw.<extract> are the raw assets: staging sits right downstream of each
    for name in EXTRACT_NAMES:
        children = graph.get(AssetKey(["raw", name])).child_keys
        assert any(k.path[0] == "staging" for k in children), name
    assert {graph.get(k).group_name for k in keys if k.path[0] == "staging"} == {"staging"}
    # descriptions come from dbt
    assert graph.get(AssetKey(["core", "dim_customer"])).description


def test_checks_for_dbt_tests_and_ge_suites(defs, graph):
    from dagster import AssetKey

    checks = graph.asset_check_keys
    dbt_checks = [c for c in checks if not c.name.startswith("ge_") and c.name != "no_rejected_partitions"]
    ge_checks = [c for c in checks if c.name.startswith("ge_")]
    assert any(c.asset_key.path[0] == "core" for c in dbt_checks)
    assert any(c.asset_key == AssetKey(["marts", "recovery_monthly"]) and c.name == "ge_payment" for c in ge_checks)
    assert any(c.asset_key.path[0] == "core" and c.name == "ge_core" for c in ge_checks)
    from orchestration.quality_checks import SPECS

    assert SPECS and all(s.blocking for s in SPECS.values())


def test_schedule_sensor_job_publish(defs, graph):
    from dagster import AssetKey

    sched = defs.resolve_schedule_def("powercrm_nightly_schedule")
    assert sched.cron_schedule == "0 2 * * *"
    assert sched.execution_timezone == "Asia/Shanghai"
    sensor = defs.resolve_sensor_def("powercrm_landing_sensor")
    assert sensor.job_name == "powercrm_nightly"
    job = defs.resolve_job_def("powercrm_nightly")
    assert job.executor_def.name == "in_process"
    pub = AssetKey(["published", "powercrm"])
    assert AssetKey(["marts", "recovery_monthly"]) in graph.get(pub).parent_keys
    assert not any(k.path[0] in ("staging", "intermediate", "raw") for k in graph.get(pub).parent_keys)


# --------------------------------------------------------------------------------------- sensor

def _evaluate(cursor, res, instance=None):
    from dagster import build_sensor_context

    from orchestration.automation import landing_sensor

    ctx = build_sensor_context(cursor=cursor, resources={"powercrm": res}, instance=instance)
    return landing_sensor(ctx)


def test_sensor_requests_a_run_for_new_manifests_only(tmp_path):
    from dagster import SensorResult, SkipReason

    landing = tmp_path / "landing"
    landing.mkdir()
    res = resource(tmp_path, landing)

    assert isinstance(_evaluate(None, res), SkipReason)  # empty folder

    # a partition still being written (no manifest yet) is not a reason to run
    (landing / "payment" / "2024-03-05").mkdir(parents=True)
    (landing / "payment" / "2024-03-05" / "payment.csv").write_text("pay_id\n")
    assert isinstance(_evaluate(None, res), SkipReason)

    write_partition(landing, "payment", "2024-03-05", PAYMENT_HEADER,
                    [["P1", "C1", "", "2024-03-05 10:00:00", "WECHAT", "10.00", "", ""]])
    first = _evaluate(None, res)
    assert isinstance(first, SensorResult)
    [req] = first.run_requests
    assert req.job_name in (None, "powercrm_nightly")
    assert req.run_config["ops"]["raw_extracts"]["config"]["extracts"] == ["payment"]
    assert req.tags["powercrm/extracts"] == "payment"
    cursor = first.cursor

    # nothing changed: no run
    again = _evaluate(cursor, res)
    assert isinstance(again, SkipReason)

    # a new partition of another extract: one run, for that extract only
    write_partition(landing, "org", "2024-03-05", ORG_HEADER, [["3340101", "城东供电所", "33401", "3", "", "", ""]])
    second = _evaluate(cursor, res)
    [req2] = second.run_requests
    assert req2.run_config["ops"]["raw_extracts"]["config"]["extracts"] == ["org"]
    assert req2.run_key != req.run_key

    # a redelivery (new manifest for the same partition) is a change too
    folder = write_partition(landing, "payment", "2024-03-05", PAYMENT_HEADER,
                             [["P1", "C1", "", "2024-03-05 10:00:00", "WECHAT", "12.00", "", ""]])
    st = (folder / "_manifest.json").stat()
    os.utime(folder / "_manifest.json", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third = _evaluate(second.cursor, res)
    [req3] = third.run_requests
    assert req3.run_config["ops"]["raw_extracts"]["config"]["extracts"] == ["payment"]
    assert isinstance(_evaluate(third.cursor, res), SkipReason)


def test_sensor_run_config_is_valid_for_the_nightly_job(tmp_path, defs):
    from dagster import validate_run_config

    landing = tmp_path / "landing"
    write_partition(landing, "payment", "2024-03-05", PAYMENT_HEADER,
                    [["P1", "C1", "", "2024-03-05 10:00:00", "WECHAT", "10.00", "", ""]])
    [req] = _evaluate(None, resource(tmp_path, landing)).run_requests
    validate_run_config(defs.resolve_job_def("powercrm_nightly"), req.run_config)


def test_sensor_waits_while_a_nightly_run_is_in_progress(tmp_path):
    from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, SensorResult, SkipReason

    landing = tmp_path / "landing"
    write_partition(landing, "payment", "2024-03-05", PAYMENT_HEADER,
                    [["P1", "C1", "", "2024-03-05 10:00:00", "WECHAT", "10.00", "", ""]])
    res = resource(tmp_path, landing)
    with DagsterInstance.ephemeral() as instance:
        assert isinstance(_evaluate(None, res, instance), SensorResult)
        instance.add_run(DagsterRun(job_name="powercrm_nightly", run_id="r-in-progress",
                                    status=DagsterRunStatus.STARTED))
        waiting = _evaluate(None, res, instance)
        assert isinstance(waiting, SkipReason)  # the cursor does not move: the next tick asks again
        assert "in progress" in waiting.skip_message


def test_sensor_skips_when_landing_missing(tmp_path):
    from dagster import SkipReason

    assert isinstance(_evaluate(None, resource(tmp_path, tmp_path / "nowhere")), SkipReason)


# --------------------------------------------------------------------------------------- raw step

def test_materialise_raw_assets_into_a_working_db(tmp_path):
    from dagster import AssetKey, materialize

    from orchestration.raw_assets import raw_extracts

    landing = tmp_path / "landing"
    write_partition(landing, "payment", "2024-03-05", PAYMENT_HEADER, [
        ["P1", "C1", "", "2024-03-05 10:00:00", "WECHAT", "10.00", "", ""],
        ["P2", "C2", "", "2024-03-05 11:30:00", "COUNTER", "20.50", "", ""],
        ["P3", "C3", "", "2024-03-05 12:00:00", "WECHAT", "abc", "", ""],  # amount not a number: quarantined
    ])
    write_partition(landing, "payment", "2024-03-06", PAYMENT_HEADER, [
        ["P4", "C1", "", "2024-03-06 09:00:00", "ALIPAY", "5.00", "", ""],
    ])
    res = resource(tmp_path, landing)

    result = materialize([raw_extracts], resources={"powercrm": res})
    assert result.success
    mats = {e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert len([k for k in mats if k.path[0] == "raw"]) == 14
    pay = mats[AssetKey(["raw", "payment"])]
    assert pay["partitions_loaded"].value == 2
    assert pay["rows_loaded"].value == 3
    assert pay["rows_quarantined"].value == 1
    assert pay["dagster/row_count"].value == 3
    assert mats[AssetKey(["raw", "org"])]["dagster/row_count"].value == 0

    con = duckdb.connect(str(res.work_db), read_only=True)
    try:
        rows = con.execute("select pay_id, amount, cast(_business_date as varchar) from raw.payment "
                           "order by pay_id").fetchall()
        assert rows == [("P1", "10.00", "2024-03-05"), ("P2", "20.50", "2024-03-05"), ("P4", "5.00", "2024-03-06")]
        assert con.execute("select extract, record_no from meta.quarantine").fetchall() == [("payment", 3)]
        assert con.execute("select count(*) from meta.load_log where run_id = ? and status = 'LOADED'",
                           [result.run_id]).fetchone()[0] == 2
    finally:
        con.close()

    # the same landing again: nothing new is loaded, the rows stay
    again = materialize([raw_extracts], resources={"powercrm": res})
    mats2 = {e.asset_key: e.materialization.metadata for e in again.get_asset_materialization_events()}
    assert mats2[AssetKey(["raw", "payment"])]["partitions_loaded"].value == 0
    assert mats2[AssetKey(["raw", "payment"])]["dagster/row_count"].value == 3


def test_raw_step_loads_only_the_extracts_the_sensor_names(tmp_path):
    from dagster import AssetKey, RunConfig, materialize

    from orchestration.raw_assets import RawLoadConfig, raw_extracts

    landing = tmp_path / "landing"
    write_partition(landing, "payment", "2024-03-05", PAYMENT_HEADER,
                    [["P1", "C1", "", "2024-03-05 10:00:00", "WECHAT", "10.00", "", ""]])
    write_partition(landing, "org", "2024-03-05", ORG_HEADER, [["3340101", "城东供电所", "33401", "3", "", "", ""]])
    res = resource(tmp_path, landing)
    result = materialize([raw_extracts], resources={"powercrm": res},
                         run_config=RunConfig(ops={"raw_extracts": RawLoadConfig(extracts=["org"])}))
    mats = {e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert mats[AssetKey(["raw", "org"])]["partitions_loaded"].value == 1
    assert mats[AssetKey(["raw", "payment"])]["partitions_loaded"].value == 0
    con = duckdb.connect(str(res.work_db), read_only=True)
    try:
        assert con.execute("select count(*) from raw.payment").fetchone()[0] == 0
        assert con.execute("select count(*) from raw.org").fetchone()[0] == 1
    finally:
        con.close()


def test_raw_step_fails_with_one_sentence_on_an_empty_landing(tmp_path):
    from dagster import materialize

    from orchestration.raw_assets import raw_extracts

    (tmp_path / "landing").mkdir()
    result = materialize([raw_extracts], resources={"powercrm": resource(tmp_path, tmp_path / "landing")},
                         raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "holds no partitions" in str(failure.event_specific_data.error)


# --------------------------------------------------------------------------------------- quality checks

def _row(suite, table, status, severity="error", rows=None, name="x.check"):
    return {"check_name": name, "suite": suite, "table_name": table, "severity": severity, "status": status,
            "failing_rows": rows, "observed_value": "", "description": "", "examples": []}


def test_gate_results_are_assigned_to_their_checks():
    from dagster import AssetCheckSpec

    from orchestration.quality_checks import assign

    specs = {("payment", "marts.recovery_monthly"): AssetCheckSpec("ge_payment", asset=["marts", "recovery_monthly"]),
             ("payment", "marts.arrears_ageing"): AssetCheckSpec("ge_payment", asset=["marts", "arrears_ageing"]),
             ("price", "marts.unit_price_monthly"): AssetCheckSpec("ge_price", asset=["marts", "unit_price_monthly"])}
    out = assign([
        _row("payment", "marts.recovery_monthly", "pass"),
        _row("payment", "marts.arrears_ageing", "fail", rows=4),
        _row("dbt", "recovery_monthly", "fail"),  # dbt tests are dagster-dbt's checks, not these
        _row("payment", "meta.partitions", "fail"),  # not an asset here: fails the whole suite
        _row("gone", "", "fail"),  # a suite unknown to the definitions: fails every check
    ], specs)
    assert [r["status"] for r in out[("payment", "marts.recovery_monthly")]] == ["pass", "fail", "fail"]
    assert [r["table_name"] for r in out[("payment", "marts.arrears_ageing")]] == [
        "marts.arrears_ageing", "meta.partitions", ""]
    assert [r["suite"] for r in out[("price", "marts.unit_price_monthly")]] == ["gone"]


def test_failed_error_check_blocks_downstream_assets(tmp_path, monkeypatch):
    """A failed blocking GE check stops what is downstream (the publish), a warning does not."""
    from dagster import AssetKey, AssetSpec, MaterializeResult, asset, materialize, multi_asset

    import powercrm.quality.gate as gate
    from orchestration.quality_checks import SPECS, quality_gate

    (failing_suite, failing_table), failing_spec = next(
        (k, s) for k, s in SPECS.items() if k[1].startswith("marts."))
    other_key, other_spec = next((k, s) for k, s in SPECS.items() if s.asset_key != failing_spec.asset_key)
    upstream_keys = sorted({s.asset_key for s in SPECS.values()}, key=lambda k: k.to_user_string())

    @multi_asset(specs=[AssetSpec(k) for k in upstream_keys], name="fake_dbt")
    def fake_dbt():
        for k in upstream_keys:
            yield MaterializeResult(asset_key=k)

    @asset(key=["published", "fake"], deps=[failing_spec.asset_key])
    def blocked():
        return None

    calls = []

    def fake_run_quality(work_db, run_id, dbt_target_dir=None, **kw):
        calls.append(run_id)
        return gate.QualityOutcome(
            blocking=[f"x failed on 2 rows of {failing_table}"],
            results=[_row(failing_suite, failing_table, "fail", rows=2, name="x.pk_unique"),
                     _row(other_key[0], other_key[1], "warn", severity="warn", rows=1, name="y.drift")])

    monkeypatch.setattr(gate, "run_quality", fake_run_quality)
    landing = tmp_path / "landing"
    landing.mkdir()
    result = materialize([fake_dbt, quality_gate, blocked],
                         resources={"powercrm": resource(tmp_path, landing)}, raise_on_error=False)
    assert calls == [result.run_id]
    evals = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}
    bad = evals[(failing_spec.asset_key, failing_spec.name)]
    assert not bad.passed and bad.severity.value == "ERROR"
    assert bad.metadata["failing_rows"].value == 2
    warned = evals[(other_spec.asset_key, other_spec.name)]
    assert warned.severity.value == "WARN"
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey(["published", "fake"]) not in materialized
    assert not result.success


# --------------------------------------------------------------------------------------- dbt results

def test_dbt_run_results_become_the_clis_node_results(tmp_path):
    from orchestration.dbt_models import _node_results

    manifest = {"nodes": {
        "model.powercrm.fct_bill": {"resource_type": "model", "name": "fct_bill", "schema": "core",
                                    "alias": "fct_bill", "original_file_path": "models/marts/core/fct_bill.sql"},
        "test.powercrm.unique_fct_bill_bill_id.1": {"resource_type": "test", "name": "unique_fct_bill_bill_id",
                                                    "attached_node": "model.powercrm.fct_bill",
                                                    "config": {"severity": "ERROR"}},
    }}
    (tmp_path / "run_results.json").write_text(json.dumps({"results": [
        {"unique_id": "model.powercrm.fct_bill", "status": "success", "failures": None, "message": "OK",
         "execution_time": 1.5},
        {"unique_id": "test.powercrm.unique_fct_bill_bill_id.1", "status": "fail", "failures": 2,
         "message": "Got 2 results", "execution_time": 0.1},
    ]}))
    model, test = _node_results(tmp_path / "run_results.json", manifest)
    assert (model.resource_type, model.relation, model.status) == ("model", "core.fct_bill", "success")
    assert (test.resource_type, test.relation, test.status, test.failures, test.severity) == (
        "test", "fct_bill", "fail", 2, "ERROR")
    assert _node_results(tmp_path / "missing.json", manifest) == []


# --------------------------------------------------------------------------------------- manifest

def test_manifest_is_parsed_when_missing_and_dbt_errors_are_one_sentence(tmp_path):
    from dagster_dbt import DbtProject

    from orchestration.dbt_models import ManifestError, ensure_manifest, manifest_is_stale

    proj = tmp_path / "proj"
    (proj / "models").mkdir(parents=True)
    (proj / "profiles").mkdir()
    (proj / "dbt_project.yml").write_text('name: tiny\nversion: "1.0"\nconfig-version: 2\nprofile: tiny\n'
                                          'model-paths: ["models"]\n')
    (proj / "profiles" / "profiles.yml").write_text(
        f"tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {tmp_path / 'tiny.duckdb'}\n")
    (proj / "models" / "broken.sql").write_text("select * from {{ ref('does_not_exist') }}\n")
    project = DbtProject(project_dir=proj, profiles_dir=proj / "profiles", target_path="target/dagster")

    with pytest.raises(ManifestError) as err:
        ensure_manifest(project)
    assert "dbt parse" in str(err.value) and "does_not_exist" in str(err.value)

    # a manifest newer than every file of the project is used as it is (no parse: this one holds no nodes)
    path = proj / "target" / "dagster" / "manifest.json"
    path.write_text("{}")
    later = max(p.stat().st_mtime_ns for p in proj.rglob("*") if p != path) + 5_000_000_000
    os.utime(path, ns=(later, later))
    assert not manifest_is_stale(project)
    assert ensure_manifest(project) == path
    assert path.read_text() == "{}"
    # editing a model makes it stale again
    os.utime(proj / "models" / "broken.sql", ns=(later + 1_000_000_000, later + 1_000_000_000))
    assert manifest_is_stale(project)


# --------------------------------------------------------------------------------------- weekly full check

def test_sunday_night_is_the_weekly_full_check(defs):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from dagster import build_schedule_context

    sched = defs.resolve_schedule_def("powercrm_nightly_schedule")
    tz = ZoneInfo("Asia/Shanghai")
    sunday = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 29, 2, 0, tzinfo=tz))
    monday = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 30, 2, 0, tzinfo=tz))
    assert sched.evaluate_tick(sunday).run_requests[0].tags.get("powercrm/full_check") == "true"
    assert "powercrm/full_check" not in sched.evaluate_tick(monday).run_requests[0].tags


def test_full_check_requested_by_tag_or_first_publish(tmp_path):
    from orchestration.resources import full_check_requested
    from powercrm.publish import WarehouseFiles

    files = WarehouseFiles(tmp_path / "pc.duckdb")
    assert full_check_requested({}, files)  # nothing published yet
    files.published.write_bytes(b"")
    assert not full_check_requested({}, files)
    assert not full_check_requested({"powercrm/full_check": "false"}, files)
    assert full_check_requested({"powercrm/full_check": "true"}, files)


def test_a_full_refresh_run_is_a_full_check(tmp_path):
    """A run launched with dbt_models' `full_refresh: true` checks every row and writes the file afresh."""
    from orchestration.resources import full_check_requested
    from powercrm.publish import WarehouseFiles

    files = WarehouseFiles(tmp_path / "pc.duckdb")
    files.published.write_bytes(b"")
    refresh = {"ops": {"dbt_models": {"config": {"full_refresh": True}}}}
    assert full_check_requested({}, files, refresh)
    assert not full_check_requested({}, files, {"ops": {"dbt_models": {"config": {"full_refresh": False}}}})
    assert not full_check_requested({}, files, {"ops": {"other": {"config": {}}}})
    assert not full_check_requested({}, files, {"ops": "not a mapping"})
