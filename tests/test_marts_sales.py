"""Sales, line-loss and unit-price marts (METRICS.md sections 1–3) on a hand-made landing folder.

Every expected figure below is worked out by hand from the rows written here (the arithmetic is
in the comments), never by the code under test.

The small supply company: company 3340000 → county 3340100 → stations S1 334010101 and
S2 334010102; areas T1–T3 under S1, T4–T5 under S2.

| customer | who | bills |
| --- | --- | --- |
| C1 3100000001 | residential, T1 | 2023-01 200 kWh; 2023-12 180 kWh; 2024-01 250 kWh crossing tier 1 (200) |
| C2 3100000002 | two-part 300/K10, industry C30, dedicated line (no area) | 2023-01 8 000 kWh; 2024-01 10 000 kWh with basic charge and a negative power-factor adjustment |
| C3 3100000003 | commercial 200/V380, C26; S1/T2, moves to S2/T4 on 2024-01-31 23:30 | 2023-12 1 000 kWh; 2024-01 1 200 kWh |
| C4 3100000004 | residential, T1 | 2023-12 100 kWh, restated by an ADJUST of −20 kWh issued 2024-02-05 |
| C5 3100000005 | residential, T3 | 2024-01 50 kWh |

Supply: 2023-12 T1 250 (negative loss), T2 1 200 (high); 2024-01 T1 260, T3 0, T5 300 (no
customers); no row for T4 in 2024-01 nor for T1 in 2023-01.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dbt_helpers import dbt, load
from landing_factory import customer, write_partition

REPO = Path(__file__).resolve().parents[1]
MODELS = ("sales_volume_monthly", "line_loss_monthly", "line_loss_station_monthly", "line_loss_county_monthly",
          "unit_price_monthly")
# the dimensions the marts' relationship tests point at
DIMS = ("dim_org", "dim_transformer_area", "dim_elec_type", "dim_voltage", "dim_customer")
FOLDERS = ("models/marts/sales", "models/marts/line_loss", "models/marts/price")

HEADERS = {
    "bill_item": "bill_id item_no item tou_period tier fund_name kwh price amount".split(),
    "supply": "tg_id billing_month supply_kwh is_estimated".split(),
}

S1, S2, COUNTY = "334010101", "334010102", "3340100"
T1, T2, T3, T4, T5 = "334010101001", "334010101002", "334010101003", "334010102001", "334010102002"
C1, C2, C3, C4, C5 = (f"310000000{i}" for i in range(1, 6))
FUND = "可再生能源电价附加"


def org_rows() -> list[dict]:
    unit = dict(tg_id="", tg_name="", tg_capacity_kva="")
    rows = [
        dict(unit, org_no="3340000", org_name="滨江供电公司", parent_org_no="", org_level="1"),
        dict(unit, org_no=COUNTY, org_name="城东县供电公司", parent_org_no="3340000", org_level="2"),
        dict(unit, org_no=S1, org_name="城关供电所", parent_org_no=COUNTY, org_level="3"),
        dict(unit, org_no=S2, org_name="江南供电所", parent_org_no=COUNTY, org_level="3"),
    ]
    for tg, station in ((T1, S1), (T2, S1), (T3, S1), (T4, S2), (T5, S2)):
        rows.append(dict(org_no=station, org_name="", parent_org_no=COUNTY, org_level="3", tg_id=tg,
                         tg_name=f"台区{tg[-3:]}", tg_capacity_kva="400.00"))
    return rows


def bill(bill_id: str, cons_no: str, month: str, kwh: str, amount: str, tariff: str, issue: str,
         bill_type: str = "NORMAL", ref: str = "") -> dict:
    return dict(bill_id=bill_id, cons_no=cons_no, billing_month=month, bill_type=bill_type, ref_bill_id=ref,
                issue_date=issue, due_date=issue[:8] + "20", kwh=kwh, amount=amount, tariff_code=tariff)


def item(bill_id: str, no: int, kind: str, kwh: str, price: str, amount: str, tou: str = "", tier: str = "",
         fund: str = "") -> dict:
    return dict(bill_id=bill_id, item_no=str(no), item=kind, tou_period=tou, tier=tier, fund_name=fund, kwh=kwh,
                price=price, amount=amount)


def residential(bill_id: str, kwh: int, tier2_kwh: int = 0) -> list[dict]:
    """Tier 1 at 0.50 up to 200 kWh, tier 2 at 0.55 above it, fund 0.02 per kWh."""
    t1 = kwh - tier2_kwh
    lines = [item(bill_id, 1, "ENERGY", f"{t1}", "0.500000", f"{t1 * 0.5:.2f}", "ALL", "1")]
    if tier2_kwh:
        lines.append(item(bill_id, 2, "ENERGY", f"{tier2_kwh}", "0.550000", f"{tier2_kwh * 0.55:.2f}", "ALL", "2"))
    lines.append(item(bill_id, len(lines) + 1, "FUND", f"{kwh}", "0.020000", f"{kwh * 0.02:.2f}", fund=FUND))
    return lines


# bills by issue day: (bill header, its lines)
BILLS = {
    "2023-02-03": [
        (bill("B01", C1, "2023-01", "200", "104.00", "R-V220", "2023-02-03"), residential("B01", 200)),
        (bill("B02", C2, "2023-01", "8000", "7460.00", "I-K10", "2023-02-03"), [
            item("B02", 1, "ENERGY", "3000", "0.800000", "2400.00", "PEAK"),
            item("B02", 2, "ENERGY", "3000", "0.600000", "1800.00", "FLAT"),
            item("B02", 3, "ENERGY", "2000", "0.300000", "600.00", "VALLEY"),
            item("B02", 4, "BASIC", "100", "25.000000", "2500.00"),
            item("B02", 5, "FUND", "8000", "0.020000", "160.00", fund=FUND)]),
    ],
    "2024-01-03": [
        (bill("B05", C3, "2023-12", "1000", "720.00", "C-V380", "2024-01-03"), [
            item("B05", 1, "ENERGY", "1000", "0.700000", "700.00", "ALL"),
            item("B05", 2, "FUND", "1000", "0.020000", "20.00", fund=FUND)]),
        (bill("B07", C4, "2023-12", "100", "52.00", "R-V220", "2024-01-03"), residential("B07", 100)),
        (bill("B09", C1, "2023-12", "180", "93.60", "R-V220", "2024-01-03"), residential("B09", 180)),
    ],
    "2024-02-03": [
        # 250 kWh crosses tier 1: 200 × 0.50 = 100.00, 50 × 0.55 = 27.50, fund 250 × 0.02 = 5.00
        (bill("B03", C1, "2024-01", "250", "132.50", "R-V220", "2024-02-03"), residential("B03", 250, 50)),
        # 5 900.00 energy + 2 500.00 basic − 84.00 power-factor rebate + 200.00 fund = 8 516.00
        (bill("B04", C2, "2024-01", "10000", "8516.00", "I-K10", "2024-02-03"), [
            item("B04", 1, "ENERGY", "4000", "0.800000", "3200.00", "PEAK"),
            item("B04", 2, "ENERGY", "3000", "0.600000", "1800.00", "FLAT"),
            item("B04", 3, "ENERGY", "3000", "0.300000", "900.00", "VALLEY"),
            item("B04", 4, "BASIC", "100", "25.000000", "2500.00"),
            item("B04", 5, "PF_ADJ", "", "", "-84.00"),
            item("B04", 6, "FUND", "10000", "0.020000", "200.00", fund=FUND)]),
        (bill("B06", C3, "2024-01", "1200", "864.00", "C-V380", "2024-02-03"), [
            item("B06", 1, "ENERGY", "1200", "0.700000", "840.00", "ALL"),
            item("B06", 2, "FUND", "1200", "0.020000", "24.00", fund=FUND)]),
        (bill("B10", C5, "2024-01", "50", "26.00", "R-V220", "2024-02-03"), residential("B10", 50)),
    ],
    # a downward correction of C4's December bill: −20 kWh, −10.00 energy, −0.40 fund
    "2024-02-05": [
        (bill("B08", C4, "2023-12", "-20", "-10.40", "R-V220", "2024-02-05", "ADJUST", "B07"), [
            item("B08", 1, "ENERGY", "-20", "0.500000", "-10.00", "ALL", "1"),
            item("B08", 2, "FUND", "-20", "0.020000", "-0.40", fund=FUND)]),
    ],
}

SUPPLY = {
    "2024-01-02": [("2023-12", T1, "250.00"), ("2023-12", T2, "1200.00")],
    "2024-02-02": [("2024-01", T1, "260.00"), ("2024-01", T3, "0.00"), ("2024-01", T5, "300.00")],
}


def write_landing(landing: Path) -> None:
    write_partition(landing, "org", "2023-01-01", org_rows())
    res = dict(elec_type="100", voltage="V220", tariff_code="R-V220", org_no=S1, contract_kva="8.00")
    write_partition(landing, "cust", "2023-01-01", [
        customer(C1, "张三丰", "2022-12-01 08:00:00", tg_id=T1, **res),
        customer(C2, "滨江化工有限公司", "2022-12-01 08:00:00", elec_type="300", voltage="K10", contract_kva="100.00",
                 industry_code="C30", org_no=S1, tg_id="", tariff_code="I-K10", is_key_account="Y"),
        customer(C3, "城东商贸有限公司", "2022-12-01 08:00:00", elec_type="200", voltage="V380", contract_kva="50.00",
                 industry_code="C26", org_no=S1, tg_id=T2, tariff_code="C-V380"),
        customer(C4, "李四", "2022-12-01 08:00:00", tg_id=T1, **res),
        customer(C5, "王五", "2022-12-01 08:00:00", tg_id=T3, **res),
    ])
    # C3 moves to S2/T4 half an hour before the end of January: January counts at S2/T4
    write_partition(landing, "cust", "2024-01-31", [
        customer(C3, "城东商贸有限公司", "2024-01-31 23:30:00", elec_type="200", voltage="V380", contract_kva="50.00",
                 industry_code="C26", org_no=S2, tg_id=T4, tariff_code="C-V380"),
    ])
    for day, bills in BILLS.items():
        write_partition(landing, "bill", day, [b for b, _ in bills])
        write_partition(landing, "bill_item", day, [line for _, lines in bills for line in lines],
                        header=HEADERS["bill_item"])
    for day, rows in SUPPLY.items():
        write_partition(landing, "supply", day,
                        [dict(tg_id=tg, billing_month=m, supply_kwh=kwh, is_estimated="N") for m, tg, kwh in rows])


def build(tmp: Path, models: tuple[str, ...], dims: tuple[str, ...], folders: tuple[str, ...]) -> Path:
    """Load the landing folder, build the marts and what they read, then run the dbt tests written
    in the marts' folders (keys, codes, reconciliation); other layers are tested by their owners."""
    work_db = tmp / "w.duckdb"
    load(tmp / "landing", work_db)
    dbt(tmp, work_db, "build", "--exclude-resource-type", "test", "unit_test",
        "--select", " ".join(f"+{m}" for m in models + dims))
    dbt(tmp, work_db, "test", "--indirect-selection", "empty", "--select", *(f"path:{f}" for f in folders))
    return work_db


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sales")
    write_landing(tmp / "landing")
    work_db = build(tmp, MODELS, DIMS, FOLDERS)
    con = duckdb.connect(str(work_db), read_only=True)
    yield con
    con.close()


def rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def one(con, table: str, **key) -> dict:
    cond = " and ".join(f"{k} is null" if v is None else f"{k} = '{v}'" for k, v in key.items())
    found = rows(con, f"select * from marts.{table} where {cond}")
    assert len(found) == 1, (table, key, found)
    return found[0]


def check(row: dict, **want) -> None:
    for k, v in want.items():
        if v is None or isinstance(v, str):
            assert row[k] == v, (k, row[k], v)
        else:
            assert row[k] is not None and float(row[k]) == pytest.approx(v, abs=1e-9), (k, row[k], v)


# ----------------------------------------------------------------------------- 售电量 sales volume

def test_sales_group_with_a_year_earlier_row_residential_industry_null(wh):
    # C1 250 + C5 50 = 300 kWh, 132.50 + 26.00 = 158.50; a year earlier C1 200 kWh
    r = one(wh, "sales_volume_monthly", month="2024-01-01", org_no=S1, elec_type="100", voltage="V220",
            industry_section=None)
    check(r, customers_billed=2, sales_kwh=300, amount_yuan=158.50, sales_kwh_prev_year=200, sales_kwh_yoy_rate=0.5)


def test_sales_two_part_customer_yoy(wh):
    r = one(wh, "sales_volume_monthly", month="2024-01-01", org_no=S1, elec_type="300", voltage="K10",
            industry_section="C")
    check(r, customers_billed=1, sales_kwh=10000, amount_yuan=8516.00, sales_kwh_prev_year=8000,
          sales_kwh_yoy_rate=0.25)  # 10 000 / 8 000 − 1


