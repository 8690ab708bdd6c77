"""The quality gate on small hand-made working databases (no dbt build).

`clean_db` writes a consistent little warehouse: two customers (C1 residential in area T1, C2
commercial in area T2), three billing months with 100 + 200 kWh each, bills of 60 and 120 yuan
split into bill lines, line loss of both areas at 5 %, balanced load log, empty quarantine.
Every test breaks one rule and asserts the outcome with hand-written numbers; every mart the
test does not write (customer_value, unit_price_monthly, ...) must come out `skipped`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from powercrm.quality.config import QualityConfig
from powercrm.quality.gate import run_quality
from powercrm.quality.report import write_report

# bounds small enough that fct_bill (6 rows) is read month by month, as a big table would be
CFG = QualityConfig(drift_band=0.5, drift_error_band=0.6, max_rows=4)

CLEAN_SQL = """
create schema core; create schema marts; create schema audit;

create table core.dim_customer (customer_sk varchar, cons_no varchar, cons_name varchar, elec_type varchar,
    status varchar, is_current boolean, valid_from timestamp, valid_to timestamp);
insert into core.dim_customer values
    ('S1', 'C1', '张**', '100', 'ACTIVE', true, '2020-01-01', null),
    ('S2', 'C2', '华茂物流有限公司', '200', 'ACTIVE', true, '2020-01-01', null);

create table core.fct_bill (bill_id varchar, cons_no varchar, customer_sk varchar, billing_month date,
    bill_type varchar, issue_date date, due_date date, tg_id varchar, kwh decimal(18,2),
    amount_yuan decimal(18,2), paid_date date, days_late bigint);
insert into core.fct_bill values
    ('B1', 'C1', 'S1', '2024-01-01', 'NORMAL', '2024-02-03', '2024-02-23', 'T1', 100, 60.00, '2024-02-20', 0),
    ('B2', 'C2', 'S2', '2024-01-01', 'NORMAL', '2024-02-03', '2024-02-23', 'T2', 200, 120.00, '2024-02-21', 0),
    ('B3', 'C1', 'S1', '2024-02-01', 'NORMAL', '2024-03-03', '2024-03-23', 'T1', 100, 60.00, '2024-03-20', 0),
    ('B4', 'C2', 'S2', '2024-02-01', 'NORMAL', '2024-03-03', '2024-03-23', 'T2', 200, 120.00, '2024-03-22', 0),
    ('B5', 'C1', 'S1', '2024-03-01', 'NORMAL', '2024-04-03', '2024-04-23', 'T1', 100, 60.00, '2024-04-20', 0),
    ('B6', 'C2', 'S2', '2024-03-01', 'NORMAL', '2024-04-03', '2024-04-23', 'T2', 200, 120.00, '2024-04-23', 0);

create table core.fct_bill_line (bill_id varchar, item_no integer, billing_month date, item varchar,
    amount_yuan decimal(18,2));
insert into core.fct_bill_line values
    ('B1', 1, '2024-01-01', 'ENERGY', 58.00), ('B1', 2, '2024-01-01', 'FUND', 2.00),
    ('B2', 1, '2024-01-01', 'ENERGY', 116.00), ('B2', 2, '2024-01-01', 'FUND', 4.00),
    ('B3', 1, '2024-02-01', 'ENERGY', 58.00), ('B3', 2, '2024-02-01', 'FUND', 2.00),
    ('B4', 1, '2024-02-01', 'ENERGY', 116.00), ('B4', 2, '2024-02-01', 'FUND', 4.00),
    ('B5', 1, '2024-03-01', 'ENERGY', 58.00), ('B5', 2, '2024-03-01', 'FUND', 2.00),
    ('B6', 1, '2024-03-01', 'ENERGY', 116.00), ('B6', 2, '2024-03-01', 'FUND', 4.00);

create table marts.line_loss_monthly (tg_id varchar, month date, org_no varchar, supply_kwh decimal(18,2),
    sales_kwh decimal(18,2), loss_kwh decimal(18,2), loss_rate double, status varchar);
