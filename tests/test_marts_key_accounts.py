"""Key-account mart (METRICS.md section 8) on a hand-made landing folder: key_account_monthly
with its DROP and OVERLOAD alerts. Expected figures are worked out by hand in the comments.

| customer | who | bills (kWh) | readings |
| --- | --- | --- | --- |
| K1 3100000001 | two-part 300/K10, not flagged, 1 000 kVA | 2024-01 100 000 (50 000.00, 30 000.00 paid); 2025-01 60 000 | 2024-01 900 kW; 2025-01 500 kW, 45 000 kvarh |
| K2 3100000002 | commercial, flagged Y only from 2024-06-01, 100 kVA | 2024-01 1 000 (700.00, never paid); 2025-01 700 | none |
| K3 3100000003 | two-part, flagged, 500 kVA, opened 2024-05 | 2025-01 100 000 | 600 kW, 0 kvarh |
| K4 3100000004 | residential | 2024-01 and 2025-01 | none |

January has 744 hours. Data date 2025-02-05.
"""

from __future__ import annotations

import duckdb
import pytest
from landing_factory import customer, payment, write_partition
from test_marts_sales import bill, build, check, one, rows  # the shared small helpers

S1 = "334010101"
K1, K2, K3, K4 = "3100000001", "3100000002", "3100000003", "3100000004"


def reading(rid: str, cons_no: str, month: str, kwh: str, max_demand: str = "", kvarh: str = "") -> dict:
    return dict(reading_id=rid, cons_no=cons_no, meter_id=f"M{cons_no}", billing_month=month,
                read_date=f"{month}-28", tou_period="ALL", start_reading="0", end_reading=kwh, multiplier="1",
                meter_digits="8", kwh=kwh, max_demand_kw=max_demand, kvarh=kvarh, is_estimated="N")


def write_landing(landing) -> None:
    unit = dict(tg_id="", tg_name="", tg_capacity_kva="")
    write_partition(landing, "org", "2023-01-01", [
        dict(unit, org_no="3340000", org_name="滨江供电公司", parent_org_no="", org_level="1"),
        dict(unit, org_no="3340100", org_name="城东县供电公司", parent_org_no="3340000", org_level="2"),
        dict(unit, org_no=S1, org_name="城关供电所", parent_org_no="3340100", org_level="3"),
    ])
    big = dict(elec_type="300", voltage="K10", industry_code="C30", org_no=S1, tg_id="", tariff_code="I-K10")
    com = dict(elec_type="200", voltage="V380", industry_code="C26", org_no=S1, tg_id="", tariff_code="C-V380",
               contract_kva="100.00", open_date="2020-01-01")
    write_partition(landing, "cust", "2023-01-01", [
        customer(K1, "滨江化工有限公司", "2020-01-01 08:00:00", contract_kva="1000.00", is_key_account="N", **big),
        customer(K2, "城东商贸有限公司", "2020-01-01 08:00:00", is_key_account="N", **com),
        customer(K4, "张三丰", "2020-01-01 08:00:00", org_no=S1),
    ])
    write_partition(landing, "cust", "2024-05-01", [
        customer(K3, "新区钢构有限公司", "2024-05-01 08:00:00", contract_kva="500.00", is_key_account="Y",
                 open_date="2024-05-01", **big)])
    write_partition(landing, "cust", "2024-06-01", [
        customer(K2, "城东商贸有限公司", "2024-06-01 10:00:00", is_key_account="Y", **com)])
    write_partition(landing, "reading", "2024-01-31", [
        reading("R1", K1, "2024-01", "100000", "900", "0"),
        reading("R2", K2, "2024-01", "1000"),
        reading("R4", K4, "2024-01", "100")])
    write_partition(landing, "reading", "2025-01-31", [
        reading("R5", K1, "2025-01", "60000", "500", "45000"),
        reading("R6", K2, "2025-01", "700"),
        reading("R7", K3, "2025-01", "100000", "600", "0"),
        reading("R8", K4, "2025-01", "100")])
    write_partition(landing, "bill", "2024-02-05", [
        bill("B1", K1, "2024-01", "100000", "50000.00", "I-K10", "2024-02-05"),
        bill("B2", K2, "2024-01", "1000", "700.00", "C-V380", "2024-02-05"),
        bill("B4", K4, "2024-01", "100", "50.00", "R-V220", "2024-02-05")])
    write_partition(landing, "payment", "2024-02-15", [
        payment("P1", "30000.00", K1, "BANK_DEBIT", "2024-02-15 10:00:00", "B1")])
    write_partition(landing, "bill", "2025-02-05", [
        bill("B5", K1, "2025-01", "60000", "30000.00", "I-K10", "2025-02-05"),
        bill("B6", K2, "2025-01", "700", "490.00", "C-V380", "2025-02-05"),
        bill("B7", K3, "2025-01", "100000", "60000.00", "I-K10", "2025-02-05"),
        bill("B8", K4, "2025-01", "100", "50.00", "R-V220", "2025-02-05")])


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("key_accounts")
    write_landing(tmp / "landing")
    work_db = build(tmp, ("key_account_monthly",), ("dim_org", "dim_customer"),
                    ("models/marts/key_accounts", "models/intermediate/_int_sales__models.yml"))
    con = duckdb.connect(str(work_db), read_only=True)
    yield con
    con.close()


