"""Service and demand marts (METRICS.md §9, §10) on a small hand-made landing folder.

Every expected figure below was worked out by hand from the rows written here (the arithmetic
is in the comments), never by the code under test. The warehouse is built once per module.

The landing: company 33401 → counties 3340101 (K1) and 3340102 (K2) → stations S1 334010101,
S2 334010102 (both K1) and S3 334010201 (K2). Data date 2024-04-10 (the latest partition).

Customers ACTIVE with open_date ≤ month end, by station in force at that month end:
    Feb 2024: S1 = A1 A2 A3 A4 (4), S2 = B1 B2 B3 (3; N1 opens 2024-03-10), S3 = D1 D2 (2)
              K1 = 7, K2 = 2
    Mar 2024: S1 = A1 A2 A4 (3; A3 moved to S2 on 03-05), S2 = B1 B2 B3 N1 A3 (5),
              S3 = D1 (1; D2 closed on 03-19), K1 = 8, K2 = 1
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dbt_helpers import build_warehouse
from landing_factory import customer, payment, write_partition

REPO = Path(__file__).resolve().parents[1]
MODELS = ["complaint_monthly", "work_order_monthly", "satisfaction_monthly", "outage_monthly",
          "service_quality_monthly", "complaint_hotspot", "demand_monthly"]
# dimensions the marts' relationship tests point at, so that those tests run too
DIMS = ["dim_complaint_category", "dim_elec_type", "dim_industry", "dim_transformer_area"]

COMPANY, K1, K2 = "33401", "3340101", "3340102"
S1, S2, S3 = "334010101", "334010102", "334010201"
T11, T12, T21, T31 = "334010101001", "334010101002", "334010102001", "334010201001"
A1, A2, A3, A4 = "3100000001", "3100000002", "3100000003", "3100000004"
B1, B2, B3 = "3100000011", "3100000012", "3100000013"
D1, D2 = "3100000021", "3100000022"
N1 = "3100000031"

ORG_COLS = "org_no org_name parent_org_no org_level tg_id tg_name tg_capacity_kva".split()
OUTAGE_COLS = "event_id outage_type tg_id cons_no start_time end_time customers_affected notified_in_advance".split()


def org(org_no, name, parent, level, tg_id="", tg_name="", kva=""):
    return dict(org_no=org_no, org_name=name, parent_org_no=parent, org_level=str(level), tg_id=tg_id,
                tg_name=tg_name, tg_capacity_kva=kva)


def order(order_id, org_no, order_type, accept, deadline, finish="", cons_no="", l1="", l2="", repeat="N",
          escalated="N", satisfaction="", channel="PHONE"):
    return dict(order_id=order_id, cons_no=cons_no, accept_time=accept, channel=channel, order_type=order_type,
                category_l1=l1, category_l2=l2, org_no=org_no, content="客户来电反映问题", deadline_time=deadline,
                finish_time=finish, is_repeat=repeat, is_escalated=escalated, satisfaction=satisfaction)


def survey(survey_id, cons_no, day, supply="", billing="", service="", channel_score="", overall=""):
    return dict(survey_id=survey_id, cons_no=cons_no, survey_date=day, channel="PHONE", score_supply=supply,
                score_billing=billing, score_service=service, score_channel=channel_score,
                score_overall=overall, comment="")


def outage(event_id, outage_type, start, end, affected, notified, tg_id="", cons_no=""):
    return dict(event_id=event_id, outage_type=outage_type, tg_id=tg_id, cons_no=cons_no, start_time=start,
                end_time=end, customers_affected=str(affected), notified_in_advance=notified)


def build_landing(landing: Path) -> None:
    write_partition(landing, "org", "2024-01-31", [
        org(COMPANY, "江南供电公司", "", 1),
        org(K1, "城东县供电分公司", COMPANY, 2),
        org(K2, "西山县供电分公司", COMPANY, 2),
        org(S1, "城关供电所", K1, 3), org(S2, "东湖供电所", K1, 3), org(S3, "西山供电所", K2, 3),
        org(S1, "城关供电所", K1, 3, T11, "城关1号台区", "400.00"),
        org(S1, "城关供电所", K1, 3, T12, "城关2号台区", "315.00"),
        org(S2, "东湖供电所", K1, 3, T21, "东湖1号台区", "630.00"),
        org(S3, "西山供电所", K2, 3, T31, "西山1号台区", "400.00"),
    ], header=ORG_COLS)

    base = "2023-12-31 08:00:00"
    write_partition(landing, "cust", "2024-01-31", [
        customer(A1, "张三丰", base, org_no=S1, tg_id=T11),
        customer(A2, "李四", base, org_no=S1, tg_id=T11),
        customer(A3, "王五", base, org_no=S1, tg_id=T12),
        customer(A4, "城关机械厂", base, org_no=S1, tg_id=T11, elec_type="200", voltage="V380",
                 contract_kva="100.00", industry_code="C26", tariff_code="C-V380"),
        customer(B1, "赵六", base, org_no=S2, tg_id=T21),
        customer(B2, "钱七", base, org_no=S2, tg_id=T21),
        # a large-industry customer on a dedicated line: in no transformer area
        customer(B3, "东湖钢铁厂", base, org_no=S2, tg_id="", elec_type="300", voltage="K10",
                 contract_kva="1000.00", industry_code="C30", tariff_code="L-K10"),
        customer(D1, "孙八", base, org_no=S3, tg_id=T31),
        customer(D2, "周九", base, org_no=S3, tg_id=T31),
    ])
    # the master delta of March: a move, a new account, a capacity increase (增容), a closure
    # (销户), a capacity decrease (减容)
    write_partition(landing, "cust", "2024-03-31", [
        customer(A3, "王五", "2024-03-05 10:00:00", org_no=S2, tg_id=T21),
        customer(N1, "东湖超市", "2024-03-10 09:00:00", org_no=S2, tg_id=T21, elec_type="200", voltage="V380",
                 contract_kva="50.00", industry_code="F52", tariff_code="C-V380", open_date="2024-03-10"),
        customer(A4, "城关机械厂", "2024-03-15 10:00:00", org_no=S1, tg_id=T11, elec_type="200", voltage="V380",
                 contract_kva="160.00", industry_code="C26", tariff_code="C-V380"),
        customer(D2, "周九", "2024-03-20 09:00:00", org_no=S3, tg_id=T31, status="CLOSED",
                 close_date="2024-03-19"),
        customer(B3, "东湖钢铁厂", "2024-03-25 10:00:00", org_no=S2, tg_id="", elec_type="300", voltage="K10",
                 contract_kva="800.00", industry_code="C30", tariff_code="L-K10"),
    ])
    # a prepayment, so that the months of data start in January
    write_partition(landing, "payment", "2024-01-15", [payment("P0001", "100.00", A1, pay_time="2024-01-15 10:00:00")])

    write_partition(landing, "workorder", "2024-03-31", [
        # S1 BILLING: on time; late (closed, not on time, repeat); still open (escalated);
        # finished after the data date (not closed)
        order("W01", S1, "COMPLAINT", "2024-03-02 09:00:00", "2024-03-05 09:00:00", "2024-03-04 15:30:00",
              A1, "BILLING", "电费金额争议", satisfaction="SATISFIED"),
        order("W02", S1, "COMPLAINT", "2024-03-06 10:00:00", "2024-03-08 10:00:00", "2024-03-09 12:00:00",
              A2, "BILLING", "电费金额争议", repeat="Y", satisfaction="UNSATISFIED"),
        order("W03", S1, "COMPLAINT", "2024-03-20 08:00:00", "2024-03-25 08:00:00", "",
              A1, "BILLING", "电费金额争议", escalated="Y"),
        order("W04", S1, "COMPLAINT", "2024-03-28 08:00:00", "2024-04-15 08:00:00", "2024-04-12 08:00:00",
              A4, "BILLING", "电费金额争议"),
        # the county is the responsible unit
        order("W05", K1, "COMPLAINT", "2024-03-15 14:00:00", "2024-03-18 14:00:00", "2024-03-16 14:00:00",
              B1, "SERVICE", "服务态度", escalated="Y", satisfaction="SATISFIED"),
        # a county system's `YYYY/MM/DD HH:MM` timestamps
        order("W06", S2, "COMPLAINT", "2024/03/10 08:30", "2024/03/12 08:30", "2024/03/11 20:30",
              B2, "METERING", "电能表故障", satisfaction="SATISFIED"),
        # delivered open here, finished and rated on 2024-04-10
        order("W07", S2, "COMPLAINT", "2024-03-29 09:00:00", "2024-04-02 09:00:00", "",
              B3, "METERING", "电能表故障"),
        order("W08", K2, "COMPLAINT", "2024-02-10 10:00:00", "2024-02-12 10:00:00", "2024-02-11 10:00:00",
              D1, "OUTAGE", "停电未通知", satisfaction="NEUTRAL"),
        order("W09", S1, "REPAIR", "2024-03-03 08:00:00", "2024-03-03 12:00:00", "2024-03-03 10:00:00", A1),
        # a connection request from somebody who is not a customer yet
        order("W10", S2, "OPINION", "2024-03-05 09:00:00", "2024-03-10 09:00:00", "2024-03-07 09:00:00",
              "", "CONNECTION", "新装办理"),
        order("W11", S1, "COMPLAINT", "2024-03-12 09:00:00", "2024-03-20 09:00:00", "2024-03-14 09:00:00",
              A4, "CONNECTION", "增容办理", satisfaction="SATISFIED"),
    ])
    write_partition(landing, "workorder", "2024-04-10", [
        order("W07", S2, "COMPLAINT", "2024-03-29 09:00:00", "2024-04-02 09:00:00", "2024-04-01 21:00:00",
              B3, "METERING", "电能表故障", satisfaction="UNSATISFIED"),
    ])

    write_partition(landing, "survey", "2024-03-31", [
        survey("S01", A1, "2024-03-05", "8", "9", "10", "7", "9"),
        survey("S02", A2, "2024-03-06", "", "6", "", "5", "7"),
        survey("S03", A1, "2024-03-07", "6", "", "8", "", ""),
        survey("S04", A4, "2024-03-08", "10", "10", "10", "10", "8"),
        survey("S05", B1, "2024-03-09"),
    ])

    write_partition(landing, "outage", "2024-03-31", [
        outage("O01", "FAULT", "2024-03-10 08:00:00", "2024-03-10 11:30:00", 2, "N", tg_id=T11),
        outage("O02", "PLANNED", "2024-03-20 09:00:00", "2024-03-20 13:00:00", 1, "Y", tg_id=T12),
        # a dedicated-line customer: no area, the customer's station
        outage("O03", "FAULT", "2024-03-15 22:00:00", "2024-03-16 04:00:00", 1, "N", cons_no=B3),
    ], header=OUTAGE_COLS)


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("service")
    build_landing(tmp / "landing")
    con = duckdb.connect(str(build_warehouse(tmp, tmp / "landing", MODELS + DIMS)), read_only=True)
    # every row of the hand-made landing is usable
    assert con.execute("select count(*) from meta.quarantine").fetchone()[0] == 0
    yield con
    con.close()


def rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def one(con, sql: str) -> dict:
    found = rows(con, sql)
    assert len(found) == 1, found
    return found[0]


def approx(v):
    return pytest.approx(v, rel=1e-9, abs=1e-9)


def test_data_date(wh):
    assert str(wh.execute("select as_of_date from intermediate.int_data_date").fetchone()[0]) == "2024-04-10"


def test_complaint_closed_late_open_and_finished_after_data_date(wh):
    r = one(wh, f"select * from marts.complaint_monthly where month = date '2024-03-01' and org_no = '{S1}' "
                "and category_l1 = 'BILLING'")
    assert r["category_l2"] == "电费金额争议"
    # W01 on time, W02 late, W03 open, W04 finished 2024-04-12 > data date 2024-04-10
    assert r["complaints"] == 4
    assert r["closed"] == 2            # W01, W02
    assert r["closed_on_time"] == 1    # W01 (W02 finished 03-09 12:00 after its 03-08 10:00 deadline)
    assert r["repeat_complaints"] == 1  # W02
    assert r["escalated"] == 1          # W03
    # W01 03-02 09:00 → 03-04 15:30 = 54.5 h; W02 03-06 10:00 → 03-09 12:00 = 74 h; mean 64.25
    assert r["avg_handle_hours"] == approx(64.25)
    # rated: W01 SATISFIED, W02 UNSATISFIED
    assert r["rated"] == 2
    assert r["satisfied_rate"] == approx(0.5)
    # S1 at the end of March: A1, A2, A4 (A3 moved to S2) → 4 × 10000 / 3
    assert r["active_customers"] == 3
    assert r["complaints_per_10k_customers"] == approx(40000 / 3)


def test_complaint_of_a_county_uses_its_subtree(wh):
    r = one(wh, f"select * from marts.complaint_monthly where month = date '2024-03-01' and org_no = '{K1}'")
    assert (r["category_l1"], r["category_l2"]) == ("SERVICE", "服务态度")
    assert (r["complaints"], r["escalated"], r["closed"], r["closed_on_time"]) == (1, 1, 1, 1)
    assert r["avg_handle_hours"] == approx(24.0)
    assert r["satisfied_rate"] == approx(1.0)
    # K1 = S1 (3) + S2 (5) at the end of March
    assert r["active_customers"] == 8
    assert r["complaints_per_10k_customers"] == approx(1250.0)
    # K2 in February: S3 with D1 and D2 (D2 closes only in March); one NEUTRAL verdict
    r = one(wh, f"select * from marts.complaint_monthly where month = date '2024-02-01' and org_no = '{K2}'")
    assert (r["category_l1"], r["category_l2"], r["complaints"], r["closed"], r["closed_on_time"]) == (
        "OUTAGE", "停电未通知", 1, 1, 1)
    assert r["active_customers"] == 2
    assert r["complaints_per_10k_customers"] == approx(5000.0)
    assert r["satisfied_rate"] == approx(0.0)


def test_slash_timestamps_and_redelivered_order_counted_once_finished(wh):
    r = one(wh, f"select * from marts.complaint_monthly where month = date '2024-03-01' and org_no = '{S2}'")
    assert (r["category_l1"], r["category_l2"]) == ("METERING", "电能表故障")
    # W06 (2024/03/10 08:30 → 2024/03/11 20:30, 36 h) and W07 (once, finished 04-01 21:00: 84 h)
    assert (r["complaints"], r["closed"], r["closed_on_time"], r["rated"]) == (2, 2, 2, 2)
    assert r["avg_handle_hours"] == approx(60.0)
    assert r["satisfied_rate"] == approx(0.5)  # W06 SATISFIED, W07 UNSATISFIED (its later delivery)
    assert r["complaints_per_10k_customers"] == approx(4000.0)  # 2 × 10000 / 5
    assert wh.execute("select count(*) from core.fct_work_order where order_id = 'W07'").fetchone()[0] == 1


def test_complaint_monthly_rows(wh):
    got = rows(wh, "select month, org_no, category_l1, complaints from marts.complaint_monthly order by all")
    assert [(str(r["month"]), r["org_no"], r["category_l1"], r["complaints"]) for r in got] == [
        ("2024-02-01", K2, "OUTAGE", 1),
        ("2024-03-01", K1, "SERVICE", 1),
        ("2024-03-01", S1, "BILLING", 4),
        ("2024-03-01", S1, "CONNECTION", 1),
        ("2024-03-01", S2, "METERING", 2),
    ]


def test_work_order_monthly_other_types(wh):
    r = one(wh, "select * from marts.work_order_monthly where order_type = 'REPAIR'")
    assert (r["org_no"], r["category_l1"], r["orders"], r["closed"], r["closed_on_time"], r["rated"]) == (
        S1, None, 1, 1, 1, 0)
    assert r["avg_handle_hours"] == approx(2.0)
    assert r["satisfied_rate"] is None          # nobody rated it
    assert r["orders_per_10k_customers"] == approx(10000 / 3)
    total = wh.execute("select sum(orders) from marts.work_order_monthly").fetchone()[0]
    assert total == 11


def test_satisfaction_with_missing_scores(wh):
    r = one(wh, f"select * from marts.satisfaction_monthly where org_no = '{S1}' and elec_type = '100'")
    assert str(r["month"]) == "2024-03-01"
    # S01 (8, 9, 10, 7, 9), S02 (-, 6, -, 5, 7), S03 (6, -, 8, -, -)
    assert r["surveys"] == 3
    assert r["avg_score_supply"] == approx(7.0)     # (8 + 6) / 2
    assert r["avg_score_billing"] == approx(7.5)    # (9 + 6) / 2
    assert r["avg_score_service"] == approx(9.0)    # (10 + 8) / 2
    assert r["avg_score_channel"] == approx(6.0)    # (7 + 5) / 2
    assert r["avg_score_overall"] == approx(8.0)    # (9 + 7) / 2
    assert r["satisfaction_index"] == approx(80.0)
    assert r["satisfied_share"] == approx(0.5)      # 9 ≥ 8, 7 < 8; S03 gave no overall score
    r = one(wh, f"select * from marts.satisfaction_monthly where org_no = '{S1}' and elec_type = '200'")
    assert (r["surveys"], r["satisfaction_index"], r["satisfied_share"]) == (1, approx(80.0), approx(1.0))
    # a survey with no answer at all: counted, every figure NULL
    r = one(wh, f"select * from marts.satisfaction_monthly where org_no = '{S2}'")
    assert r["surveys"] == 1 and r["elec_type"] == "100"
    assert [r[c] for c in ("avg_score_supply", "avg_score_overall", "satisfaction_index", "satisfied_share")] == [
        None, None, None, None]


def test_outage_saidi_saifi_and_dedicated_line(wh):
    got = {(r["org_no"], r["outage_type"]): r for r in rows(wh, "select * from marts.outage_monthly")}
    assert set(got) == {(S1, "FAULT"), (S1, "PLANNED"), (S2, "FAULT")}
    r = got[(S1, "FAULT")]   # O01: 2 customers × 3.5 h over S1's 3 customers
    assert (r["events"], r["customers_affected"], r["active_customers"]) == (1, 2, 3)
    assert r["customer_hours"] == approx(7.0)
    assert r["saidi_hours"] == approx(7 / 3)
    assert r["saifi"] == approx(2 / 3)
    assert r["notified_share"] == approx(0.0)
    r = got[(S1, "PLANNED")]  # O02: 1 × 4 h, announced
    assert r["customer_hours"] == approx(4.0)
    assert r["saidi_hours"] == approx(4 / 3)
    assert r["saifi"] == approx(1 / 3)
    assert r["notified_share"] == approx(1.0)
    r = got[(S2, "FAULT")]   # O03: the dedicated-line customer B3 of S2, 1 × 6 h over 5 customers
    assert str(r["month"]) == "2024-03-01"
    assert r["customer_hours"] == approx(6.0)
    assert r["saidi_hours"] == approx(1.2)
    assert r["saifi"] == approx(0.2)


def test_service_quality_monthly_station_month(wh):
    r = one(wh, f"select * from marts.service_quality_monthly where month = date '2024-03-01' and org_no = '{S1}'")
    assert r["active_customers"] == 3
    # complaints S1 is responsible for: W01–W04 and W11
    assert (r["complaints"], r["complaints_closed"], r["complaints_closed_on_time"]) == (5, 3, 2)
    assert r["complaints_per_10k_customers"] == approx(50000 / 3)
    # surveys S01–S04: overall 9, 7, 8 → mean 8, two of three ≥ 8
    assert r["surveys"] == 4
    assert r["satisfaction_index"] == approx(80.0)
    assert r["satisfied_share"] == approx(2 / 3)
    # O01 + O02: 7 + 4 customer hours, 2 + 1 customers, over 3 customers
    assert r["outage_events"] == 2
    assert r["saidi_hours"] == approx(11 / 3)
    assert r["saifi"] == approx(1.0)
    assert r["notified_share"] == approx(0.5)
    # a quiet station-month: zero complaints and outages, no surveys
    r = one(wh, f"select * from marts.service_quality_monthly where month = date '2024-03-01' and org_no = '{S3}'")
    assert (r["active_customers"], r["complaints"], r["surveys"], r["outage_events"]) == (1, 0, 0, 0)
    assert r["complaints_per_10k_customers"] == 0 and r["saidi_hours"] == 0
    assert r["satisfaction_index"] is None and r["notified_share"] is None
    assert wh.execute("select count(*) from marts.service_quality_monthly").fetchone()[0] == 3 * 4


def test_complaint_hotspot(wh):
    got = {(r["unit_level"], r["tg_id"] or r["org_no"]): r for r in rows(wh, "select * from marts.complaint_hotspot")}
    # window (2023-04-10, 2024-04-10]: every complaint; placed at the customer's area at the end
    # of the accept month. T11: W01 W02 W03 W04 W11 over A1 A2 A4; T21: W05 W06 over B1 B2 A3 N1;
    # T31: W08 over D1 (D2 closed); B3 (W07) is on a dedicated line: S2 only
    t = {k[1]: (r["complaints"], r["active_customers"], r["hotspot_rank"]) for k, r in got.items()
         if k[0] == "TRANSFORMER_AREA"}
    assert t == {T11: (5, 3, 1), T31: (1, 1, 2), T21: (2, 4, 3), T12: (0, 0, 4)}
    assert got[("TRANSFORMER_AREA", T11)]["complaints_per_10k_customers"] == approx(50000 / 3)
    assert got[("TRANSFORMER_AREA", T12)]["complaints_per_10k_customers"] is None
    s = {k[1]: (r["complaints"], r["active_customers"], r["hotspot_rank"]) for k, r in got.items()
         if k[0] == "STATION"}
    assert s == {S1: (5, 3, 1), S3: (1, 1, 2), S2: (3, 5, 3)}
    assert got[("STATION", S2)]["complaints_per_10k_customers"] == approx(6000.0)
    assert got[("STATION", S2)]["escalated"] == 1  # W05


def test_demand_monthly(wh):
    got = {(str(r["month"]), r["org_no"], r["industry_section"]): r
           for r in rows(wh, "select * from marts.demand_monthly")}
    assert set(got) == {("2024-03-01", S1, "C"), ("2024-03-01", S2, None), ("2024-03-01", S2, "F"),
                        ("2024-03-01", S2, "C"), ("2024-03-01", S3, None)}

    def figures(key):
        r = got[key]
        return (r["connection_requests"], r["capacity_change_requests"], r["new_accounts"], r["closed_accounts"],
                float(r["new_account_kva"]), float(r["capacity_increase_kva"]), float(r["contract_kva_added"]),
                float(r["capacity_decrease_kva"]), float(r["closed_account_kva"]))

    # A4 (C26) asks for 增容 (W11) and goes from 100 to 160 kVA
    assert figures(("2024-03-01", S1, "C")) == (1, 1, 0, 0, 0.0, 60.0, 60.0, 0.0, 0.0)
    # W10: a new-connection request from a non-customer, at its responsible unit
    assert figures(("2024-03-01", S2, None)) == (1, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
    # N1 (F52) opened 2024-03-10 with 50 kVA
    assert figures(("2024-03-01", S2, "F")) == (0, 0, 1, 0, 50.0, 0.0, 50.0, 0.0, 0.0)
    # B3 (C30) from 1000 down to 800 kVA
    assert figures(("2024-03-01", S2, "C")) == (0, 0, 0, 0, 0.0, 0.0, 0.0, 200.0, 0.0)
    # D2 (residential, 8 kVA) closed 2024-03-19
    assert figures(("2024-03-01", S3, None)) == (0, 0, 0, 1, 0.0, 0.0, 0.0, 0.0, 8.0)


def test_no_free_text_published(wh):
    cols = {r[0] for r in wh.execute(
        "select column_name from information_schema.columns where table_schema = 'marts'").fetchall()}
    assert not cols & {"content", "comment", "cert_no", "mobile", "address"}
