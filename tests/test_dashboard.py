"""The analysts' dashboard (dashboard/): every page renders on a small published file, numbers are the
marts' numbers, filters filter, missing tables give a note, and a real headless browser draws the charts.

The whole module is skipped when streamlit is not installed: it lives in the optional `dashboard`
extra (`make dashboard` installs it), and the core test venv stays without it. The browser check is
skipped only where Debian's Chromium (/usr/bin/chromium) is missing.

The published file is built here from a tiny hand-written fixture (schemas core, marts, audit with
the column names of METRICS.md), so these tests do not depend on the pipeline.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("streamlit", reason="streamlit is not installed: it is in the optional `dashboard` extra "
                                        "(`pip install -e '.[dashboard]'` or `make dashboard`)")

from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("POWERCRM_CHROMIUM", "/usr/bin/chromium")

# page file -> the title it shows
PAGES = {
    "overview": "PowerCRM overview",
    "sales": "Sales volume",
    "line_loss": "Line loss",
    "price": "Unit price composition",
    "recovery": "Recovery & arrears",
    "profit": "Profit contribution",
    "credit": "Credit & segments",
    "key_accounts": "Key accounts",
    "service": "Service & outages",
    "quality": "Data quality",
}

S1, S2 = "334010101", "334010201"  # stations 城关供电所 (county C1) and 西山供电所 (county C2)
C1, C2 = "3340101", "3340102"
JAN, FEB = date(2025, 1, 1), date(2025, 2, 1)
D = "decimal(18,2)"

# table -> (columns, rows). Figures are written by hand; the tests below add them up by hand too.
FIXTURE: dict[str, tuple[str, list[tuple]]] = {
    "core.dim_org": (
        "org_no varchar, org_name varchar, org_level integer, parent_org_no varchar, station_org_no varchar, "
        "station_name varchar, county_org_no varchar, county_name varchar, company_org_no varchar, company_name varchar",
        [("33401", "江南供电公司", 1, None, None, None, None, None, "33401", "江南供电公司"),
         (C1, "城东县供电分公司", 2, "33401", None, None, C1, "城东县供电分公司", "33401", "江南供电公司"),
         (C2, "西山县供电分公司", 2, "33401", None, None, C2, "西山县供电分公司", "33401", "江南供电公司"),
         (S1, "城关供电所", 3, C1, S1, "城关供电所", C1, "城东县供电分公司", "33401", "江南供电公司"),
         (S2, "西山供电所", 3, C2, S2, "西山供电所", C2, "西山县供电分公司", "33401", "江南供电公司")]),
    "core.dim_elec_type": (
        "elec_type varchar, name_zh varchar, name_en varchar, is_two_part boolean",
        [("100", "居民生活", "residential", False), ("200", "工商业", "commercial & industrial", False),
         ("300", "大工业", "large industry (two-part)", True)]),
    "core.dim_pay_channel": (
        "channel varchar, name_zh varchar, name_en varchar, is_online boolean, is_money_received boolean",
        [("APP", "网上国网", "State Grid app", True, True), ("COUNTER", "营业厅", "service hall", False, True)]),
    "core.dim_complaint_category": (
        "category_l1 varchar, name_zh varchar, name_en varchar",
        [("BILLING", "电费争议", "billing dispute"), ("SUPPLY_QUALITY", "供电质量", "supply quality")]),
    "core.dim_transformer_area": (
        "tg_id varchar, tg_name varchar, org_no varchar, tg_capacity_kva decimal(12,2)",
        [("TG1", "城关1号台区", S1, 400), ("TG2", "西山1号台区", S2, 315)]),
    "core.dim_customer": (
        "customer_sk varchar, cons_no varchar, cons_name varchar, elec_type varchar, org_no varchar, "
        "county_org_no varchar, is_current boolean",
        [("k1", "3100000001", "张**", "100", S1, C1, True), ("k2", "3100000002", "兴隆机械有限公司", "300", S2, C2, True),
         ("k3", "3100000003", "李*", "100", S1, C1, True)]),
    "marts.sales_volume_monthly": (
        f"month date, org_no varchar, elec_type varchar, voltage varchar, industry_section varchar, "
        f"customers_billed integer, sales_kwh {D}, amount_yuan {D}, sales_kwh_prev_year {D}, sales_kwh_yoy_rate double",
        [(JAN, S1, "100", "V220", None, 10, 1000, 560, 900, 1000 / 900 - 1),
         (FEB, S1, "100", "V220", None, 10, 1200, 672, 1000, 0.2),
         (FEB, S2, "300", "K10", "C", 2, 2500, 1900, None, None)]),
    "marts.line_loss_monthly": (
        f"tg_id varchar, month date, org_no varchar, supply_kwh {D}, sales_kwh {D}, loss_kwh {D}, loss_rate double, "
        "status varchar",
        [("TG1", JAN, S1, 1100, 1000, 100, 100 / 1100, "NORMAL"), ("TG1", FEB, S1, 1400, 1200, 200, 200 / 1400, "HIGH"),
         ("TG2", FEB, S2, None, 2500, None, None, "NO_SUPPLY")]),
    "marts.line_loss_station_monthly": (
        f"org_no varchar, month date, supply_kwh {D}, sales_kwh {D}, loss_kwh {D}, loss_rate double, areas integer, "
        "areas_high integer, areas_negative integer",
        [(S1, JAN, 1100, 1000, 100, 100 / 1100, 1, 0, 0), (S1, FEB, 1400, 1200, 200, 200 / 1400, 1, 1, 0)]),
    "marts.line_loss_county_monthly": (
        f"county_org_no varchar, county_name varchar, company_org_no varchar, month date, stations integer, "
        f"supply_kwh {D}, sales_kwh {D}, loss_kwh {D}, loss_rate double, areas integer, areas_high integer, "
        "areas_negative integer",
        [(C1, "城东县供电分公司", "33401", JAN, 1, 1100, 1000, 100, 100 / 1100, 1, 0, 0),
         (C1, "城东县供电分公司", "33401", FEB, 1, 1400, 1200, 200, 200 / 1400, 1, 1, 0)]),
    "marts.unit_price_monthly": (
        f"month date, org_no varchar, elec_type varchar, voltage varchar, billed_kwh {D}, energy_kwh {D}, "
        f"energy_yuan {D}, basic_yuan {D}, pf_adj_yuan {D}, fund_yuan {D}, total_yuan {D}, "
        "avg_price_yuan_per_kwh decimal(18,6), avg_price_ex_fund_yuan_per_kwh decimal(18,6), energy_share double, "
        "basic_share double, pf_adj_share double, fund_share double, peak_kwh_share double, valley_kwh_share double",
        [(FEB, S1, "100", "V220", 1200, 1200, 650, 0, 0, 22, 672, 0.56, 0.541667, 650 / 672, 0, 0, 22 / 672, None,
          None),
         (FEB, S2, "300", "K10", 2500, 2500, 1500, 300, 20, 80, 1900, 0.76, 0.728, 1500 / 1900, 300 / 1900,
          20 / 1900, 80 / 1900, 0.4, 0.3)]),
    "marts.recovery_monthly": (
        f"month date, org_no varchar, elec_type varchar, billed_yuan {D}, collected_yuan {D}, recovery_rate double, "
        f"collected_by_due_yuan {D}, on_time_recovery_rate double, refund_yuan {D}",
        [(JAN, S1, "100", 560, 560, 1.0, 500, 500 / 560, 0), (FEB, S2, "300", 1900, 1000, 1000 / 1900, 900,
                                                              900 / 1900, 0)]),
    "marts.arrears_ageing": (
        f"snapshot_date date, org_no varchar, elec_type varchar, ageing_bucket varchar, receivables bigint, "
        f"customers bigint, arrears_yuan {D}, penalty_accrued_yuan {D}",
        [(date(2025, 2, 28), S2, "300", "1-30", 1, 1, 900, 12.6), (date(2025, 2, 28), S1, "100", "31-60", 1, 1, 60, 2.1),
         (date(2025, 1, 31), S1, "100", "1-30", 1, 1, 60, 1)]),
    "marts.arrears_top_customers": (
        f"snapshot_date date, org_no varchar, arrears_rank integer, cons_no varchar, cons_name varchar, "
        f"elec_type varchar, receivables bigint, arrears_yuan {D}, penalty_accrued_yuan {D}, "
        "oldest_days_overdue integer, oldest_due_date date, last_dunning_event_type varchar, "
        "last_dunning_time timestamp",
        [(date(2025, 2, 28), S2, 1, "3100000002", "兴隆机械有限公司", "300", 1, 900, 12.6, 7, date(2025, 2, 21), "SMS",
          datetime(2025, 2, 25, 10)),
         (date(2025, 2, 28), S1, 1, "3100000001", "张**", "100", 1, 60, 2.1, 35, date(2025, 1, 24), None, None)]),
    "marts.payment_channel_monthly": (
        f"month date, channel varchar, elec_type varchar, payments bigint, payers bigint, amount_yuan {D}, "
        "amount_share double",
        [(JAN, "APP", "100", 8, 8, 500, 500 / 560), (JAN, "COUNTER", "100", 2, 2, 60, 60 / 560),
         (FEB, "APP", "300", 1, 1, 1000, 1.0)]),
    "marts.customer_value": (
        f"cons_no varchar, elec_type varchar, profit_yuan {D}, revenue_yuan {D}, kwh {D}, abc_class varchar, "
        f"recency_days integer, frequency integer, monetary_yuan {D}, r_score integer, f_score integer, "
        "m_score integer",
        [("3100000002", "300", 800, 3000, 5000, "A", 5, 12, 3000, 5, 5, 5),
         ("3100000001", "100", 150, 1200, 2200, "B", 20, 11, 1200, 3, 4, 4),
         ("3100000003", "100", -10, 100, 180, "C", 400, 1, 100, 1, 1, 1)]),
    "marts.customer_profit_monthly": (
        f"cons_no varchar, month date, org_no varchar, elec_type varchar, kwh {D}, revenue_yuan {D}, "
        f"energy_cost_yuan {D}, margin_yuan {D}, marketing_cost_yuan {D}, operating_cost_yuan {D}, profit_yuan {D}, "
        f"kwh_yoy_rate double, contract_kva_change {D}, has_normal_bill boolean",
        [("3100000001", FEB, S1, "100", 1200, 650, 500, 150, 5, 5, 140, 0.2, None, True),
         ("3100000002", FEB, S2, "300", 2500, 1820, 1200, 620, 5, 15, 600, -0.35, 0, True)]),
    "marts.customer_credit": (
        "cons_no varchar, as_of_date date, customer_sk varchar, org_no varchar, elec_type varchar, "
        "credit_score decimal(5,2), credit_grade varchar, arrears_yuan decimal(18,2), oldest_days_overdue integer",
        [("3100000001", date(2025, 2, 28), "k1", S1, "100", 78.5, "A", 60, 35),
         ("3100000002", date(2025, 2, 28), "k2", S2, "300", 95, "AAA", 900, 7),
         ("3100000003", date(2025, 2, 28), "k3", S1, "100", 55, "C", 0, None)]),
    "marts.customer_segment": (
        "cons_no varchar, as_of_date date, org_no varchar, elec_type varchar, abc_class varchar, "
        "credit_score decimal(5,2), credit_grade varchar, segment_no integer, segment_label_zh varchar, "
        "segment_label_en varchar",
        [("3100000001", date(2025, 2, 28), S1, "100", "B", 78.5, "A", 3, "一般", "ordinary"),
         ("3100000002", date(2025, 2, 28), S2, "300", "A", 95, "AAA", 1, "优质", "premium"),
         ("3100000003", date(2025, 2, 28), S1, "100", "C", 55, "C", 5, "差", "bad")]),
    "marts.dim_segment": (
        "segment_no integer, segment_label_zh varchar, segment_label_en varchar, service_strategy_zh varchar, "
        "service_strategy_en varchar",
        [(1, "优质", "premium", "客户经理与优先服务", "account manager and priority service"),
         (3, "一般", "ordinary", "标准服务", "standard service"),
         (5, "差", "bad", "保证金、预付费或法律追欠", "deposit, prepayment or the legal arrears process")]),
    "marts.customer_segment_history": (
        "snapshot_date date, month date, previous_snapshot_date date, from_segment_no integer, "
        "to_segment_no integer, movement varchar, customers bigint",
        [(date(2025, 2, 28), FEB, date(2025, 1, 31), 3, 5, "DOWN", 1),
         (date(2025, 2, 28), FEB, date(2025, 1, 31), 1, 1, "SAME", 1)]),
    "marts.key_account_monthly": (
        f"cons_no varchar, month date, org_no varchar, elec_type varchar, contract_kva {D}, kwh {D}, "
        f"kwh_prev_year {D}, kwh_yoy_rate double, max_demand_kw {D}, load_factor double, demand_utilisation double, "
        f"power_factor double, amount_yuan {D}, arrears_yuan {D}, alert varchar",
        [("3100000002", JAN, S2, "300", 400, 3000, 2900, 3000 / 2900 - 1, 380, 0.011, 0.95, 0.93, 2200, 0, None),
         ("3100000002", FEB, S2, "300", 400, 2500, 3800, 2500 / 3800 - 1, 420, 0.0089, 1.05, 0.91, 1900, 900,
          "DROP,OVERLOAD")]),
    "marts.complaint_monthly": (
        "month date, org_no varchar, category_l1 varchar, category_l2 varchar, complaints bigint, "
        "repeat_complaints bigint, escalated bigint, closed bigint, closed_on_time bigint, avg_handle_hours double, "
        "satisfied_rate double, complaints_per_10k_customers double",
        [(JAN, S1, "BILLING", "BILL_AMOUNT", 2, 0, 0, 2, 2, 20.0, 1.0, 2000.0),
         (FEB, S2, "SUPPLY_QUALITY", "OUTAGE", 1, 1, 0, 1, 0, 80.0, 0.0, 5000.0)]),
    "marts.outage_monthly": (
        "month date, org_no varchar, outage_type varchar, events bigint, customer_hours double, saidi_hours double, "
        "saifi double, notified_share double",
        [(FEB, S2, "FAULT", 1, 8.0, 4.0, 1.0, 0.0)]),
    "marts.satisfaction_monthly": (
        "month date, org_no varchar, elec_type varchar, surveys bigint, avg_score_overall double, "
        "satisfaction_index double, satisfied_share double",
        [(JAN, S1, "100", 3, 9.0, 90.0, 1.0), (FEB, S1, "100", 2, 8.5, 85.0, 0.5), (FEB, S2, "300", 1, 6.0, 60.0, 0.0)]),
    "marts.service_quality_monthly": (
        "month date, org_no varchar, county_org_no varchar, complaints bigint, complaints_per_10k_customers double, "
        "satisfaction_index double, outage_events bigint, customer_hours double, saidi_hours double",
        [(JAN, S1, C1, 2, 2000.0, 90.0, 0, 0.0, 0.0), (FEB, S1, C1, 0, 0.0, 85.0, 0, 0.0, 0.0),
         (FEB, S2, C2, 1, 5000.0, 60.0, 1, 8.0, 4.0)]),
    "marts.complaint_hotspot": (
        "as_of_date date, unit_level varchar, org_no varchar, tg_id varchar, complaints bigint, "
        "complaints_per_10k_customers double, hotspot_rank bigint",
        [(date(2025, 2, 28), "STATION", S2, None, 1, 5000.0, 1)]),
    "audit.check_results": (
        "run_id varchar, check_name varchar, table_name varchar, status varchar, failing_rows bigint, run_at timestamp",
        [("r1", "sales_volume_monthly.pk_unique", "marts.sales_volume_monthly", "pass", 0, datetime(2025, 3, 1, 2)),
         ("r1", "line_loss_monthly.plausible_loss", "marts.line_loss_monthly", "warn", 1, datetime(2025, 3, 1, 2))]),
    "audit.load_log": (
        "extract varchar, business_date date, manifest_sha256 varchar, rows_in bigint, rows_loaded bigint, "
        "rows_quarantined bigint, status varchar, message varchar, loaded_at timestamp",
        [("bill", date(2025, 2, 28), "ab" * 32, 3, 3, 0, "LOADED", None, datetime(2025, 3, 1, 1)),
         ("payment", date(2025, 2, 27), "cd" * 32, 5, 4, 1, "LOADED", None, datetime(2025, 3, 1, 1)),
         ("payment", date(2025, 2, 28), "ef" * 32, 0, 0, 0, "REJECTED", "sha256 does not match the manifest",
          datetime(2025, 3, 1, 1))]),
    "audit.quarantine": (
        "extract varchar, business_date date, file varchar, record_no bigint, reason varchar, raw_text varchar",
        [("payment", date(2025, 2, 27), "payment.csv", 4, "unparseable number amount=12,34", "P9,3100000001,...")]),
    "audit.publish_log": (
        "run_id varchar, published_at timestamp, data_date date, command varchar",
        [("r1", datetime(2025, 3, 1, 2, 30), date(2025, 2, 28), "run")]),
}


def build_published(path: Path, omit: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> Path:
    """Write the fixture as a published file (schemas core, marts, audit), without the tables in `omit`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        for schema in ("core", "marts", "audit"):
            con.execute(f"create schema {schema}")
        for table, (cols, rows) in FIXTURE.items():
            if table in omit or (only is not None and table not in only):
                continue
            con.execute(f"create table {table} ({cols})")
            marks = ", ".join("?" for _ in rows[0])
            con.executemany(f"insert into {table} values ({marks})", rows)
        con.execute("checkpoint")
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return build_published(tmp_path_factory.mktemp("published") / "powercrm.duckdb")