insert into marts.line_loss_monthly values
    ('T1', '2024-01-01', 'ST1', 105, 100, 5, 5.0 / 105, 'NORMAL'),
    ('T2', '2024-01-01', 'ST1', 210, 200, 10, 10.0 / 210, 'NORMAL'),
    ('T1', '2024-02-01', 'ST1', 105, 100, 5, 5.0 / 105, 'NORMAL'),
    ('T2', '2024-02-01', 'ST1', 210, 200, 10, 10.0 / 210, 'NORMAL'),
    ('T1', '2024-03-01', 'ST1', 105, 100, 5, 5.0 / 105, 'NORMAL'),
    ('T2', '2024-03-01', 'ST1', 210, 200, 10, 10.0 / 210, 'NORMAL');

create table audit.load_log (extract varchar, business_date date, rows_in bigint, rows_loaded bigint,
    rows_quarantined bigint, status varchar, message varchar, loaded_at timestamp);
insert into audit.load_log values
    ('bill', '2024-02-03', 2, 2, 0, 'LOADED', '', '2024-02-04 01:00:00'),
    ('bill', '2024-03-03', 2, 2, 0, 'LOADED', '', '2024-03-04 01:00:00'),
    ('bill', '2024-04-03', 2, 2, 0, 'LOADED', '', '2024-04-04 01:00:00');

create table audit.quarantine (extract varchar, business_date date, file varchar, record_no bigint,
    reason varchar, raw_text varchar, loaded_at timestamp);
