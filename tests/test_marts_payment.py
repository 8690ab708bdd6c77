"""Payment marts (METRICS.md section 4, 电费回收) on a hand-made landing folder.

Six customers on two stations (S1 334010101, S2 334010102); data date 2025-02-10, so the
snapshot dates are 2024-11-30, 2024-12-31, 2025-01-31 and 2025-02-10.

| customer | type | station | bills (billing month, due date, amount) and what happens |
| --- | --- | --- | --- |
| C1 …001 | 100 | S1 | B1 2024-12 due 01-23 150.00: pays 60, pays 40, the 40 is reversed, pays 40 again (all WECHAT) |
| C2 …002 | 200 | S1 | B2 2024-12 due 01-23 300.00 paid from a 500 ALIPAY prepayment by a BALANCE row on 01-15; |
|          |     |    | B7 upward ADJUST of B2, due 02-01, 50.00, paid 02-05 (4 days late); B8 downward ADJUST −20.00 |
| C3 …003 | 200 | S2 | B3 2024-11 due 2024-12-21 1000.00, never paid (0.2 % a day to 31 Dec, then 0.3 %); disconnected |
| C4 …004 | 100 | S2 | B4 2024-11 due 2024-12-21 200.00, never paid (residential 0.1 % a day across the year end) |
| C5 …005 | 200 | S1 | B5 2024-11 due 2025-01-11 100.00, never paid (30 days overdue at the data date); prepays 20 |
| C6 …006 | 200 | S1 | B6 2024-11 due 2025-01-10 100.00, never paid (31 days); prepays 10 APP + 10 ALIPAY (tie) |

Every expected figure below is worked out by hand in the comments next to it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import build_warehouse
from landing_factory import customer, payment, write_partition

REPO = Path(__file__).resolve().parents[1]
MODELS = ["payment_channel_monthly", "recovery_monthly", "arrears_ageing", "arrears_top_customers",
          "customer_payment_behaviour"]
S1, S2 = "334010101", "334010102"
C1, C2, C3, C4, C5, C6 = (f"310000000{i}" for i in range(1, 7))

ORG_COLS = "org_no org_name parent_org_no org_level tg_id tg_name tg_capacity_kva".split()
BILL_ITEM_COLS = "bill_id item_no item tou_period tier fund_name kwh price amount".split()
DUNNING_COLS = "event_id cons_no bill_id event_type event_time operator".split()


def D(x: str) -> Decimal:
    return Decimal(x)


def bill(bill_id, cons_no, month, issue, due, amount, bill_type="NORMAL", ref=""):
    return dict(bill_id=bill_id, cons_no=cons_no, billing_month=month, bill_type=bill_type, ref_bill_id=ref,
                issue_date=issue, due_date=due, kwh=str(Decimal(amount) * 2), amount=amount, tariff_code="T1")


def items(bills):
    return [dict(bill_id=b["bill_id"], item_no="1", item="ENERGY", tou_period="ALL", tier="1", kwh=b["kwh"],
                 price="0.500000", amount=b["amount"]) for b in bills]


def write_landing(landing: Path) -> None:
    write_partition(landing, "org", "2024-11-01", [
        dict(org_no="334", org_name="市公司", org_level="1"),
        dict(org_no="33401", org_name="城东县公司", parent_org_no="334", org_level="2"),
        dict(org_no=S1, org_name="一所", parent_org_no="33401", org_level="3"),
        dict(org_no=S2, org_name="二所", parent_org_no="33401", org_level="3"),
    ], header=ORG_COLS)
    common = dict(updated_at="2024-01-01 00:00:00", tg_id="", open_date="2015-01-01")
    write_partition(landing, "cust", "2024-11-01", [
        customer(C1, "张三丰", elec_type="100", org_no=S1, **common),
        customer(C2, "东方机械厂", elec_type="200", voltage="V380", org_no=S1, industry_code="C34", **common),
        customer(C3, "西城商贸", elec_type="200", voltage="V380", org_no=S2, industry_code="F51", **common),
        customer(C4, "李四", elec_type="100", org_no=S2, **common),
        customer(C5, "南山饭店", elec_type="200", voltage="V380", org_no=S1, industry_code="H62", **common),
        customer(C6, "北湖超市", elec_type="200", voltage="V380", org_no=S1, industry_code="F52", **common),
    ])
    bills = {
        "2024-12-01": [bill("B3", C3, "2024-11", "2024-12-01", "2024-12-21", "1000.00"),
                       bill("B4", C4, "2024-11", "2024-12-01", "2024-12-21", "200.00")],
        "2024-12-22": [bill("B5", C5, "2024-11", "2024-12-22", "2025-01-11", "100.00"),
                       bill("B6", C6, "2024-11", "2024-12-21", "2025-01-10", "100.00")],
        "2025-01-05": [bill("B1", C1, "2024-12", "2025-01-03", "2025-01-23", "150.00"),
                       bill("B2", C2, "2024-12", "2025-01-03", "2025-01-23", "300.00"),
                       bill("B8", C2, "2024-12", "2025-01-05", "2025-01-25", "-20.00", "ADJUST", "B2")],
        "2025-01-12": [bill("B7", C2, "2024-12", "2025-01-12", "2025-02-01", "50.00", "ADJUST", "B2")],
    }
    for day, rows in bills.items():
        write_partition(landing, "bill", day, rows)
        write_partition(landing, "bill_item", day, items(rows), header=BILL_ITEM_COLS)
    write_partition(landing, "payment", "2025-01-07", [
        payment("P1", "60.00", C1, "WECHAT", "2025-01-05 10:00:00", "B1"),
        payment("P2", "40.00", C1, "WECHAT", "2025-01-06 09:00:00", "B1"),
        payment("P3", "-40.00", C1, "WECHAT", "2025-01-06 09:05:00", "B1", reversal_of="P2"),
        payment("P4", "40.00", C1, "WECHAT", "2025-01-07 10:00:00", "B1"),
    ])
    write_partition(landing, "payment", "2025-01-15", [
        payment("P5", "500.00", C2, "ALIPAY", "2025-01-10 11:00:00"),
        payment("P6", "300.00", C2, "BALANCE", "2025-01-15 00:00:00", "B2"),
    ])
    write_partition(landing, "payment", "2025-02-10", [
        payment("P7", "50.00", C2, "WECHAT", "2025-02-05 10:00:00", "B7", penalty_amount="0.40"),
        payment("P8", "20.00", C5, "COUNTER", "2025-02-10 12:00:00"),
        payment("P9", "10.00", C6, "APP", "2025-02-08 09:00:00"),
        payment("P10", "10.00", C6, "ALIPAY", "2025-02-08 09:30:00"),
    ])
    write_partition(landing, "dunning", "2025-02-05", [
        dict(event_id="E1", cons_no=C6, bill_id="B6", event_type="SMS", event_time="2025-01-15 10:00:00"),
        dict(event_id="E2", cons_no=C6, bill_id="B6", event_type="NOTICE", event_time="2025-02-01 09:00:00"),
        dict(event_id="E3", cons_no=C3, bill_id="B3", event_type="SMS", event_time="2025-01-05 10:00:00"),
        dict(event_id="E4", cons_no=C3, bill_id="B3", event_type="DISCONNECT", event_time="2025-02-05 15:00:00"),
    ], header=DUNNING_COLS)


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("marts_payment")
    write_landing(tmp / "landing")
    con = duckdb.connect(str(build_warehouse(tmp, tmp / "landing", MODELS)), read_only=True)
    yield con
    con.close()


def rows(con, sql: str, *params):
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def test_data_date(wh):
    assert str(wh.execute("select as_of_date from intermediate.int_data_date").fetchone()[0]) == "2025-02-10"


def test_channel_monthly_reversal_prepayment_balance(wh):
    got = {(str(r["month"]), r["channel"], r["elec_type"]): (r["payments"], r["payers"], r["amount_yuan"],
                                                             r["amount_share"])
           for r in rows(wh, "select * from marts.payment_channel_monthly")}
    assert set(got) == {("2025-01-01", "WECHAT", "100"), ("2025-01-01", "ALIPAY", "200"),
                        ("2025-02-01", "WECHAT", "200"), ("2025-02-01", "COUNTER", "200"),
                        ("2025-02-01", "APP", "200"), ("2025-02-01", "ALIPAY", "200")}  # no BALANCE row
    # C1: P1 60 + P2 40 − P3 40 (reversal) + P4 40 = 100 net; P2 and P3 are not payments → 2, one payer
    # January money received: 100 WECHAT + 500 ALIPAY prepayment (the BALANCE 300 is not money) = 600
    p, n, amt, share = got[("2025-01-01", "WECHAT", "100")]
    assert (p, n, amt) == (2, 1, D("100.00")) and share == pytest.approx(100 / 600, abs=1e-9)
    p, n, amt, share = got[("2025-01-01", "ALIPAY", "200")]
    assert (p, n, amt) == (1, 1, D("500.00")) and share == pytest.approx(500 / 600, abs=1e-9)
    # February: 50 WECHAT + 20 COUNTER + 10 APP + 10 ALIPAY = 90
    assert got[("2025-02-01", "WECHAT", "200")][:3] == (1, 1, D("50.00"))
    assert got[("2025-02-01", "WECHAT", "200")][3] == pytest.approx(50 / 90, abs=1e-9)
    assert got[("2025-02-01", "COUNTER", "200")][3] == pytest.approx(20 / 90, abs=1e-9)


def test_recovery_monthly(wh):
    got = {(str(r["month"]), r["org_no"], r["elec_type"]): r for r in rows(wh, "select * from marts.recovery_monthly")}
    assert set(got) == {("2024-11-01", S1, "200"), ("2024-11-01", S2, "200"), ("2024-11-01", S2, "100"),
                        ("2024-12-01", S1, "100"), ("2024-12-01", S1, "200")}
    # C1's B1: 150 billed, 100 net collected (reversal nets out), all before the due date 01-23
    r = got[("2024-12-01", S1, "100")]
    assert (r["billed_yuan"], r["collected_yuan"], r["collected_by_due_yuan"], r["refund_yuan"]) == \
        (D("150.00"), D("100.00"), D("100.00"), D("0.00"))
    assert r["recovery_rate"] == pytest.approx(2 / 3, abs=1e-9)
    assert r["on_time_recovery_rate"] == pytest.approx(2 / 3, abs=1e-9)
    # C2: B2 300 (paid by the BALANCE transfer, on time) + B7 upward ADJUST 50 carried to B2's month,
    # paid 4 days late → billed 350, collected 350, by due 300; B8 −20 is a refund, not billed
    r = got[("2024-12-01", S1, "200")]
    assert (r["billed_yuan"], r["collected_yuan"], r["collected_by_due_yuan"], r["refund_yuan"]) == \
        (D("350.00"), D("350.00"), D("300.00"), D("-20.00"))
    assert r["recovery_rate"] == pytest.approx(1.0, abs=1e-9)
    assert r["on_time_recovery_rate"] == pytest.approx(300 / 350, abs=1e-9)
    # B5 + B6, nothing paid (C5's and C6's prepayments name no bill)
    r = got[("2024-11-01", S1, "200")]
    assert (r["billed_yuan"], r["collected_yuan"], r["recovery_rate"], r["refund_yuan"]) == \
        (D("200.00"), D("0.00"), 0.0, D("0.00"))


def test_arrears_ageing_penalties_and_buckets(wh):
    got = {(str(r["snapshot_date"]), r["org_no"], r["elec_type"], r["ageing_bucket"]):
           (r["receivables"], r["customers"], r["arrears_yuan"], r["penalty_accrued_yuan"])
           for r in rows(wh, "select * from marts.arrears_ageing")}
    assert got == {
        # B3 (200) due 2024-12-21, 10 days: 1000 × 0.2 % × 10 = 20.00; B4 (100): 200 × 0.1 % × 10 = 2.00
        ("2024-12-31", S2, "200", "1-30"): (1, 1, D("1000.00"), D("20.00")),
        ("2024-12-31", S2, "100", "1-30"): (1, 1, D("200.00"), D("2.00")),
        # 41 days: B3 10 days at 0.2 % to 31 Dec + 31 days at 0.3 % = 1000 × 0.113 = 113.00;
        # B4 residential stays at 0.1 %: 200 × 0.001 × 41 = 8.20
        ("2025-01-31", S2, "200", "31-60"): (1, 1, D("1000.00"), D("113.00")),
        ("2025-01-31", S2, "100", "31-60"): (1, 1, D("200.00"), D("8.20")),
        # B5 20 days 100 × 0.002 × 20 = 4.00 + B6 21 days 4.20
        ("2025-01-31", S1, "200", "1-30"): (2, 2, D("200.00"), D("8.20")),
        # B1 50 outstanding, 8 days: 50 × 0.001 × 8 = 0.40 → minimum 1.00; B7 not yet due (02-01)
        ("2025-01-31", S1, "100", "1-30"): (1, 1, D("50.00"), D("1.00")),
        # 51 days: 1000 × (0.002 × 10 + 0.003 × 41) = 143.00; 200 × 0.001 × 51 = 10.20
        ("2025-02-10", S2, "200", "31-60"): (1, 1, D("1000.00"), D("143.00")),
        ("2025-02-10", S2, "100", "31-60"): (1, 1, D("200.00"), D("10.20")),
        # boundaries: B5 due 01-11 is 30 days overdue (1-30), B6 due 01-10 is 31 days (31-60)
        ("2025-02-10", S1, "200", "1-30"): (1, 1, D("100.00"), D("6.00")),
        ("2025-02-10", S1, "200", "31-60"): (1, 1, D("100.00"), D("6.20")),
        # B1 18 days: 0.90 → 1.00; B7 paid 02-05 and B8 (a refund) are never in arrears
        ("2025-02-10", S1, "100", "1-30"): (1, 1, D("50.00"), D("1.00")),
    }


def test_refund_is_never_a_receivable(wh):
    assert wh.execute("select count(*) from core.fct_arrears_snapshot where bill_id = 'B8'").fetchone()[0] == 0
    assert wh.execute("select count(*) from intermediate.int_receivables where bill_id = 'B8'").fetchone()[0] == 0


def test_arrears_top_customers_tie_by_cons_no(wh):
    got = [(r["org_no"], r["arrears_rank"], r["cons_no"], r["arrears_yuan"], r["oldest_days_overdue"],
            r["last_dunning_event_type"], None if r["last_dunning_time"] is None else str(r["last_dunning_time"]))
           for r in rows(wh, "select * from marts.arrears_top_customers order by org_no, arrears_rank")]
    assert got == [
        # C5 and C6 both owe 100.00: the tie goes to the lower cons_no (C5), although C6's is older
        (S1, 1, C5, D("100.00"), 30, None, None),
        (S1, 2, C6, D("100.00"), 31, "NOTICE", "2025-02-01 09:00:00"),
        (S1, 3, C1, D("50.00"), 18, None, None),
        (S2, 1, C3, D("1000.00"), 51, "DISCONNECT", "2025-02-05 15:00:00"),
        (S2, 2, C4, D("200.00"), 51, None, None),
    ]
    names = dict(wh.execute("select cons_no, cons_name from marts.arrears_top_customers").fetchall())
    assert names[C1] == "张**" and names[C3] == "西城商贸"  # residential names masked


def test_customer_payment_behaviour(wh):
    got = {r["cons_no"]: r for r in rows(wh, "select * from marts.customer_payment_behaviour")}
    assert set(got) == {C1, C2, C3, C4, C5, C6}
    c1 = got[C1]  # B1 due in the window, 100 of 150 paid: not on time, still open
    assert (c1["bills_due"], c1["bills_paid_on_time"], c1["bills_unpaid"], c1["on_time_rate"]) == (1, 0, 1, 0.0)
    assert (c1["avg_days_late"], c1["max_days_late"], c1["preferred_channel"]) == (None, None, "WECHAT")
    assert (c1["money_received_yuan"], c1["arrears_yuan"], c1["oldest_days_overdue"]) == (D("100.00"), D("50.00"), 18)
    c2 = got[C2]  # B2 on time (BALANCE on 01-15), B7 paid 02-05 for due 02-01: 4 days late
    assert (c2["bills_due"], c2["bills_paid_on_time"], c2["bills_unpaid"], c2["on_time_rate"]) == (2, 1, 0, 0.5)
    assert (c2["avg_days_late"], c2["max_days_late"]) == (2.0, 4)
    # 500 ALIPAY prepayment beats 50 WECHAT; the 300 BALANCE transfer is not money received
    assert (c2["preferred_channel"], c2["money_received_yuan"], c2["arrears_yuan"]) == ("ALIPAY", D("550.00"), D("0.00"))
    assert got[C3]["disconnections"] == 1 and got[C4]["disconnections"] == 0
    assert got[C6]["preferred_channel"] == "ALIPAY"  # 10 ALIPAY = 10 APP: tie by channel code
