"""Suite `price`: 电价分析 (unit_price_monthly).

- key; mart totals = core totals month by month (billed kWh from fct_bill, each bill item from
  fct_bill_line);
- row rules: total = Σ components, average price = total / kWh;
- distributions: average price of each elec_type per month in a plausible band, shares in 0–1.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from powercrm.quality.checks import ERROR, WARN, Suite
from powercrm.quality.config import QualityConfig

MONEY = 0.005
# 综合平均电价 of any customer category, yuan/kWh: far outside means units or a tariff are wrong
PRICE_MIN, PRICE_MAX = 0.2, 2.0


def build(cfg: QualityConfig) -> Suite:
    s = Suite("price", "Unit price: composition against core, price rules, average price by category")

    s.primary_key("marts.unit_price_monthly", ["month", "org_no", "elec_type", "voltage"],
                  nullable=("org_no", "elec_type", "voltage"))

    s.totals_match("unit_price_monthly.totals", "marts.unit_price_monthly", """
        with mart as (
            select month, sum(billed_kwh) as billed_kwh, sum(energy_yuan) as energy_yuan,
                   sum(basic_yuan) as basic_yuan, sum(pf_adj_yuan) as pf_adj_yuan, sum(fund_yuan) as fund_yuan,
                   sum(total_yuan) as total_yuan
            from marts.unit_price_monthly where SCOPE_MONTHS(month) group by 1
        ),
        bills as (
            select billing_month as month, sum(kwh) as billed_kwh
            from core.fct_bill where SCOPE_MONTHS(billing_month) group by 1
        ),
        lines as (
            select billing_month as month,
                   sum(amount_yuan) filter (where item = 'ENERGY') as energy_yuan,
                   sum(amount_yuan) filter (where item = 'BASIC') as basic_yuan,
                   sum(amount_yuan) filter (where item = 'PF_ADJ') as pf_adj_yuan,
                   sum(amount_yuan) filter (where item = 'FUND') as fund_yuan,
                   sum(amount_yuan) as total_yuan
            from core.fct_bill_line where billing_month is not null and SCOPE_MONTHS(billing_month) group by 1
        ),
        core as (
            select coalesce(bills.month, lines.month) as month, bills.billed_kwh, lines.energy_yuan,
                   lines.basic_yuan, lines.pf_adj_yuan, lines.fund_yuan, lines.total_yuan
            from bills full outer join lines on bills.month = lines.month
        )
        select coalesce(mart.month, core.month) as month,
               coalesce(mart.billed_kwh, 0) - coalesce(core.billed_kwh, 0) as billed_kwh_diff,
               coalesce(mart.energy_yuan, 0) - coalesce(core.energy_yuan, 0) as energy_yuan_diff,
               coalesce(mart.basic_yuan, 0) - coalesce(core.basic_yuan, 0) as basic_yuan_diff,
               coalesce(mart.pf_adj_yuan, 0) - coalesce(core.pf_adj_yuan, 0) as pf_adj_yuan_diff,
               coalesce(mart.fund_yuan, 0) - coalesce(core.fund_yuan, 0) as fund_yuan_diff,
               coalesce(mart.total_yuan, 0) - coalesce(core.total_yuan, 0) as total_yuan_diff
        from mart full outer join core on mart.month = core.month
        order by 1
    """, {"marts.unit_price_monthly": ["month", "billed_kwh", "energy_yuan", "basic_yuan", "pf_adj_yuan",
                                       "fund_yuan", "total_yuan"],
          "core.fct_bill": ["billing_month", "kwh"],
          "core.fct_bill_line": ["billing_month", "item", "amount_yuan"]},
        {"billed_kwh": MONEY, "energy_yuan": MONEY, "basic_yuan": MONEY, "pf_adj_yuan": MONEY,
         "fund_yuan": MONEY, "total_yuan": MONEY},
        what="unit_price_monthly, month by month", scope_of="core.fct_bill")

    s.query("unit_price_monthly.rules", "marts.unit_price_monthly", """
        select month, org_no, elec_type, voltage, billed_kwh, total_yuan, avg_price_yuan_per_kwh,
               total_yuan - (energy_yuan + basic_yuan + pf_adj_yuan + fund_yuan) as composition_diff,
               avg_price_yuan_per_kwh - total_yuan / nullif(billed_kwh, 0) as avg_price_diff,
               energy_share, fund_share, peak_kwh_share, valley_kwh_share
        from marts.unit_price_monthly
    """, {"marts.unit_price_monthly": ["month", "org_no", "elec_type", "voltage", "billed_kwh", "total_yuan",
                                       "energy_yuan", "basic_yuan", "pf_adj_yuan", "fund_yuan",
                                       "avg_price_yuan_per_kwh", "energy_share", "fund_share", "peak_kwh_share",
                                       "valley_kwh_share"]}).expect(
        "unit_price_monthly.total_is_sum_of_items",
        gxe.ExpectColumnValuesToBeBetween(column="composition_diff", min_value=-MONEY, max_value=MONEY), ERROR,
        "total_yuan = energy + basic + pf_adj + fund",
    ).expect(
        "unit_price_monthly.avg_price_is_total_per_kwh",
        gxe.ExpectColumnValuesToBeBetween(column="avg_price_diff", min_value=-1e-5, max_value=1e-5), ERROR,
        "avg_price_yuan_per_kwh = total_yuan / billed_kwh (NULL when no kWh)",
    ).expect(
        "unit_price_monthly.fund_share_range",
        gxe.ExpectColumnValuesToBeBetween(column="fund_share", min_value=0, max_value=1), WARN,
        "the government-fund share of the bill lies between 0 and 1",
        "Outside 0–1 the group's month is dominated by corrections (ADJUST bills); read its shares as "
        "meaningless and use the station or month totals instead.",
    ).expect(
        "unit_price_monthly.peak_share_range",
        gxe.ExpectColumnValuesToBeBetween(column="peak_kwh_share", min_value=0, max_value=1), WARN,
        "the peak (sharp + peak) share of energy kWh lies between 0 and 1",
        "As for fund_share: corrections dominate the group's month.",
    ).expect(
        "unit_price_monthly.valley_share_range",
        gxe.ExpectColumnValuesToBeBetween(column="valley_kwh_share", min_value=0, max_value=1), WARN,
        "the valley share of energy kWh lies between 0 and 1",
        "As for fund_share: corrections dominate the group's month.")

    s.query("unit_price.by_category", "marts.unit_price_monthly", """
        select month, elec_type, sum(billed_kwh) as billed_kwh, sum(total_yuan) as total_yuan,
               sum(total_yuan) / nullif(sum(billed_kwh), 0) as avg_price_yuan_per_kwh
        from marts.unit_price_monthly
        group by 1, 2
        having sum(billed_kwh) > 0
        order by 1, 2
    """, {"marts.unit_price_monthly": ["month", "elec_type", "billed_kwh", "total_yuan"]}).expect(
        "unit_price.category_price_plausible",
        gxe.ExpectColumnValuesToBeBetween(column="avg_price_yuan_per_kwh", min_value=PRICE_MIN,
                                          max_value=PRICE_MAX), WARN,
        f"the average price of each elec_type in a month lies between {PRICE_MIN} and {PRICE_MAX} yuan/kWh",
        "A category price that far off means bills in another unit, a tariff loaded wrong or a month of "
        "corrections; do not compare that month's prices until it is explained.")
    return s