def test_sales_follow_the_station_in_force_at_month_end(wh):
    # C3 moved to S2 on 2024-01-31 23:30: January at S2 (no row a year earlier there), December at S1
    r = one(wh, "sales_volume_monthly", month="2024-01-01", org_no=S2, elec_type="200", voltage="V380",
            industry_section="C")
    check(r, customers_billed=1, sales_kwh=1200, amount_yuan=864.00, sales_kwh_prev_year=None,
          sales_kwh_yoy_rate=None)
    r = one(wh, "sales_volume_monthly", month="2023-12-01", org_no=S1, elec_type="200", voltage="V380",
            industry_section="C")
    check(r, customers_billed=1, sales_kwh=1000, amount_yuan=720.00)
    assert rows(wh, f"select * from marts.sales_volume_monthly where month = '2024-01-01' and org_no = '{S1}' "
                    "and elec_type = '200'") == []


def test_adjust_bill_restates_its_month(wh):
    # December at S1 residential: C1 180 + C4 100 − 20 (ADJUST issued in February) = 260 kWh;
    # 93.60 + 52.00 − 10.40 = 135.20; C4 counted once
    r = one(wh, "sales_volume_monthly", month="2023-12-01", org_no=S1, elec_type="100", voltage="V220",
            industry_section=None)
    check(r, customers_billed=2, sales_kwh=260, amount_yuan=135.20, sales_kwh_prev_year=None,
          sales_kwh_yoy_rate=None)