"""


def make_db(path: Path, *statements: str) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute(CLEAN_SQL)
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()
    return path


def rows_of(db: Path, run_id: str) -> dict[str, tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        got = con.execute(
            "select check_name, suite, table_name, severity, status, failing_rows, observed_value, run_at "
            "from audit.check_results where run_id = ?", [run_id]).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in got}


def failed(outcome, status: str) -> dict[str, int | None]:
    return {r["check_name"]: r["failing_rows"] for r in outcome.results if r["status"] == status}


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    return make_db(tmp_path / "work.duckdb")


def test_clean_database_passes_and_missing_marts_are_skipped(clean: Path) -> None:
    out = run_quality(clean, "r1", config=CFG)
    assert out.blocking == []
    assert out.warnings == []
    rows = rows_of(clean, "r1")
    # every check is recorded once, with a run time
    assert len(rows) == len(out.results)
    assert all(r[6] is not None for r in rows.values())
    # checks on tables the test wrote pass ...
    assert rows["fct_bill.items_sum_to_bill"][3:5] == ("pass", 0)
    assert rows["fct_bill.pk_unique"][3:5] == ("pass", 0)
    assert rows["line_loss_monthly.sales.sales_kwh"][3:5] == ("pass", 0)
    assert rows["sales_kwh.month_over_month_blocking"][3:5] == ("pass", 0)
    assert rows["dim_customer.residential_name_masked"][3:5] == ("pass", 0)
    # ... and a mart nobody built yet is skipped, never a crash
    assert rows["customer_value.pk_unique"][:4] == ("profit", "marts.customer_value", "error", "skipped")
    assert rows["customer_value.pk_unique"][5] == "table marts.customer_value does not exist"
    assert rows["unit_price_monthly.totals.total_yuan"][3] == "skipped"
    # the loader's tables (raw, meta) are not in this file: those checks are skipped too
    assert rows["fct_bill.rows_match_loaded"][3] == "skipped"


def test_bill_whose_items_do_not_sum_blocks(tmp_path: Path) -> None:
    db = make_db(tmp_path / "w.duckdb",
                 "update core.fct_bill_line set amount_yuan = 57.00 where bill_id = 'B3' and item_no = 1")
    out = run_quality(db, "r1", config=CFG)
    assert failed(out, "fail") == {"fct_bill.items_sum_to_bill": 1}
    assert failed(out, "warn") == {}
    assert out.blocking == [
        "fct_bill.items_sum_to_bill failed on 1 row of core.fct_bill: "
        "Σ bill line amounts (fct_bill_line) = the bill's amount_yuan, bill by bill"]
    suite, table, severity, status, failing, observed, _ = rows_of(db, "r1")["fct_bill.items_sum_to_bill"]
    assert (suite, table, severity, status, failing) == ("core", "core.fct_bill", "error", "fail", 1)
    assert observed == "1 of 6 row(s)"
    example = next(r["examples"] for r in out.results if r["check_name"] == "fct_bill.items_sum_to_bill")
    assert example == [{"bill_id": "B3", "cons_no": "C1", "bill_type": "NORMAL", "billing_month": "2024-02-01",
                        "amount_yuan": 60.0, "items_yuan": 59.0, "lines": 2, "diff_yuan": 1.0}]


def test_month_whose_kwh_drops_60_percent_blocks(tmp_path: Path) -> None:
    # March: 40 + 80 = 120 kWh after 300 in February, −60 %; the areas' figures follow the bills
    db = make_db(tmp_path / "w.duckdb",
                 "update core.fct_bill set kwh = kwh * 0.4 where billing_month = '2024-03-01'",
                 "update marts.line_loss_monthly set sales_kwh = sales_kwh * 0.4, supply_kwh = supply_kwh * 0.4, "
                 "loss_kwh = loss_kwh * 0.4 where month = '2024-03-01'")
    out = run_quality(db, "r1", config=CFG)
    assert failed(out, "fail") == {"sales_kwh.month_over_month_blocking": 1}
    assert failed(out, "warn") == {}  # reported once, as blocking
    assert out.blocking == [
        "sales_kwh.month_over_month_blocking failed on 1 row of core.fct_bill: the company's sales kWh of a "
        "billing month changes by less than ±60% from one month to the next (a bigger jump or drop means a "
        "partial or doubled delivery)"]
    example = next(r["examples"] for r in out.results if r["check_name"] == "sales_kwh.month_over_month_blocking")
    assert example[0]["month"] == "2024-03-01"
    assert example[0]["value"] == 120.0 and example[0]["previous_value"] == 300.0 and example[0]["change"] == -0.6


def test_month_whose_kwh_drops_55_percent_only_warns(tmp_path: Path) -> None:
    db = make_db(tmp_path / "w.duckdb",
                 "update core.fct_bill set kwh = kwh * 0.45 where billing_month = '2024-03-01'",
                 "update marts.line_loss_monthly set sales_kwh = sales_kwh * 0.45, supply_kwh = supply_kwh * 0.45, "
                 "loss_kwh = loss_kwh * 0.45 where month = '2024-03-01'")
    out = run_quality(db, "r1", config=CFG)
    assert out.blocking == []
    assert failed(out, "warn") == {"sales_kwh.month_over_month": 1}


def test_accepted_month_only_warns(tmp_path: Path) -> None:
    db = make_db(tmp_path / "w.duckdb",
                 "update core.fct_bill set kwh = kwh * 0.4 where billing_month = '2024-03-01'",
                 "update marts.line_loss_monthly set sales_kwh = sales_kwh * 0.4, supply_kwh = supply_kwh * 0.4, "
                 "loss_kwh = loss_kwh * 0.4 where month = '2024-03-01'")
    cfg = QualityConfig(drift_band=0.5, drift_error_band=0.6, drift_accept=frozenset({"2024-03"}), max_rows=4)
    out = run_quality(db, "r1", config=cfg)
    assert out.blocking == []
    assert failed(out, "warn") == {"sales_kwh.month_over_month": 1}


def test_duplicated_key_blocks(tmp_path: Path) -> None:
    # an exact duplicate of bill B1 slipped past staging; the area's sales doubled with it
    db = make_db(tmp_path / "w.duckdb",
                 "insert into core.fct_bill select * from core.fct_bill where bill_id = 'B1'",
                 "update marts.line_loss_monthly set sales_kwh = 200, supply_kwh = 210, loss_kwh = 10 "
                 "where tg_id = 'T1' and month = '2024-01-01'")
    out = run_quality(db, "r1", config=CFG)
    assert failed(out, "fail") == {"fct_bill.pk_unique": 2}
    assert failed(out, "warn") == {}
    assert out.blocking == ["fct_bill.pk_unique failed on 2 rows of core.fct_bill: "
                            "one row per bill_id in core.fct_bill: no key occurs twice"]
    assert rows_of(db, "r1")["fct_bill.pk_unique"][2:5] == ("error", "fail", 2)


def test_null_key_blocks(tmp_path: Path) -> None:
    db = make_db(tmp_path / "w.duckdb", "update core.fct_bill_line set item_no = null where bill_id = 'B6' "
                                        "and item_no = 2")
    out = run_quality(db, "r1", config=CFG)
    assert failed(out, "fail") == {"fct_bill_line.item_no_not_null": 1}


def test_negative_line_loss_in_an_area_only_warns(tmp_path: Path) -> None:
    db = make_db(tmp_path / "w.duckdb",
                 "update marts.line_loss_monthly set supply_kwh = 95, loss_kwh = -5, loss_rate = -5.0 / 95, "
                 "status = 'NEGATIVE' where tg_id = 'T1' and month = '2024-02-01'")
    out = run_quality(db, "r1", config=CFG)
    assert out.blocking == []
    assert failed(out, "warn") == {"line_loss_monthly.negative_loss": 1}
    assert rows_of(db, "r1")["line_loss_monthly.negative_loss"][1:5] == (
        "marts.line_loss_monthly", "warn", "warn", 1)
    assert out.warnings == ["line_loss_monthly.negative_loss failed on 1 row of marts.line_loss_monthly: "
                            "no area sells more than it is supplied (loss rate ≥ 0)"]


def test_late_payer_and_quarantined_rows_only_warn(tmp_path: Path) -> None:
    db = make_db(tmp_path / "w.duckdb",
                 "update core.fct_bill set paid_date = '2024-03-28', days_late = 5 where bill_id = 'B3'",
                 "insert into audit.quarantine values "
                 "('payment', '2024-02-05', 'payment/2024-02-05/payment.csv', 3, 'unparseable number amount=1O.00', "
                 "'P9,C1,B3,...', '2024-02-06 01:00:00'), "
                 "('cust', '2024-02-05', 'cust/2024-02-05/cust.csv', 7, 'unknown code voltage=K99', "
                 "'C9,张**,...', '2024-02-06 01:00:00')")
    out = run_quality(db, "r1", config=CFG)
    assert out.blocking == []
    assert failed(out, "warn") == {"fct_bill.paid_late": 1, "quarantine.rows": 2}
    rows = rows_of(db, "r1")
    assert rows["fct_bill.paid_late"][2:5] == ("warn", "warn", 1)
    late = next(r["examples"] for r in out.results if r["check_name"] == "fct_bill.paid_late")
    assert late == [{"bill_id": "B3", "cons_no": "C1", "due_date": "2024-03-23", "paid_date": "2024-03-28",
                     "billing_month": "2024-02-01", "days_late": 5}]
    assert rows["quarantine.rows"][1:5] == ("audit.quarantine", "warn", "warn", 2)
    examples = next(r["examples"] for r in out.results if r["check_name"] == "quarantine.rows")
    # failing examples never carry the raw record text
    assert [(e["extract"], e["record_no"]) for e in examples] == [("cust", 7), ("payment", 3)]
    assert all("raw_text" not in e for e in examples)


def test_missing_table_is_skipped_not_a_crash(tmp_path: Path) -> None:
    db = make_db(tmp_path / "w.duckdb", "drop table marts.line_loss_monthly")
    out = run_quality(db, "r1", config=CFG)
    assert out.blocking == [] and out.warnings == []
    rows = rows_of(db, "r1")
    for name in ("line_loss_monthly.negative_loss", "line_loss_monthly.pk_unique", "line_loss_monthly.sales.sales_kwh"):
        assert rows[name][3:5] == ("skipped", None), name
    assert rows["line_loss_monthly.negative_loss"][5] == "table marts.line_loss_monthly does not exist"


def test_missing_column_skips_only_its_check(tmp_path: Path) -> None:
    db = make_db(tmp_path / "w.duckdb", "alter table core.fct_bill drop column days_late")
    out = run_quality(db, "r1", config=CFG)
    rows = rows_of(db, "r1")
    assert rows["fct_bill.paid_late"][3:6] == ("skipped", None, "core.fct_bill has no column days_late")
    assert rows["fct_bill.pk_unique"][3] == "pass"
    assert out.blocking == []


def test_dbt_tests_become_checks(tmp_path: Path, clean: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    tests = {
        "test.powercrm.unique_fct_bill_bill_id.1a": ("unique_fct_bill_bill_id", "pass", 0, "error"),
        "test.powercrm.assert_recovery_ok.2b": ("assert_recovery_ok", "warn", 3, "warn"),
        "test.powercrm.not_null_fct_payment_pay_id.3c": ("not_null_fct_payment_pay_id", "fail", 1, "error"),
    }
    manifest = {"nodes": {
        "model.powercrm.fct_bill": {"schema": "core", "alias": "fct_bill", "name": "fct_bill"},
        "model.powercrm.fct_payment": {"schema": "core", "alias": "fct_payment", "name": "fct_payment"},
        **{uid: {"name": name, "config": {"severity": sev.upper()},
                 "attached_node": "model.powercrm.fct_payment" if "payment" in uid else "model.powercrm.fct_bill"}
           for uid, (name, _, _, sev) in tests.items()}}}
    run_results = {"results": [
        {"unique_id": "model.powercrm.fct_bill", "status": "success", "failures": None, "message": "OK"},
        *({"unique_id": uid, "status": st, "failures": n, "message": f"Got {n} results", "execution_time": 0.01}
          for uid, (_, st, n, _) in tests.items())]}
    (target / "manifest.json").write_text(json.dumps(manifest))
    (target / "run_results.json").write_text(json.dumps(run_results))
    out = run_quality(clean, "r1", target, config=CFG)
    rows = rows_of(clean, "r1")
    assert rows["unique_fct_bill_bill_id"][:5] == ("dbt", "core.fct_bill", "error", "pass", 0)
    assert rows["assert_recovery_ok"][:5] == ("dbt", "core.fct_bill", "warn", "warn", 3)
    assert rows["not_null_fct_payment_pay_id"][:5] == ("dbt", "core.fct_payment", "error", "fail", 1)
    assert out.blocking[0].startswith("not_null_fct_payment_pay_id failed on 1 row of core.fct_payment")
    assert len(out.blocking) == 1
    assert len(out.warnings) == 1 and out.warnings[0].startswith("assert_recovery_ok failed on 3 rows")
    assert "model.powercrm.fct_bill" not in rows  # models are not checks


def test_history_is_kept_and_the_report_is_self_contained(tmp_path: Path) -> None:
    db = make_db(tmp_path / "w.duckdb")
    run_quality(db, "run-1", config=CFG)
    con = duckdb.connect(str(db))
    con.execute("update core.fct_bill_line set amount_yuan = 57.00 where bill_id = 'B3' and item_no = 1")
    con.close()
    out = run_quality(db, "run-2", config=CFG)
    assert len(out.blocking) == 1
    con = duckdb.connect(str(db), read_only=True)
    per_run = dict(con.execute("select run_id, count(*) from audit.check_results group by 1").fetchall())
    statuses = con.execute("select run_id, status from audit.check_results where check_name = "
                           "'fct_bill.items_sum_to_bill' order by run_at, run_id").fetchall()
    con.close()
    assert per_run == {"run-1": len(out.results), "run-2": len(out.results)}
    assert statuses == [("run-1", "pass"), ("run-2", "fail")]

    page = write_report(db, tmp_path / "w.quality.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", page)
    assert "<script" not in page and "<link" not in page
    assert "run-2" in page
    assert "fct_bill.items_sum_to_bill" in page
    assert "Blocked: 1 blocking check(s) failed" in page
    # the failing record (bill B3) is shown, and the check's history has one cell per run: pass, then fail
    assert "<td>B3</td>" in page
    row = page[page.index("<b>fct_bill.items_sum_to_bill</b>"):]
    row = row[:row.index("</tr>\n")]
    assert re.findall(r"<i class='(\w+)'", row) == ["pass", "fail"]


def test_narrow_integer_columns_are_compared_vectorised() -> None:
    """GE checks bounds in one vectorised step only for int64/float64 columns: the runner widens
    DuckDB's INTEGER/SMALLINT/TINYINT columns (never NULL) and leaves nullable ones and the values alone."""
    from powercrm.quality.runner import fetch_frame, widen_ints

    con = duckdb.connect()
    df = widen_ints(fetch_frame(con, "select cast(range % 5 + 1 as integer) as score, cast(range as smallint) as s, "
                                     "cast(range as tinyint) as t, cast(range as utinyint) as u, range as big, "
                                     "case when range = 1 then null else cast(range as integer) end as maybe, "
                                     "'x' || range as label from range(3)"))
    assert {c: str(t) for c, t in df.dtypes.items()} == {
        "score": "int64", "s": "int64", "t": "int64", "u": "int64", "big": "int64", "maybe": "Int32", "label": "str"}
    assert df["score"].tolist() == [1, 2, 3] and df["maybe"].isna().tolist() == [False, True, False]