def app_on(monkeypatch, path: Path) -> AppTest:
    monkeypatch.setenv("POWERCRM_WAREHOUSE", str(path))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py")
    at.run()
    return at


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def charts(at: AppTest) -> list:
    return list(at.get("vega_lite_chart"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_on_a_small_published_file(monkeypatch, published, page):
    at = open_page(app_on(monkeypatch, published), page)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)
    assert any(t.startswith(PAGES[page]) for t in texts(at.title)), texts(at.title)
    # every table the page reads is in the fixture with the expected columns: no "could not be read" warning
    assert not [w for w in texts(at.warning) if "could not be read" in w]
    assert not texts(at.info), "no table is missing from the fixture, so no page shows a missing-table note"
    if page != "overview":
        assert charts(at), f"{page} draws at least one chart"


def test_numbers_are_the_marts_numbers_and_filters_filter(monkeypatch, published):
    at = open_page(app_on(monkeypatch, published), "sales")
    metrics = {m.label: m.value for m in at.metric}
    # Σ sales_kwh of the three fixture rows: 1000 + 1200 + 2500; amount 560 + 672 + 1900
    assert metrics["Sales in the months chosen"] == "4.70 k kWh"
    assert metrics["Billed amount"] == "¥3.13 k"
    assert metrics["Months"] == "2"

    at.sidebar.multiselect(key="f_stations").set_value([S2]).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sales in the months chosen"] == "2.50 k kWh"  # 西山供电所 only

    at.sidebar.multiselect(key="f_stations").set_value([]).run()
    at.sidebar.multiselect(key="f_elec").set_value(["100"]).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sales in the months chosen"] == "2.20 k kWh"  # residential: 1000 + 1200

    at.sidebar.multiselect(key="f_elec").set_value([]).run()
    at.sidebar.select_slider(key="f_months").set_value((FEB, FEB)).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sales in the months chosen"] == "3.70 k kWh"  # February: 1200 + 2500


def test_county_filter_covers_its_stations(monkeypatch, published):
    at = open_page(app_on(monkeypatch, published), "sales")
    at.sidebar.multiselect(key="f_counties").set_value([C1]).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sales in the months chosen"] == "2.20 k kWh"  # 城关供电所 lies in 城东县
    # the station choice offers only the county's stations
    assert at.sidebar.multiselect(key="f_stations").options == [f"城关供电所 ({S1})"]


def test_quality_page_shows_warnings_rejections_and_quarantine(monkeypatch, published):
    at = open_page(app_on(monkeypatch, published), "quality")
    warnings = " ".join(texts(at.warning))
    assert "1 check(s) gave a warning" in warnings
    assert "1 partition(s) rejected" in warnings
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["pass"] == "1" and metrics["warn"] == "1"
    assert metrics["Rows quarantined (all runs)"] == "1"


def test_pages_read_the_file_without_changing_it(monkeypatch, tmp_path):
    path = build_published(tmp_path / "powercrm.duckdb")
    before = sha256(path)
    at = app_on(monkeypatch, path)
    for page in PAGES:
        open_page(at, page)
        assert not at.exception, (page, [e.value for e in at.exception])
    assert sha256(path) == before
    assert not Path(str(path) + ".wal").exists()


def test_a_replaced_file_is_read_afresh(monkeypatch, tmp_path):
    """The nightly publish swaps the file with os.replace; the next click shows the new night's data."""
    path = build_published(tmp_path / "powercrm.duckdb")
    at = open_page(app_on(monkeypatch, path), "sales")
    assert {m.label: m.value for m in at.metric}["Sales in the months chosen"] == "4.70 k kWh"
    nxt = build_published(tmp_path / "next" / "powercrm.duckdb")
    con = duckdb.connect(str(nxt))
    con.execute("update marts.sales_volume_monthly set sales_kwh = sales_kwh * 2")
    con.close()
    os.replace(nxt, path)
    at.run()
    assert {m.label: m.value for m in at.metric}["Sales in the months chosen"] == "9.40 k kWh"


MISSING = {
    "sales": ("marts.sales_volume_monthly",),
    "line_loss": ("marts.line_loss_monthly", "marts.line_loss_station_monthly", "marts.line_loss_county_monthly"),
    "price": ("marts.unit_price_monthly",),
    "recovery": ("marts.recovery_monthly", "marts.arrears_ageing", "marts.arrears_top_customers",
                 "marts.payment_channel_monthly"),
    "profit": ("marts.customer_value", "marts.customer_profit_monthly"),
    "credit": ("marts.customer_credit", "marts.customer_segment", "marts.customer_segment_history"),
    "key_accounts": ("marts.key_account_monthly",),
    "service": ("marts.complaint_monthly", "marts.satisfaction_monthly", "marts.outage_monthly",
                "marts.service_quality_monthly"),
    "quality": ("audit.check_results", "audit.load_log", "audit.quarantine"),
}


@pytest.mark.parametrize("page", list(MISSING))
def test_a_missing_table_gives_a_note_not_a_crash(monkeypatch, tmp_path, page):
    path = build_published(tmp_path / "powercrm.duckdb", omit=MISSING[page])
    at = open_page(app_on(monkeypatch, path), page)
    assert not at.exception, [e.value for e in at.exception]
    notes = " ".join(texts(at.info))
    for table in MISSING[page]:
        if table != "marts.service_quality_monthly":  # the service page falls back to the other two marts
            assert f"`{table}` is not in the published file yet" in notes, (table, notes)


def test_every_page_copes_with_an_almost_empty_file(monkeypatch, tmp_path):
    path = build_published(tmp_path / "powercrm.duckdb", only=("core.dim_org",))
    at = app_on(monkeypatch, path)
    for page in PAGES:
        open_page(at, page)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert any(t.startswith(PAGES[page]) for t in texts(at.title))


def test_a_missing_file_says_what_to_do(monkeypatch, tmp_path):
    at = app_on(monkeypatch, tmp_path / "nowhere.duckdb")
    assert not at.exception
    assert any("make run" in e and "nowhere.duckdb" in e for e in texts(at.error))


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "a PNG file"
    return struct.unpack(">II", head[16:24])


@pytest.mark.skipif(not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)),
                    reason=f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
def test_end_to_end_in_a_headless_browser(tmp_path):
    """Start the dashboard on a free loopback port, load pages in headless Chromium, wait for the charts,
    and keep screenshots in tests/artifacts/."""
    sys.path.insert(0, str(ROOT / "dashboard"))
    try:
        from browser import Chromium, dashboard_server
    finally:
        sys.path.remove(str(ROOT / "dashboard"))
    path = build_published(tmp_path / "powercrm.duckdb")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "dashboard_server.log"
    with dashboard_server(path, log=log) as url, Chromium() as browser:
        for page, title in (("sales", "Sales volume"), ("line_loss", "Line loss"), ("quality", "Data quality")):
            state = browser.open(f"{url}/{page}", min_charts=1, timeout=90)
            assert state["title"].startswith(title), state
            assert state["exceptions"] == 0, state
            assert state["drawn"] >= 1 and state["drawn"] == state["charts"], state
            shot = browser.screenshot(ARTIFACTS / f"dashboard_{page}.png")
            width, height = _png_size(shot)
            assert width >= 1000 and height >= 600 and shot.stat().st_size > 20_000, (width, height)
