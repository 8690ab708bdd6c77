"""The star schema on a hand-made landing folder: every expected row is written out by hand.

Four customers over three billing months (data date 2024-04-10):
- A 3100000001 residential 张三丰: capacity change on 2024-02-15 (two versions); bill B1 paid on
  time; bill B5 paid from a refund credited to the balance (BALANCE 10.00) and the rest on time.
- B 3100000002 business 华茂物流有限公司 (C&I): B2 paid in two parts, the second late; B6
  unpaid, then partly paid on the data date; an upward ADJUST B7 of January, unpaid.
- C 3100000003 residential 李四: B3 paid, reversed minutes later, paid again two days late;
  closed on 2024-03-10.
- D 3100000004 residential 王小二: billed for January but its master arrives on 2024-03-10 (late
  master: January takes its earliest version); prepayment 100.00, then BALANCE 26.90 pays B4.
- B8: a downward ADJUST (refund, −10.00) of A's February bill: never a receivable.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import build_warehouse
from landing_factory import customer as _customer
from landing_factory import payment, write_partition

REPO = Path(__file__).resolve().parents[1]
D = dt.date
TS = dt.datetime
Y = Decimal

ORG = [
    dict(org_no="33401", org_name="江南供电公司", parent_org_no="", org_level="1"),
    dict(org_no="3340101", org_name="城东县供电分公司", parent_org_no="33401", org_level="2"),
    dict(org_no="334010101", org_name="城关供电所", parent_org_no="3340101", org_level="3"),
    dict(org_no="334010101", org_name="城关供电所", parent_org_no="3340101", org_level="3",
         tg_id="334010101001", tg_name="城关1号台区", tg_capacity_kva="400.00"),
]
TARIFF_COLS = ["tariff_code", "elec_type", "voltage", "component", "tou_period", "tier", "tier_floor_kwh",
               "fund_name", "price", "valid_from", "valid_to"]
TARIFF = [
    ["R-V220", "100", "V220", "ENERGY", "ALL", "1", "0.00", "", "0.538000", "2023-01-01", ""],
    ["R-V220", "100", "V220", "PURCHASE", "ALL", "1", "0.00", "", "0.300000", "2023-01-01", ""],
    ["C-K10", "200", "K10", "ENERGY", "ALL", "1", "0.00", "", "0.700000", "2023-01-01", ""],
    ["C-K10", "200", "K10", "PURCHASE", "ALL", "1", "0.00", "", "0.445000", "2023-01-01", ""],
]
BILL_COLS = ["bill_id", "cons_no", "billing_month", "bill_type", "ref_bill_id", "issue_date", "due_date", "kwh",
             "amount", "tariff_code"]
ITEM_COLS = ["bill_id", "item_no", "item", "tou_period", "tier", "fund_name", "kwh", "price", "amount"]


def customer(cons_no, name, updated_at, **over):
    over.setdefault("org_no", "334010101")
    over.setdefault("tg_id", "334010101001")
    return _customer(cons_no, name, updated_at, **over)


def bill(bill_id, cons_no, month, kwh, amount, issue, due, bill_type="NORMAL", ref="", tariff="R-V220"):
    return [bill_id, cons_no, month, bill_type, ref, issue, due, kwh, amount, tariff]


def item(bill_id, kwh, amount):
    return [bill_id, "1", "ENERGY", "ALL", "1", "", kwh, "0.538000", amount]


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("core")
    landing = tmp / "landing"
    write_partition(landing, "org", "2024-01-01", ORG, header=["org_no", "org_name", "parent_org_no", "org_level",
                                                                "tg_id", "tg_name", "tg_capacity_kva"])
    write_partition(landing, "tariff", "2024-01-01", TARIFF, header=TARIFF_COLS)
    write_partition(landing, "cust", "2024-01-01", [
        customer("3100000001", "张三丰", "2015-03-01 09:00:00", open_date="2015-03-01", contract_kva="8.00"),
        customer("3100000002", "华茂物流有限公司", "2018-06-01 10:00:00", elec_type="200", voltage="K10",
                 contract_kva="100.00", industry_code="G59", tariff_code="C-K10", open_date="2018-06-01"),
        customer("3100000003", "李四", "2016-01-01 09:00:00", open_date="2016-01-01"),
    ])
    write_partition(landing, "cust", "2024-02-15", [
        customer("3100000001", "张三丰", "2024-02-15 09:00:00", open_date="2015-03-01", contract_kva="12.00"),
    ])
    write_partition(landing, "cust", "2024-03-10", [
        customer("3100000003", "李四", "2024-03-10 10:00:00", open_date="2016-01-01", status="CLOSED",
                 close_date="2024-03-10"),
        customer("3100000004", "王小二", "2024-03-10 08:00:00", open_date="2023-12-01"),
    ])
    write_partition(landing, "bill", "2024-02-03", [
        bill("B1", "3100000001", "2024-01", "200.00", "107.60", "2024-02-03", "2024-02-23"),
        bill("B2", "3100000002", "2024-01", "1000.00", "700.00", "2024-02-03", "2024-02-23", tariff="C-K10"),
        bill("B3", "3100000003", "2024-01", "100.00", "53.80", "2024-02-03", "2024-02-23"),
        bill("B4", "3100000004", "2024-01", "50.00", "26.90", "2024-02-03", "2024-02-23"),
    ], header=BILL_COLS)
    write_partition(landing, "bill_item", "2024-02-03", [
        item("B1", "200.00", "107.60"), item("B2", "1000.00", "700.00"), item("B3", "100.00", "53.80"),
        item("B4", "50.00", "26.90"),
    ], header=ITEM_COLS)
    write_partition(landing, "bill", "2024-03-03", [
        bill("B5", "3100000001", "2024-02", "300.00", "162.40", "2024-03-03", "2024-03-23"),
        bill("B6", "3100000002", "2024-02", "1000.00", "700.00", "2024-03-03", "2024-03-23", tariff="C-K10"),
    ], header=BILL_COLS)
    write_partition(landing, "bill_item", "2024-03-03", [item("B5", "300.00", "162.40"), item("B6", "1000.00", "700.00")],
                    header=ITEM_COLS)
    write_partition(landing, "bill", "2024-03-20", [
        bill("B7", "3100000002", "2024-01", "100.00", "70.00", "2024-03-20", "2024-04-05", "ADJUST", "B2", "C-K10"),
        bill("B8", "3100000001", "2024-02", "-20.00", "-10.00", "2024-03-20", "2024-04-09", "ADJUST", "B5"),
    ], header=BILL_COLS)
    write_partition(landing, "bill_item", "2024-03-20", [item("B7", "100.00", "70.00"), item("B8", "-20.00", "-10.00")],
                    header=ITEM_COLS)
    write_partition(landing, "payment", "2024-01-20", [
        payment("P01", "100.00", "3100000004", "APP", "2024-01-20 10:00:00")])
    write_partition(landing, "payment", "2024-02-20", [
        payment("P02", "26.90", "3100000004", "BALANCE", "2024-02-03 00:10:00", "B4"),
        payment("P03", "53.80", "3100000003", "WECHAT", "2024-02-10 09:00:00", "B3"),
        payment("P04", "-53.80", "3100000003", "WECHAT", "2024-02-10 09:05:00", "B3", reversal_of="P03"),
        payment("P05", "107.60", "3100000001", "ALIPAY", "2024-02-20 12:00:00", "B1"),
        payment("P06", "400.00", "3100000002", "BANK_DEBIT", "2024-02-20 08:00:00", "B2"),
    ])
    write_partition(landing, "payment", "2024-03-25", [
        payment("P07", "53.80", "3100000003", "COUNTER", "2024-02-25 15:00:00", "B3"),
        payment("P08", "300.00", "3100000002", "BANK_DEBIT", "2024-03-01 08:00:00", "B2", penalty_amount="3.60"),
        payment("P09", "10.00", "3100000001", "BALANCE", "2024-03-20 00:10:00", "B5"),
        payment("P10", "152.40", "3100000001", "APP", "2024-03-22 19:00:00", "B5"),
    ])
    write_partition(landing, "payment", "2024-04-10", [
        payment("P11", "200.00", "3100000002", "BANK_DEBIT", "2024-04-10 08:00:00", "B6")])
    work = build_warehouse(tmp, landing, ["dim_customer", "fct_bill", "fct_arrears_snapshot", "fct_payment"])
    con = duckdb.connect(str(work), read_only=True)
    yield con
    con.close()


def test_dim_customer_scd2(core):
    rows = core.execute("""
        select cons_no, cons_name, contract_kva, status, valid_from, valid_to, is_current
        from core.dim_customer order by cons_no, valid_from""").fetchall()
    assert rows == [
        ("3100000001", "张**", Y("8.00"), "ACTIVE", TS(2015, 3, 1, 9), TS(2024, 2, 15, 9), False),
        ("3100000001", "张**", Y("12.00"), "ACTIVE", TS(2024, 2, 15, 9), None, True),
        ("3100000002", "华茂物流有限公司", Y("100.00"), "ACTIVE", TS(2018, 6, 1, 10), None, True),
        ("3100000003", "李*", Y("8.00"), "ACTIVE", TS(2016, 1, 1, 9), TS(2024, 3, 10, 10), False),
        ("3100000003", "李*", Y("8.00"), "CLOSED", TS(2024, 3, 10, 10), None, True),
        ("3100000004", "王**", Y("8.00"), "ACTIVE", TS(2024, 3, 10, 8), None, True),
    ]


def test_fct_bill(core):
    rows = core.execute("""
        select b.bill_id, b.billing_month, b.bill_type, b.kwh, b.amount_yuan, b.is_receivable, b.paid_yuan,
               b.outstanding_yuan, b.paid_date, b.days_late, b.is_paid_on_time, c.contract_kva
        from core.fct_bill b left join core.dim_customer c on b.customer_sk = c.customer_sk
        order by b.bill_id""").fetchall()
    assert rows == [
        ("B1", D(2024, 1, 1), "NORMAL", Y("200.00"), Y("107.60"), True, Y("107.60"), Y("0.00"), D(2024, 2, 20), 0, True, Y("8.00")),
        ("B2", D(2024, 1, 1), "NORMAL", Y("1000.00"), Y("700.00"), True, Y("700.00"), Y("0.00"), D(2024, 3, 1), 7, False, Y("100.00")),
        ("B3", D(2024, 1, 1), "NORMAL", Y("100.00"), Y("53.80"), True, Y("53.80"), Y("0.00"), D(2024, 2, 25), 2, False, Y("8.00")),
        # late master: January takes D's earliest (and only) version
        ("B4", D(2024, 1, 1), "NORMAL", Y("50.00"), Y("26.90"), True, Y("26.90"), Y("0.00"), D(2024, 2, 3), 0, True, Y("8.00")),
        # February: A's version in force at month end is the 12 kVA one
        ("B5", D(2024, 2, 1), "NORMAL", Y("300.00"), Y("162.40"), True, Y("162.40"), Y("0.00"), D(2024, 3, 22), 0, True, Y("12.00")),
        ("B6", D(2024, 2, 1), "NORMAL", Y("1000.00"), Y("700.00"), True, Y("200.00"), Y("500.00"), None, None, False, Y("100.00")),
        # the upward ADJUST restates January; unpaid
        ("B7", D(2024, 1, 1), "ADJUST", Y("100.00"), Y("70.00"), True, Y("0.00"), Y("70.00"), None, None, False, Y("100.00")),
        # the refund is never a receivable
        ("B8", D(2024, 2, 1), "ADJUST", Y("-20.00"), Y("-10.00"), False, Y("0.00"), Y("0.00"), None, None, None, Y("12.00")),
    ]
    assert core.execute("select sum(amount_yuan), sum(kwh) from core.fct_bill").fetchone() == (Y("1810.70"), Y("2730.00"))


def test_fct_arrears_snapshot(core):
    rows = core.execute("""
        select snapshot_date, bill_id, outstanding_yuan, arrears_yuan, days_overdue, ageing_bucket, penalty_accrued_yuan
        from core.fct_arrears_snapshot order by snapshot_date, bill_id""").fetchall()
    assert rows == [
        # B2: 700 − 400 paid on 02-20; 6 days overdue; C&I 0.2 % a day: 300 × 0.002 × 6
        (D(2024, 2, 29), "B2", Y("300.00"), Y("300.00"), 6, "1-30", Y("3.60")),
        # B6: 8 days overdue: 700 × 0.002 × 8
        (D(2024, 3, 31), "B6", Y("700.00"), Y("700.00"), 8, "1-30", Y("11.20")),
        # B7 issued 03-20, due 04-05: outstanding but not yet in arrears
        (D(2024, 3, 31), "B7", Y("70.00"), Y("0.00"), None, None, Y("0.00")),
        # data date 04-10: B6 500 × 0.002 × 18; B7 70 × 0.002 × 5 = 0.70 → minimum 1 yuan
        (D(2024, 4, 10), "B6", Y("500.00"), Y("500.00"), 18, "1-30", Y("18.00")),
        (D(2024, 4, 10), "B7", Y("70.00"), Y("70.00"), 5, "1-30", Y("1.00")),
    ]


def test_fct_payment_flags(core):
    rows = core.execute("""
        select pay_id, is_reversal, is_reversed, is_prepayment, is_money_received
        from core.fct_payment order by pay_id""").fetchall()
    assert rows == [
        ("P01", False, False, True, True), ("P02", False, False, False, False),
        ("P03", False, True, False, True), ("P04", True, False, False, True),
        ("P05", False, False, False, True), ("P06", False, False, False, True),
        ("P07", False, False, False, True), ("P08", False, False, False, True),
        ("P09", False, False, False, False), ("P10", False, False, False, True),
        ("P11", False, False, False, True),
    ]


def test_core_holds_no_personal_data(core):
    cols = {c for (c,) in core.execute(
        "select column_name from information_schema.columns where table_schema = 'core'").fetchall()}
    assert not cols & {"cert_no", "mobile", "address", "content", "comment"}
    names = {n for (n,) in core.execute("select distinct cons_name from core.dim_customer").fetchall()}
    assert not names & {"张三丰", "李四", "王小二"}