def test_who_is_a_key_account_in_each_month(wh):
    got = sorted((r["cons_no"], str(r["month"])) for r in rows(wh, "select * from marts.key_account_monthly"))
    # K2 was not flagged at the end of January 2024 (commercial, single-part); K4 never
    assert got == [(K1, "2024-01-01"), (K1, "2025-01-01"), (K2, "2025-01-01"), (K3, "2025-01-01")]


def test_drop_alert(wh):
    # 60 000 < 0.7 × 100 000; load factor 60 000 / (500 × 744); power factor 60 000 / √(60 000² + 45 000²)
    # = 60 000 / 75 000; arrears at 2025-01-31: 50 000.00 − 30 000.00 of the January 2024 bill (the
    # January 2025 bill is issued in February)
    check(one(wh, "key_account_monthly", cons_no=K1, month="2025-01-01"), kwh=60000, kwh_prev_year=100000,
          kwh_yoy_rate=-0.4, max_demand_kw=500, load_factor=60000 / (500 * 744), demand_utilisation=0.5,
          power_factor=0.8, amount_yuan=30000, arrears_yuan=20000, alert="DROP")


def test_exactly_seventy_percent_is_no_drop_and_no_readings_give_null_ratios(wh):
    # 700 = 0.7 × 1 000: not below it; the January 2024 bill (700.00) was never paid
    check(one(wh, "key_account_monthly", cons_no=K2, month="2025-01-01"), kwh=700, kwh_prev_year=1000,
          kwh_yoy_rate=-0.3, max_demand_kw=None, load_factor=None, demand_utilisation=None, power_factor=None,
          arrears_yuan=700, alert=None)
    assert one(wh, "key_account_monthly", cons_no=K2, month="2025-01-01")["has_drop_alert"] is False


def test_overload_alert_without_a_year_earlier(wh):
    # 600 kW / 500 kVA = 1.2 > 1; load factor 100 000 / (600 × 744); no kvarh: power factor 1
    check(one(wh, "key_account_monthly", cons_no=K3, month="2025-01-01"), kwh=100000, kwh_prev_year=None,
          kwh_yoy_rate=None, demand_utilisation=1.2, load_factor=100000 / (600 * 744), power_factor=1.0,
          alert="OVERLOAD")


def test_month_before_the_first_bill_is_issued_has_no_arrears(wh):
    # at 2024-01-31 the January bill is not issued yet; 900 / 1 000 is no overload
    check(one(wh, "key_account_monthly", cons_no=K1, month="2024-01-01"), kwh=100000, kwh_prev_year=None,
          demand_utilisation=0.9, arrears_yuan=0, alert=None)
