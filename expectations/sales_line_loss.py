"""Suite `sales_line_loss`: 售电量 and 线损 (sales_volume_monthly, line_loss_*, key_account_monthly).

- keys of every table;
- mart totals = core totals, month by month (sales kWh, amount, customers billed; line-loss sales);
- station line loss = Σ of its areas with a usable supply;
- line-loss rules (loss = supply − sales, status from the rate) hold row by row;
- month-over-month drift of company sales kWh and billed yuan: a warning beyond the configured
  band (dbt var `drift_band`, default ±50 %), blocking beyond the wide band (default ±60 %);
- distributions: negative or implausible loss rates in an area, the company's monthly loss rate.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from powercrm.quality.checks import ERROR, WARN, Suite
from powercrm.quality.config import QualityConfig

MONEY = 0.005


def build(cfg: QualityConfig) -> Suite:
    s = Suite("sales_line_loss", "Sales volume and line loss: keys, totals against core, drift, loss rates")

    s.primary_key("marts.sales_volume_monthly", ["month", "org_no", "elec_type", "voltage", "industry_section"],
                  nullable=("org_no", "elec_type", "voltage", "industry_section"))
    s.primary_key("marts.line_loss_monthly", ["tg_id", "month"])
    s.primary_key("marts.line_loss_station_monthly", ["org_no", "month"])
    s.primary_key("marts.line_loss_county_monthly", ["county_org_no", "month"])
    s.primary_key("marts.key_account_monthly", ["cons_no", "month"])

    # ---- sales volume
    s.totals_match("sales_volume_monthly.totals", "marts.sales_volume_monthly", """
        with mart as (
            select month, sum(sales_kwh) as sales_kwh, sum(amount_yuan) as amount_yuan,
                   sum(customers_billed) as customers_billed
            from marts.sales_volume_monthly where SCOPE_MONTHS(month) group by 1
        ),
        core as (
            select billing_month as month, sum(kwh) as sales_kwh, sum(amount_yuan) as amount_yuan,
                   count(distinct cons_no) as customers_billed
            from core.fct_bill where SCOPE_MONTHS(billing_month) group by 1
        )
        select coalesce(mart.month, core.month) as month,
               mart.sales_kwh as mart_sales_kwh, core.sales_kwh as core_sales_kwh,
               coalesce(mart.sales_kwh, 0) - coalesce(core.sales_kwh, 0) as sales_kwh_diff,
               coalesce(mart.amount_yuan, 0) - coalesce(core.amount_yuan, 0) as amount_yuan_diff,
               coalesce(mart.customers_billed, 0) - coalesce(core.customers_billed, 0) as customers_billed_diff
        from mart full outer join core on mart.month = core.month
        order by 1
    """, {"marts.sales_volume_monthly": ["month", "sales_kwh", "amount_yuan", "customers_billed"],
          "core.fct_bill": ["billing_month", "kwh", "amount_yuan", "cons_no"]},
        {"sales_kwh": MONEY, "amount_yuan": MONEY, "customers_billed": 0},
        what="sales_volume_monthly, month by month", scope_of="core.fct_bill")

    s.table("marts.sales_volume_monthly", name="sales_volume_monthly.rows",
            context=["month", "org_no", "elec_type", "voltage", "industry_section", "sales_kwh"]).expect(
        "sales_volume_monthly.station_known", gxe.ExpectColumnValuesToNotBeNull(column="org_no"), WARN,
        "every sales row has a station (customers without a master record have none)",
        "These sales count in company totals but under no station; they move to their station once "
        "the customer master arrives.",
    ).expect(
        "sales_volume_monthly.customers_billed_positive",
        gxe.ExpectColumnValuesToBeBetween(column="customers_billed", min_value=1), ERROR,
        "a sales row exists only for a group with at least one customer billed")

    s.drift("sales_kwh", "core.fct_bill",
            "select billing_month as month, sum(kwh) as value from core.fct_bill group by 1",
            {"core.fct_bill": ["billing_month", "kwh"]}, band=cfg.drift_band, error_band=cfg.drift_error_band,
            accept=cfg.drift_accept, what="the company's sales kWh of a billing month")
    s.drift("billed_yuan", "core.fct_bill",
            "select billing_month as month, sum(amount_yuan) as value from core.fct_bill group by 1",
            {"core.fct_bill": ["billing_month", "amount_yuan"]}, band=cfg.drift_band,
            error_band=cfg.drift_error_band, accept=cfg.drift_accept,
            what="the company's billed yuan of a billing month")

    # ---- line loss by transformer area
    s.totals_match("line_loss_monthly.sales", "marts.line_loss_monthly", """
        with mart as (select month, sum(sales_kwh) as sales_kwh from marts.line_loss_monthly group by 1),
        core as (
            select billing_month as month, sum(kwh) as sales_kwh
            from core.fct_bill where tg_id is not null group by 1
        )
        select coalesce(mart.month, core.month) as month,
               mart.sales_kwh as mart_sales_kwh, core.sales_kwh as core_sales_kwh,
               coalesce(mart.sales_kwh, 0) - coalesce(core.sales_kwh, 0) as sales_kwh_diff
        from mart full outer join core on mart.month = core.month
        order by 1
    """, {"marts.line_loss_monthly": ["month", "sales_kwh"], "core.fct_bill": ["billing_month", "kwh", "tg_id"]},
        {"sales_kwh": MONEY}, what="line_loss_monthly sales (customers in an area), month by month")

    s.query("line_loss_monthly.rules", "marts.line_loss_monthly", """
        select tg_id, month, org_no, supply_kwh, sales_kwh, loss_kwh, loss_rate, status,
               coalesce(loss_kwh - (supply_kwh - sales_kwh), 0) as loss_diff,
               case when supply_kwh is null or supply_kwh = 0 then 'NO_SUPPLY'
                    when loss_rate < 0 then 'NEGATIVE'
                    when loss_rate > 0.10 then 'HIGH'
                    else 'NORMAL' end as expected_status
        from marts.line_loss_monthly
    """, {"marts.line_loss_monthly": ["tg_id", "month", "org_no", "supply_kwh", "sales_kwh", "loss_kwh",
                                      "loss_rate", "status"]}).expect(
        "line_loss_monthly.loss_is_supply_minus_sales",
        gxe.ExpectColumnValuesToBeBetween(column="loss_diff", min_value=-MONEY, max_value=MONEY), ERROR,
        "loss_kwh = supply_kwh − sales_kwh in every area-month",
    ).expect(
        "line_loss_monthly.status_matches_rate",
        gxe.ExpectColumnPairValuesToBeEqual(column_A="status", column_B="expected_status"), ERROR,
        "status follows the rate: NO_SUPPLY without supply, NEGATIVE below 0, HIGH above 10 %, else NORMAL",
    ).expect(
        "line_loss_monthly.negative_loss", gxe.ExpectColumnValuesToBeBetween(column="loss_rate", min_value=0),
        WARN, "no area sells more than it is supplied (loss rate ≥ 0)",
        "A negative loss means the supply meter under-reads, a customer is mapped to the wrong area, or "
        "readings and supply cover different days. Quote the area's loss only with that caveat; the "
        "station's rate still includes it.",
    ).expect(
        "line_loss_monthly.plausible_loss", gxe.ExpectColumnValuesToBeBetween(column="loss_rate", max_value=0.5),
        WARN, "no area loses more than half of its supply",
        "A loss over 50 % is almost always missing sales (customers not mapped to the area, bills not yet "
        "delivered) or a wrong supply reading, rarely theft alone. Check before reporting the area.")

    s.query("line_loss.company", "marts.line_loss_monthly", """
        select month, sum(supply_kwh) as supply_kwh, sum(sales_kwh) as sales_kwh,
               (sum(supply_kwh) - sum(sales_kwh)) / nullif(sum(supply_kwh), 0) as loss_rate
        from marts.line_loss_monthly
        where status <> 'NO_SUPPLY'
        group by 1 order by 1
    """, {"marts.line_loss_monthly": ["month", "supply_kwh", "sales_kwh", "status"]}).expect(
        "line_loss.company_rate_in_range",
        gxe.ExpectColumnValuesToBeBetween(column="loss_rate", min_value=0, max_value=0.15), WARN,
        "the company's monthly line-loss rate (areas with supply) lies between 0 and 15 %",
        "A company-wide rate outside that range points at a delivery problem (supply or bills of a whole "
        "station missing), not at the network. Do not report the month's loss until it is explained.")

    s.totals_match("line_loss_station_monthly.areas", "marts.line_loss_station_monthly", """
        with areas as (
            select month, sum(supply_kwh) as supply_kwh, sum(sales_kwh) as sales_kwh, sum(loss_kwh) as loss_kwh,
                   count(*) as areas,
                   count(*) filter (where status = 'HIGH') as areas_high,
                   count(*) filter (where status = 'NEGATIVE') as areas_negative
            from marts.line_loss_monthly where status <> 'NO_SUPPLY' group by 1
        ),
        stations as (
            select month, sum(supply_kwh) as supply_kwh, sum(sales_kwh) as sales_kwh, sum(loss_kwh) as loss_kwh,
                   sum(areas) as areas, sum(areas_high) as areas_high, sum(areas_negative) as areas_negative
            from marts.line_loss_station_monthly group by 1
        )
        select coalesce(stations.month, areas.month) as month,
               coalesce(stations.supply_kwh, 0) - coalesce(areas.supply_kwh, 0) as supply_kwh_diff,
               coalesce(stations.sales_kwh, 0) - coalesce(areas.sales_kwh, 0) as sales_kwh_diff,
               coalesce(stations.loss_kwh, 0) - coalesce(areas.loss_kwh, 0) as loss_kwh_diff,
               coalesce(stations.areas, 0) - coalesce(areas.areas, 0) as areas_diff,
               coalesce(stations.areas_high, 0) - coalesce(areas.areas_high, 0) as areas_high_diff,
               coalesce(stations.areas_negative, 0) - coalesce(areas.areas_negative, 0) as areas_negative_diff
        from stations full outer join areas on stations.month = areas.month
        order by 1
    """, {"marts.line_loss_station_monthly": ["month", "supply_kwh", "sales_kwh", "loss_kwh", "areas",
                                              "areas_high", "areas_negative"],
          "marts.line_loss_monthly": ["month", "supply_kwh", "sales_kwh", "loss_kwh", "status"]},
        {"supply_kwh": MONEY, "sales_kwh": MONEY, "loss_kwh": MONEY, "areas": 0, "areas_high": 0,
         "areas_negative": 0},
        what="line_loss_station_monthly = Σ its areas with supply, month by month")

    s.table("marts.line_loss_station_monthly", name="line_loss_station_monthly.rows",
            context=["org_no", "month", "supply_kwh", "sales_kwh"]).expect(
        "line_loss_station_monthly.negative_loss",
        gxe.ExpectColumnValuesToBeBetween(column="loss_rate", min_value=0), WARN,
        "no station sells more than it is supplied",
        "See line_loss_monthly.negative_loss: one area usually explains it (areas_negative).")

    # ---- key accounts
    s.table("marts.key_account_monthly", name="key_account_monthly.rows", context=["cons_no", "month"]).expect(
        "key_account_monthly.power_factor_range",
        gxe.ExpectColumnValuesToBeBetween(column="power_factor", min_value=0, max_value=1), ERROR,
        "power factor lies between 0 and 1",
    ).expect(
        "key_account_monthly.load_factor_range",
        gxe.ExpectColumnValuesToBeBetween(column="load_factor", min_value=0, max_value=1), WARN,
        "load factor lies between 0 and 1",
        "A load factor above 1 means the maximum demand reading is too low (meter or multiplier): "
        "the customer's demand utilisation is understated too.",
    ).expect(
        "key_account_monthly.alert_valid",
        gxe.ExpectColumnValuesToBeInSet(column="alert", value_set=["DROP", "OVERLOAD", "DROP,OVERLOAD"]),
        ERROR, "alert is DROP, OVERLOAD, DROP,OVERLOAD or empty")
    return s
