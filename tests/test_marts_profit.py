"""Profit contribution marts (METRICS.md section 5) on a hand-made landing folder:
customer_profit_monthly and customer_value (ABC and RFM).

Every expected figure is worked out by hand in the comments, never by the code under test.

Data date 2025-02-20 (the latest partition): the customer_value window is 2024-02 … 2025-01.

Tariff C-V380: energy 0.70, fund 0.03, TD 0.15 (not a cost), PURCHASE 0.30 until 2025-01-14 and
0.40 from 2025-01-15, LOSS 0.02, SYSTEM 0.01: the cost price in force on the first day of every
billing month here is 0.30 + 0.02 + 0.01 = 0.33. Tariff A-V380: PURCHASE 0.10 only.

| customer | who | bills |
| --- | --- | --- |
| P1 3100000001 | S1, opened 2024-03-15 | 2025-01 1 000 kWh |
| P2 3100000002 | S1, 200 kVA, 315 kVA from 2024-06-01 | 2024-01 2 000 kWh; 2025-01 3 000 kWh + ADJUST +1 000 kWh issued 2025-02-15 |
| P5 3100000005 | S2, moves to S1 on 2025-01-31 12:00 | 2024-12 500 kWh; 2025-01 1 000 kWh |
| P6, P7 3100000006/7 | S2 | 2025-01 0 kWh each |
| Q01 … Q10 3100000101 … 110 | agricultural, S3 (no cost pool) | 2024-06, profits 5 000 … −200 |

Cost pools 2025-01: S1 marketing 100.00, operating 1 000.00; S2 marketing 50.00, operating 80.00.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from landing_factory import customer, payment, write_partition
from test_marts_sales import bill, build, check, item, one, rows  # the shared small helpers

MODELS = ("customer_profit_monthly", "customer_value")
DIMS = ("dim_org", "dim_elec_type", "dim_customer")
HEADERS = {
    "bill_item": "bill_id item_no item tou_period tier fund_name kwh price amount".split(),
    "tariff": "tariff_code elec_type voltage component tou_period tier tier_floor_kwh fund_name price valid_from "
              "valid_to".split(),
    "cost": "org_no billing_month marketing_cost operating_cost".split(),
}
S1, S2, S3 = "334010101", "334010102", "334010201"
T1, T4, T6 = "334010101001", "334010102001", "334010201001"
P1, P2, P5, P6, P7 = "3100000001", "3100000002", "3100000005", "3100000006", "3100000007"
Q = [f"31000001{i:02d}" for i in range(1, 11)]  # Q[0] = Q01 … Q[9] = Q10
FUND = "可再生能源电价附加"

# Q01 … Q10: (kWh, revenue); energy cost kWh × 0.10, so profit = revenue − cost:
# 5 000, 3 000, 2 000, 1 500, 1 200, 1 000, 1 000, 600, 0, −200
Q_BILLS = [(100, "5010.00"), (100, "3010.00"), (100, "2010.00"), (100, "1510.00"), (100, "1210.00"),
           (100, "1010.00"), (100, "1010.00"), (100, "610.00"), (100, "10.00"), (2100, "10.00")]


def org_rows() -> list[dict]:
    unit = dict(tg_id="", tg_name="", tg_capacity_kva="")
    rows_ = [
        dict(unit, org_no="3340000", org_name="滨江供电公司", parent_org_no="", org_level="1"),
        dict(unit, org_no="3340100", org_name="城东县供电公司", parent_org_no="3340000", org_level="2"),
        dict(unit, org_no="3340200", org_name="城西县供电公司", parent_org_no="3340000", org_level="2"),
        dict(unit, org_no=S1, org_name="城关供电所", parent_org_no="3340100", org_level="3"),
        dict(unit, org_no=S2, org_name="江南供电所", parent_org_no="3340100", org_level="3"),
        dict(unit, org_no=S3, org_name="西山供电所", parent_org_no="3340200", org_level="3"),
    ]
    for tg, station in ((T1, S1), (T4, S2), (T6, S3)):
        rows_.append(dict(org_no=station, org_name="", parent_org_no="", org_level="3", tg_id=tg, tg_name=tg,
                          tg_capacity_kva="400.00"))
    return rows_


def tariff(code: str, elec_type: str, component: str, price: str, valid_from: str = "2020-01-01",
           valid_to: str = "", fund: str = "") -> dict:
    return dict(tariff_code=code, elec_type=elec_type, voltage="V380", component=component, tou_period="ALL",
                tier="1", tier_floor_kwh="0", fund_name=fund, price=price, valid_from=valid_from, valid_to=valid_to)


def commercial(bill_id: str, cons_no: str, month: str, kwh: int, issue: str, bill_type: str = "NORMAL",
               ref: str = "") -> tuple[dict, list[dict]]:
    """C-V380: energy 0.70 and fund 0.03 per kWh."""
    energy, fund = kwh * 0.7, kwh * 0.03
    return (bill(bill_id, cons_no, month, str(kwh), f"{energy + fund:.2f}", "C-V380", issue, bill_type, ref),
            [item(bill_id, 1, "ENERGY", str(kwh), "0.700000", f"{energy:.2f}", "ALL"),
             item(bill_id, 2, "FUND", str(kwh), "0.030000", f"{fund:.2f}", fund=FUND)])


def write_landing(landing: Path) -> None:
    write_partition(landing, "org", "2023-01-01", org_rows())
    write_partition(landing, "tariff", "2023-01-01", [
        tariff("C-V380", "200", "ENERGY", "0.700000"),
        tariff("C-V380", "200", "FUND", "0.030000", fund=FUND),
        tariff("C-V380", "200", "TD", "0.150000"),
        tariff("C-V380", "200", "PURCHASE", "0.300000", valid_to="2025-01-14"),
        tariff("C-V380", "200", "PURCHASE", "0.400000", valid_from="2025-01-15"),
        tariff("C-V380", "200", "LOSS", "0.020000"),
        tariff("C-V380", "200", "SYSTEM", "0.010000"),
        tariff("A-V380", "400", "ENERGY", "0.500000"),
        tariff("A-V380", "400", "PURCHASE", "0.100000"),
    ], header=HEADERS["tariff"])
    com = dict(elec_type="200", voltage="V380", industry_code="C26", tariff_code="C-V380")
    write_partition(landing, "cust", "2023-01-01", [
        customer(P2, "城东商贸有限公司", "2020-01-01 08:00:00", contract_kva="200.00", org_no=S1, tg_id=T1,
                 open_date="2020-01-01", **com),
        customer(P5, "江南五金店", "2023-01-01 08:00:00", contract_kva="100.00", org_no=S2, tg_id=T4,
                 open_date="2022-05-01", **com),
        customer(P6, "江南饭店", "2023-01-01 08:00:00", contract_kva="30.00", org_no=S2, tg_id=T4,
                 open_date="2015-01-01", **com),
        customer(P7, "江南茶楼", "2023-01-01 08:00:00", contract_kva="30.00", org_no=S2, tg_id=T4,
                 open_date="2015-01-01", **com),
        *[customer(c, f"西山农场{i + 1}", "2023-01-01 08:00:00", elec_type="400", voltage="V380",
                   contract_kva="20.00", industry_code="A01", org_no=S3, tg_id=T6, tariff_code="A-V380",
                   open_date="2010-01-01") for i, c in enumerate(Q)],
    ])
    write_partition(landing, "cust", "2024-03-15", [
        customer(P1, "新开超市", "2024-03-15 09:00:00", contract_kva="50.00", org_no=S1, tg_id=T1,
                 open_date="2024-03-15", **com)])
    write_partition(landing, "cust", "2024-06-01", [
        customer(P2, "城东商贸有限公司", "2024-06-01 10:00:00", contract_kva="315.00", org_no=S1, tg_id=T1,
                 open_date="2020-01-01", **com)])
    # P5 moves to S1 on the last day of January: January counts at S1
    write_partition(landing, "cust", "2025-01-31", [
        customer(P5, "江南五金店", "2025-01-31 12:00:00", contract_kva="100.00", org_no=S1, tg_id=T1,
                 open_date="2022-05-01", **com)])

    q_bills = []
    for i, (c, (kwh, revenue)) in enumerate(zip(Q, Q_BILLS, strict=True)):
        bid = f"BQ{i + 1:02d}"
        q_bills.append((bill(bid, c, "2024-06", str(kwh), revenue, "A-V380", "2024-07-03"),
                        [item(bid, 1, "ENERGY", str(kwh), f"{float(revenue) / kwh:.6f}", revenue, "ALL")]))
    zero = [(bill(b, c, "2025-01", "0", "0.00", "C-V380", "2025-02-03"),
             [item(b, 1, "ENERGY", "0", "0.700000", "0.00", "ALL")]) for b, c in (("BP6", P6), ("BP7", P7))]
    bills = {
        "2024-02-03": [commercial("BP2a", P2, "2024-01", 2000, "2024-02-03")],
        "2024-07-03": q_bills,
        "2025-01-03": [commercial("BP5a", P5, "2024-12", 500, "2025-01-03")],
        "2025-02-03": [commercial("BP1", P1, "2025-01", 1000, "2025-02-03"),
                       commercial("BP2b", P2, "2025-01", 3000, "2025-02-03"),
                       commercial("BP5b", P5, "2025-01", 1000, "2025-02-03"), *zero],
        # an upward correction of P2's January, issued in February: January is restated
        "2025-02-15": [commercial("BP2c", P2, "2025-01", 1000, "2025-02-15", "ADJUST", "BP2b")],
    }
    for day, day_bills in bills.items():
        write_partition(landing, "bill", day, [b for b, _ in day_bills])
        write_partition(landing, "bill_item", day, [line for _, lines in day_bills for line in lines],
                        header=HEADERS["bill_item"])
    write_partition(landing, "cost", "2025-02-05", [
        dict(org_no=S1, billing_month="2025-01", marketing_cost="100.00", operating_cost="1000.00"),
        dict(org_no=S2, billing_month="2025-01", marketing_cost="50.00", operating_cost="80.00"),
    ], header=HEADERS["cost"])
    write_partition(landing, "payment", "2025-02-20", [
        payment("PQ01a", "100.00", Q[0], "WECHAT", "2025-02-19 10:00:00", "BQ01"),
        payment("PQ01b", "100.00", Q[0], "WECHAT", "2024-07-10 10:00:00", "BQ01"),
        payment("PQ02", "100.00", Q[1], "ALIPAY", "2025-02-10 09:00:00", "BQ02"),
        payment("PQ03", "100.00", Q[2], "ALIPAY", "2025-02-10 11:00:00", "BQ03"),
        payment("PQ04", "100.00", Q[3], "COUNTER", "2025-01-21 10:00:00", "BQ04"),
        payment("PQ05", "100.00", Q[4], "COUNTER", "2024-12-22 10:00:00", "BQ05"),
        # paid and reversed minutes later: neither row is a money payment
        payment("PQ05x", "50.00", Q[4], "WECHAT", "2025-02-18 10:00:00", "BQ05"),
        payment("PQ05y", "-50.00", Q[4], "WECHAT", "2025-02-18 10:05:00", "BQ05", reversal_of="PQ05x"),
        payment("PQ06", "100.00", Q[5], "APP", "2024-11-22 10:00:00", "BQ06"),
        payment("PQ06b", "20.00", Q[5], "BALANCE", "2025-02-19 10:00:00", "BQ06"),  # not money received
        # prepayments count as money; 2024-02-21 is exactly 365 days before the data date: outside (D − 365, D]
        payment("PQ07a", "100.00", Q[6], "BANK_DEBIT", "2024-02-21 10:00:00"),
        payment("PQ07b", "100.00", Q[6], "BANK_DEBIT", "2024-03-01 10:00:00"),
        payment("PQ10a", "5.00", Q[9], "KIOSK", "2025-02-01 10:00:00", "BQ10"),
        payment("PQ10b", "5.00", Q[9], "KIOSK", "2025-02-02 10:00:00"),
        # Q08 and Q09 never pay
    ])


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("profit")
    write_landing(tmp / "landing")
    work_db = build(tmp, MODELS, DIMS, ("models/marts/profit", "models/intermediate/_int_sales__models.yml"))
    con = duckdb.connect(str(work_db), read_only=True)
    yield con
    con.close()


# ----------------------------------------------------------------------- customer_profit_monthly

def test_cost_shares_equal_marketing_and_operating_by_kwh(wh):
    # S1 January: P1, P2 and P5 (moved in before the month end) have a NORMAL bill:
    # marketing 100.00 / 3 = 33.33 each; operating 1 000.00 by kWh 1 000 : 4 000 : 1 000 (P2 with its
    # ADJUST) = 166.67, 666.67, 166.67
    # P1: revenue 700.00 (fund 30.00 passed on), energy cost 1 000 × 0.33 = 330.00 (PURCHASE of
    # 2025-01-01, not the 0.40 from 2025-01-15; TD not a cost)
    check(one(wh, "customer_profit_monthly", cons_no=P1, month="2025-01-01"), org_no=S1, kwh=1000, revenue_yuan=700,
          energy_cost_yuan=330, margin_yuan=370, marketing_cost_yuan=33.33, operating_cost_yuan=166.67,
          profit_yuan=170.00,
          kwh_yoy_rate=None,  # no row a year earlier
          contract_kva_change=None)  # opened 2024-03-15, after 2024-01-31
    check(one(wh, "customer_profit_monthly", cons_no=P5, month="2025-01-01"), org_no=S1, kwh=1000, revenue_yuan=700,
          energy_cost_yuan=330, marketing_cost_yuan=33.33, operating_cost_yuan=166.67, profit_yuan=170.00,
          contract_kva_change=0)


def test_adjust_restates_the_month_it_corrects(wh):
    # P2 January: 3 000 + 1 000 kWh; revenue 2 100 + 700; cost 4 000 × 0.33 = 1 320
    # profit 2 800 − 1 320 − 33.33 − 666.67 = 780.00; a year earlier 2 000 kWh: 4 000 / 2 000 − 1 = 1
    # capacity 315 kVA now − 200 kVA at 2024-01-31 = 115
    check(one(wh, "customer_profit_monthly", cons_no=P2, month="2025-01-01"), kwh=4000, revenue_yuan=2800,
          energy_cost_yuan=1320, margin_yuan=1480, marketing_cost_yuan=33.33, operating_cost_yuan=666.67,
          profit_yuan=780.00, kwh_yoy_rate=1.0, contract_kva_change=115)
    # 2024-01: no cost pool that month, no row in 2023-01; opened 2020: capacity unchanged
    check(one(wh, "customer_profit_monthly", cons_no=P2, month="2024-01-01"), kwh=2000, revenue_yuan=1400,
          energy_cost_yuan=660, marketing_cost_yuan=0, operating_cost_yuan=0, profit_yuan=740, kwh_yoy_rate=None,
          contract_kva_change=0)


def test_operating_cost_shared_equally_when_kwh_is_zero(wh):
    # S2 January: only P6 and P7 (P5 moved to S1), both 0 kWh: 50.00 / 2 and 80.00 / 2 each
    for c in (P6, P7):
        check(one(wh, "customer_profit_monthly", cons_no=c, month="2025-01-01"), org_no=S2, kwh=0, revenue_yuan=0,
              energy_cost_yuan=0, marketing_cost_yuan=25.00, operating_cost_yuan=40.00, profit_yuan=-65.00)


def test_station_in_force_at_month_end(wh):
    # P5 was still at S2 at the end of December (no cost pool then): 350 − 500 × 0.33
    check(one(wh, "customer_profit_monthly", cons_no=P5, month="2024-12-01"), org_no=S2, kwh=500,
          revenue_yuan=350, energy_cost_yuan=165, profit_yuan=185, marketing_cost_yuan=0)


def test_profit_reconciles(wh):
    [(n, parts, revenue, kwh)] = wh.execute("""
        select count(*), sum(profit_yuan + marketing_cost_yuan + operating_cost_yuan + energy_cost_yuan),
               sum(revenue_yuan), sum(kwh)
        from marts.customer_profit_monthly""").fetchall()
    assert n == 17  # P1 1, P2 2, P5 2, P6 1, P7 1, Q 10
    assert parts == revenue
    # 2 000 + 1 000 + 3 000 + 1 000 + 500 + 1 000 + 9 × 100 + 2 100
    assert float(kwh) == 11500
    assert kwh == wh.execute("select sum(kwh) from core.fct_bill").fetchone()[0]


# --------------------------------------------------------------------------------- customer_value

def test_abc_boundary_uses_the_share_accumulated_before_the_customer(wh):
    got = {r["cons_no"]: r for r in rows(wh, "select * from marts.customer_value")}
    assert len(got) == 15  # every customer with a bill in 2024-02 … 2025-01 (P2's 2024-01 is outside)
    # positive profits, descending: Q01 5 000, Q02 3 000, Q03 2 000, Q04 1 500, Q05 1 200, Q06 1 000,
    # Q07 1 000 (tie: Q06 first by cons_no), P2 780, Q08 600, P5 355, P1 170; total 16 605.
    # share before Q06 = 12 700 / 16 605 = 0.765 → A; before Q07 = 13 700 / 16 605 = 0.825 → B
    want = {Q[0]: "A", Q[1]: "A", Q[2]: "A", Q[3]: "A", Q[4]: "A", Q[5]: "A", Q[6]: "B", P2: "B", Q[7]: "B",
            P5: "B", P1: "B", Q[8]: "C", Q[9]: "C", P6: "C", P7: "C"}
    assert {c: r["abc_class"] for c, r in got.items()} == want
    check(got[P5], profit_yuan=355, revenue_yuan=1050, kwh=1500)  # 185 + 170
    check(got[Q[9]], profit_yuan=-200, revenue_yuan=10, kwh=2100)
    check(got[Q[8]], profit_yuan=0)


def test_rfm_scores_with_ties_and_never_paid(wh):
    got = {r["cons_no"]: r for r in rows(wh, "select * from marts.customer_value where elec_type = '400'")}
    # recency at 2025-02-20 / money payments in (2024-02-21, 2025-02-20]
    recency = {Q[0]: 1, Q[1]: 10, Q[2]: 10, Q[3]: 30, Q[4]: 60, Q[5]: 90, Q[6]: 356, Q[7]: None, Q[8]: None,
               Q[9]: 18}
    frequency = {Q[0]: 2, Q[1]: 1, Q[2]: 1, Q[3]: 1, Q[4]: 1, Q[5]: 1, Q[6]: 1, Q[7]: 0, Q[8]: 0, Q[9]: 2}
    assert {c: r["recency_days"] for c, r in got.items()} == recency
    assert {c: r["frequency"] for c, r in got.items()} == frequency
    # r: recency descending, never paid first, ties by cons_no, two per bucket:
    # Q08 Q09 | Q07 Q06 | Q05 Q04 | Q10 Q02 | Q03 Q01
    assert {c: r["r_score"] for c, r in got.items()} == {
        Q[7]: 1, Q[8]: 1, Q[6]: 2, Q[5]: 2, Q[4]: 3, Q[3]: 3, Q[9]: 4, Q[1]: 4, Q[2]: 5, Q[0]: 5}
    # f: ascending: Q08 Q09 | Q02 Q03 | Q04 Q05 | Q06 Q07 | Q01 Q10
    assert {c: r["f_score"] for c, r in got.items()} == {
        Q[7]: 1, Q[8]: 1, Q[1]: 2, Q[2]: 2, Q[3]: 3, Q[4]: 3, Q[5]: 4, Q[6]: 4, Q[0]: 5, Q[9]: 5}
    # m (revenue) ascending: Q09 10, Q10 10 | Q08 610, Q06 1 010 | Q07 1 010, Q05 | Q04, Q03 | Q02, Q01
    assert {c: r["m_score"] for c, r in got.items()} == {
        Q[8]: 1, Q[9]: 1, Q[7]: 2, Q[5]: 2, Q[6]: 3, Q[4]: 3, Q[3]: 4, Q[2]: 4, Q[1]: 5, Q[0]: 5}
    check(got[Q[0]], monetary_yuan=5010)


def test_rfm_ranks_within_elec_type(wh):
    # the five commercial customers never paid: r and f by cons_no alone; m by revenue
    # P6 0, P7 0, P1 700, P5 1 050, P2 2 800
    got = {r["cons_no"]: r for r in rows(wh, "select * from marts.customer_value where elec_type = '200'")}
    assert {c: (r["r_score"], r["f_score"], r["m_score"]) for c, r in got.items()} == {
        P1: (1, 1, 3), P2: (2, 2, 5), P5: (3, 3, 4), P6: (4, 4, 1), P7: (5, 5, 2)}
    assert all(r["recency_days"] is None and r["frequency"] == 0 for r in got.values())