def test_sales_reconcile_to_the_bills(wh):
    # 200 + 8 000 + 250 + 10 000 + 1 000 + 1 200 + 100 − 20 + 180 + 50 = 20 960 kWh
    # 104 + 7 460 + 132.50 + 8 516 + 720 + 864 + 52 − 10.40 + 93.60 + 26 = 17 957.70 yuan
    [(kwh, amount, n)] = wh.execute(
        "select sum(sales_kwh), sum(amount_yuan), count(*) from marts.sales_volume_monthly").fetchall()
    assert (float(kwh), float(amount)) == (20960.0, 17957.70)
    assert n == 7  # 2023-01: 2 groups, 2023-12: 2, 2024-01: 3
    [(bill_kwh, bill_amount)] = wh.execute("select sum(kwh), sum(amount_yuan) from core.fct_bill").fetchall()
    assert (kwh, amount) == (bill_kwh, bill_amount)


# ------------------------------------------------------------------------------------- 线损 line loss

def test_line_loss_area_rows(wh):
    got = {(r["tg_id"], str(r["month"])): r for r in rows(wh, "select * from marts.line_loss_monthly")}
    # T2 has neither supply nor a billed customer in January (C3 left): no row; C2 (dedicated line) is in none
    assert sorted(got) == [(T1, "2023-01-01"), (T1, "2023-12-01"), (T1, "2024-01-01"), (T2, "2023-12-01"),
                           (T3, "2024-01-01"), (T4, "2024-01-01"), (T5, "2024-01-01")]
    # negative loss, with the ADJUST: 250 − (180 + 100 − 20) = −10, −10 / 250
    check(got[(T1, "2023-12-01")], supply_kwh=250, sales_kwh=260, loss_kwh=-10, loss_rate=-0.04, status="NEGATIVE")
    # C3 still in T2 at the end of December: 200 / 1 200
    check(got[(T2, "2023-12-01")], supply_kwh=1200, sales_kwh=1000, loss_kwh=200, loss_rate=200 / 1200,
          status="HIGH")
    check(got[(T1, "2024-01-01")], supply_kwh=260, sales_kwh=250, loss_kwh=10, loss_rate=10 / 260, status="NORMAL")
    # supply 0: NO_SUPPLY, loss = 0 − 50, no rate
    check(got[(T3, "2024-01-01")], supply_kwh=0, sales_kwh=50, loss_kwh=-50, loss_rate=None, status="NO_SUPPLY")
    # no supply row: supply, loss and rate NULL
    check(got[(T4, "2024-01-01")], supply_kwh=None, sales_kwh=1200, loss_kwh=None, loss_rate=None,
          status="NO_SUPPLY")
    check(got[(T1, "2023-01-01")], supply_kwh=None, sales_kwh=200, loss_kwh=None, loss_rate=None,
          status="NO_SUPPLY")
    # supply and no customers: sales 0
    check(got[(T5, "2024-01-01")], supply_kwh=300, sales_kwh=0, loss_kwh=300, loss_rate=1.0, status="HIGH")


