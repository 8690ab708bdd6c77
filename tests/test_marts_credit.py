"""Credit rating and segmentation (METRICS.md sections 6 and 7) on a hand-made landing folder.

Data date D = 2025-03-15: "12 months" are the dates in (2024-03-15, 2025-03-15], "24 months"
those in (2023-03-15, 2025-03-15]. All customers are commercial (200) on one station; no
tariff cost prices and no cost pools are delivered, so a customer's profit is its billed amount.

| customer | what it tests | score at D = punctuality + arrears + compliance + dunning + tenure |
| --- | --- | --- |
| K1 …011 | a THEFT (compliance 0), a disconnection inside 12 months | 40 + 20 + 0 + 5 + 10 = 75 → A |
| K2 …012 | a disconnection on 2024-09-10 (inside) | 40 + 20 + 20 + 5 + 10 = 95 → AAA |
| K3 …013 | a disconnection on 2024-03-15, exactly 12 months before D (outside) | 40+20+20+10+10 = 100 → AAA |
| K4 …014 | opened 2024-06-01 (0 years); its only bill is due after D: no bills due → 40 | exactly 90 → AAA |
| K5 …015 | opened 2022-03-16: the 3rd anniversary falls the day after D → 2 years | 40+20+20+10+4 = 94 |
| K6 …016 | opened 2022-03-15: 3 years; a 2000 bill paid on time | 40+20+20+10+6 = 96 → AAA |
| K7 …017 | CLOSED | no row |
| K8 …018 | NORMAL bills due in 12 months: 2 on time of 3 (the 3rd unpaid, 14 days overdue); a late one |
|          | due exactly 2024-03-15 is outside | 26.67 + 10 + 20 + 10 + 10 = 76.67 → A |
| K9 …019 | a 1000 bill 49 days overdue; BREACHes on 2023-03-16 (in) and 2023-03-15 (out) | 0+0+10+10+10 = 30 → C |
| K10 …020 | opened 2024-01-01; a bill of billing month 2024-02 due 2024-03-21, never paid | 0+0+20+10+2 = 32 → C |

Value classes at D (billing months 2024-03 … 2025-02; profit = billed amount): K6 2000, K9 1000,
K8 300 (2024-10, 2024-12, 2025-01), K4 50; total 3350. Share before: K6 0 → A, K9 2000/3350 =
0.597 → A, K8 3000/3350 = 0.896 → B, K4 → B. Everyone else has no bill in the window → C.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import build_warehouse
from landing_factory import customer, payment, write_partition

REPO = Path(__file__).resolve().parents[1]
MODELS = ["customer_credit", "customer_segment", "customer_segment_history", "dim_segment"]
S1 = "334010101"
K = {i: f"31000000{10 + i:02d}" for i in range(1, 11)}

ORG_COLS = "org_no org_name parent_org_no org_level tg_id tg_name tg_capacity_kva".split()
BILL_ITEM_COLS = "bill_id item_no item tou_period tier fund_name kwh price amount".split()
DUNNING_COLS = "event_id cons_no bill_id event_type event_time operator".split()
VIOLATION_COLS = "case_id cons_no case_type found_date recovered_kwh recovered_amount penalty_amount".split()


def bill(bill_id, cons_no, month, issue, due, amount):
    return dict(bill_id=bill_id, cons_no=cons_no, billing_month=month, bill_type="NORMAL", issue_date=issue,
                due_date=due, kwh=str(Decimal(amount) * 2), amount=amount, tariff_code="T1")


def write_landing(landing: Path) -> None:
    write_partition(landing, "org", "2024-01-01", [
        dict(org_no="334", org_name="市公司", org_level="1"),
        dict(org_no="33401", org_name="城东县公司", parent_org_no="334", org_level="2"),
        dict(org_no=S1, org_name="一所", parent_org_no="33401", org_level="3"),
    ], header=ORG_COLS)
    opened = {1: "2015-01-01", 2: "2015-01-01", 3: "2015-01-01", 4: "2024-06-01", 5: "2022-03-16",
              6: "2022-03-15", 7: "2015-01-01", 8: "2020-01-01", 9: "2015-01-01", 10: "2024-01-01"}
    write_partition(landing, "cust", "2024-01-01", [
        customer(K[i], f"客户{i}有限公司", updated_at="2014-01-01 00:00:00", elec_type="200", voltage="V380",
                 industry_code="C34", org_no=S1, tg_id="", open_date=opened[i],
                 status="CLOSED" if i == 7 else "ACTIVE", close_date="2025-01-01" if i == 7 else "")
        for i in range(1, 11)
    ])
    bills = {
        "2024-02-24": [bill("KB0", K[8], "2024-02", "2024-02-24", "2024-03-15", "100.00")],
        "2024-03-01": [bill("K10B", K[10], "2024-02", "2024-03-01", "2024-03-21", "100.00")],
        "2024-11-05": [bill("KB1", K[8], "2024-10", "2024-11-05", "2024-11-25", "100.00")],
        "2025-01-05": [bill("KB3", K[8], "2024-12", "2025-01-05", "2025-01-25", "100.00"),
                       bill("K9B", K[9], "2024-12", "2025-01-05", "2025-01-25", "1000.00")],
        "2025-02-01": [bill("K6B", K[6], "2025-01", "2025-02-01", "2025-02-21", "2000.00")],
        "2025-02-09": [bill("KB4", K[8], "2025-01", "2025-02-09", "2025-03-01", "100.00")],
        "2025-03-10": [bill("K4B", K[4], "2025-02", "2025-03-10", "2025-03-30", "50.00")],
    }
    for day, rows in bills.items():
        write_partition(landing, "bill", day, rows)
        write_partition(landing, "bill_item", day, [
            dict(bill_id=b["bill_id"], item_no="1", item="ENERGY", tou_period="ALL", tier="1", kwh=b["kwh"],
                 price="0.500000", amount=b["amount"]) for b in rows], header=BILL_ITEM_COLS)
    pays = {
        "2024-04-01": [payment("PK0", "100.00", K[8], "BANK_DEBIT", "2024-04-01 10:00:00", "KB0")],
        "2024-11-20": [payment("PK1", "100.00", K[8], "BANK_DEBIT", "2024-11-20 10:00:00", "KB1")],
        "2025-01-20": [payment("PK3", "100.00", K[8], "BANK_DEBIT", "2025-01-20 10:00:00", "KB3")],
        "2025-02-20": [payment("PK6", "2000.00", K[6], "BANK_DEBIT", "2025-02-20 10:00:00", "K6B")],
        # the data date's partition: a prepayment that moves no score
        "2025-03-15": [payment("PK5", "10.00", K[5], "WECHAT", "2025-03-15 10:00:00")],
    }
    for day, rows in pays.items():
        write_partition(landing, "payment", day, rows)
    write_partition(landing, "dunning", "2024-12-01", [
        dict(event_id="D1", cons_no=K[1], event_type="DISCONNECT", event_time="2024-12-01 10:00:00"),
        dict(event_id="D2", cons_no=K[2], event_type="DISCONNECT", event_time="2024-09-10 15:00:00"),
        dict(event_id="D3", cons_no=K[3], event_type="DISCONNECT", event_time="2024-03-15 10:00:00"),
        dict(event_id="D4", cons_no=K[3], event_type="RECONNECT", event_time="2024-03-16 10:00:00"),
    ], header=DUNNING_COLS)
    write_partition(landing, "violation", "2024-06-01", [
        dict(case_id="V1", cons_no=K[1], case_type="THEFT", found_date="2024-06-01", recovered_kwh="100.00",
             recovered_amount="60.00", penalty_amount="180.00"),
        dict(case_id="V2", cons_no=K[9], case_type="BREACH", found_date="2023-03-16", recovered_kwh="0",
             recovered_amount="0", penalty_amount="500.00"),
        dict(case_id="V3", cons_no=K[9], case_type="BREACH", found_date="2023-03-15", recovered_kwh="0",
             recovered_amount="0", penalty_amount="500.00"),
    ], header=VIOLATION_COLS)


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("marts_credit")
    write_landing(tmp / "landing")
    con = duckdb.connect(str(build_warehouse(tmp, tmp / "landing", MODELS)), read_only=True)
    yield con
    con.close()


def credit(con) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in con.execute("""
        select cons_no, punctuality_points, arrears_points, compliance_points, dunning_points, tenure_points,
               credit_score, credit_grade
        from marts.customer_credit""").fetchall()}


def test_data_date(wh):
    assert str(wh.execute("select as_of_date from intermediate.int_data_date").fetchone()[0]) == "2025-03-15"


def test_credit_scores_and_components(wh):
    got = credit(wh)
    d = Decimal
    assert got == {
        K[1]: (d("40.00"), 20, 0, 5, 10, d("75.00"), "A"),  # theft → compliance 0
        K[2]: (d("40.00"), 20, 20, 5, 10, d("95.00"), "AAA"),  # disconnection inside 12 months
        K[3]: (d("40.00"), 20, 20, 10, 10, d("100.00"), "AAA"),  # disconnection exactly 12 months before
        K[4]: (d("40.00"), 20, 20, 10, 0, d("90.00"), "AAA"),  # no bill due → 40; exactly 90 → AAA
        K[5]: (d("40.00"), 20, 20, 10, 4, d("94.00"), "AAA"),  # anniversary the day after D: 2 years
        K[6]: (d("40.00"), 20, 20, 10, 6, d("96.00"), "AAA"),  # anniversary on D: 3 years
        K[8]: (d("26.67"), 10, 20, 10, 10, d("76.67"), "A"),  # 40 × 2/3 = 26.666… → 26.67
        K[9]: (d("0.00"), 0, 10, 10, 10, d("30.00"), "C"),  # 49 days overdue; one breach in 24 months
        K[10]: (d("0.00"), 0, 20, 10, 2, d("32.00"), "C"),
    }  # K7 is CLOSED: no row


def test_credit_counts_behind_the_points(wh):
    got = {r[0]: r[1:] for r in wh.execute("""
        select cons_no, bills_due_12m, bills_on_time_12m, oldest_days_overdue, breaches_24m, thefts_24m,
               disconnects_12m, tenure_years
        from marts.customer_credit""").fetchall()}
    assert got[K[8]] == (3, 2, 14, 0, 0, 0, 5)  # KB0 due 2024-03-15 is outside the window
    assert got[K[9]] == (1, 0, 49, 1, 0, 0, 10)  # the 2023-03-15 breach is outside 24 months
    assert got[K[1]] == (0, 0, None, 0, 1, 1, 10)
    assert got[K[3]][5] == 0 and got[K[5]][6] == 2 and got[K[6]][6] == 3


def test_credit_at_an_earlier_month_end(wh):
    # at 2025-02-28 the window (2024-02-28, 2025-02-28] still holds K3's disconnection and both of
    # K9's breaches; K8's KB0 (late) counts and KB4 is not due yet; K6 has only 2 whole years
    got = {r[0]: r[1:] for r in wh.execute("""
        select cons_no, dunning_points, compliance_points, punctuality_points, arrears_points, tenure_points,
               credit_score
        from intermediate.int_credit_scores where evaluation_date = date '2025-02-28'""").fetchall()}
    assert got[K[3]][0] == 5
    assert got[K[9]][1] == 0
    assert got[K[8]][2:] == (Decimal("26.67"), 20, 10, Decimal("86.67"))
    assert got[K[6]][4] == 4


def test_segment_matrix_cells(wh):
    got = {(a, g): s for a, g, s in wh.execute(
        "select abc_class, credit_grade, segment_no from intermediate.int_credit_segment_matrix").fetchall()}
    assert got == {
        ("A", "AAA"): 1, ("A", "AA"): 1, ("A", "A"): 1, ("A", "B"): 2, ("A", "C"): 3,
        ("B", "AAA"): 2, ("B", "AA"): 2, ("B", "A"): 3, ("B", "B"): 3, ("B", "C"): 4,
        ("C", "AAA"): 3, ("C", "AA"): 3, ("C", "A"): 4, ("C", "B"): 4, ("C", "C"): 5,
    }


def test_customer_segment(wh):
    got = {r[0]: r[1:] for r in wh.execute("""
        select cons_no, abc_class, has_value_row, credit_grade, segment_no, segment_label_zh
        from marts.customer_segment""").fetchall()}
    assert got == {
        K[1]: ("C", False, "A", 4, "较差"),
        K[2]: ("C", False, "AAA", 3, "一般"),
        K[3]: ("C", False, "AAA", 3, "一般"),
        K[4]: ("B", True, "AAA", 2, "良好"),
        K[5]: ("C", False, "AAA", 3, "一般"),
        K[6]: ("A", True, "AAA", 1, "优质"),
        K[8]: ("B", True, "A", 3, "一般"),
        K[9]: ("A", True, "C", 3, "一般"),
        K[10]: ("C", False, "C", 5, "差"),  # its only bill (2024-02) is before the value window
    }
    strategy = wh.execute("select service_strategy_en from marts.customer_segment where cons_no = ?",
                          [K[6]]).fetchone()[0]
    assert strategy == "account manager and priority service"


def test_segment_history_last_move(wh):
    # at 2025-02-28 (value window 2024-02 … 2025-01: K6 2000, K9 1000, K8 400, K10 100 of 3500 →
    # K6 A, K9 A, K8 B (3000/3500 before it), K10 B; K4 has no bill yet → C) the segments were
    # K1 4, K2 3, K3 3, K4 3, K5 3, K6 1, K8 2 (B × AA 86.67), K9 3, K10 4 (B × C).
    # At D: K4 3 → 2 (up), K8 2 → 3 (down), K10 4 → 5 (down), the rest unchanged.
    got = {(f, t): (m, n) for f, t, m, n in wh.execute("""
        select from_segment_no, to_segment_no, movement, customers
        from marts.customer_segment_history
        where snapshot_date = date '2025-03-15' and previous_snapshot_date = date '2025-02-28'""").fetchall()}
    assert got == {
        (3, 2): ("UP", 1), (2, 3): ("DOWN", 1), (4, 5): ("DOWN", 1),
        (1, 1): ("SAME", 1), (3, 3): ("SAME", 4), (4, 4): ("SAME", 1),
    }
    # the data-date column of the history equals today's segments
    today = dict(wh.execute("select segment_no, count(*) from marts.customer_segment group by 1").fetchall())
    last = dict(wh.execute("""select to_segment_no, sum(customers) from marts.customer_segment_history
                              where snapshot_date = date '2025-03-15' and to_segment_no is not null
                              group by 1""").fetchall())
    assert today == last