def test_line_loss_station_rollup_excludes_no_supply_areas(wh):
    # January S1: T1 only (T3 is NO_SUPPLY); S2: T5 only (T4 is NO_SUPPLY)
    check(one(wh, "line_loss_station_monthly", org_no=S1, month="2024-01-01"), supply_kwh=260, sales_kwh=250,
          loss_kwh=10, loss_rate=10 / 260, areas=1, areas_high=0, areas_negative=0)
    check(one(wh, "line_loss_station_monthly", org_no=S2, month="2024-01-01"), supply_kwh=300, sales_kwh=0,
          loss_kwh=300, loss_rate=1.0, areas=1, areas_high=1, areas_negative=0)
    # December S1: T1 (NEGATIVE) + T2 (HIGH): 1 450 supply, 1 260 sales, 190 loss
    check(one(wh, "line_loss_station_monthly", org_no=S1, month="2023-12-01"), supply_kwh=1450, sales_kwh=1260,
          loss_kwh=190, loss_rate=190 / 1450, areas=2, areas_high=1, areas_negative=1)
    # January 2023: the only area is NO_SUPPLY, nothing to measure
    check(one(wh, "line_loss_station_monthly", org_no=S1, month="2023-01-01"), supply_kwh=None, sales_kwh=None,
          loss_kwh=None, loss_rate=None, areas=0, areas_high=0, areas_negative=0)
    assert wh.execute("select count(*) from marts.line_loss_station_monthly").fetchone()[0] == 4


def test_line_loss_county_rollup(wh):
    # January: S1 (260 / 250 / 10) + S2 (300 / 0 / 300)
    check(one(wh, "line_loss_county_monthly", county_org_no=COUNTY, month="2024-01-01"), stations=2,
          supply_kwh=560, sales_kwh=250, loss_kwh=310, loss_rate=310 / 560, areas=2, areas_high=1, areas_negative=0)
    assert one(wh, "line_loss_county_monthly", county_org_no=COUNTY, month="2024-01-01")["county_name"] == \
        "城东县供电公司"


# ---------------------------------------------------------------------------------- 电价 unit price

def test_unit_price_residential_tier_crossing(wh):
    # C1 (100.00 + 27.50 energy, 5.00 fund) + C5 (25.00 energy, 1.00 fund): 152.50 + 6.00 = 158.50 on 300 kWh
    r = one(wh, "unit_price_monthly", month="2024-01-01", org_no=S1, elec_type="100", voltage="V220")
    check(r, billed_kwh=300, energy_yuan=152.50, basic_yuan=0, pf_adj_yuan=0, fund_yuan=6.00, total_yuan=158.50,
          avg_price_yuan_per_kwh=0.528333,  # 158.50 / 300 = 0.5283333… to 6 decimals
          avg_price_ex_fund_yuan_per_kwh=0.508333,  # 152.50 / 300
          energy_share=152.5 / 158.5, basic_share=0, pf_adj_share=0, fund_share=6 / 158.5,
          peak_kwh_share=0, valley_kwh_share=0)  # tiered lines are period ALL


def test_unit_price_two_part_with_basic_charge_and_pf_rebate(wh):
    r = one(wh, "unit_price_monthly", month="2024-01-01", org_no=S1, elec_type="300", voltage="K10")
    check(r, billed_kwh=10000, energy_yuan=5900, basic_yuan=2500, pf_adj_yuan=-84, fund_yuan=200, total_yuan=8516,
          avg_price_yuan_per_kwh=0.8516, avg_price_ex_fund_yuan_per_kwh=0.8316,
          energy_share=5900 / 8516, basic_share=2500 / 8516, pf_adj_share=-84 / 8516, fund_share=200 / 8516,
          peak_kwh_share=0.4, valley_kwh_share=0.3)  # 4 000 and 3 000 of 10 000 energy kWh
    assert r["pf_adj_share"] < 0


def test_unit_price_month_restated_by_adjust(wh):
    # December: 90.00 + 50.00 − 10.00 energy, 3.60 + 2.00 − 0.40 fund on 260 kWh
    r = one(wh, "unit_price_monthly", month="2023-12-01", org_no=S1, elec_type="100", voltage="V220")
    check(r, billed_kwh=260, energy_yuan=130, fund_yuan=5.20, total_yuan=135.20, avg_price_yuan_per_kwh=0.52,
          avg_price_ex_fund_yuan_per_kwh=0.5)
