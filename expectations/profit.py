"""Suite `profit`: 利润贡献 (customer_profit_monthly, customer_value).

- keys; mart totals = core totals month by month (kWh from fct_bill, revenue = bill lines
  except FUND from fct_bill_line);
- row rules: margin = revenue − energy cost, profit = margin − cost shares;
- customer_value: every customer with a bill in the 12-month window has exactly one row, in
  exactly one ABC class (C exactly when profit ≤ 0), RFM scores 1–5, its sums equal the monthly
  rows of the window.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from powercrm.quality.checks import ERROR, Suite
from powercrm.quality.config import QualityConfig

MONEY = 0.005
DATA_DATE = "(select max(business_date) from meta.partitions where status = 'LOADED')"
WINDOW = (f"month between cast(date_trunc('month', {DATA_DATE}) - interval 12 month as date) "
          f"and cast(date_trunc('month', {DATA_DATE}) - interval 1 month as date)")


def build(cfg: QualityConfig) -> Suite:
    s = Suite("profit", "Profit contribution and customer value: totals against core, profit rules, ABC and RFM")

    # nightly: the months tonight's build re-derived (the month is part of the key; rows without one
    # are read every night)
    s.primary_key("marts.customer_profit_monthly", ["cons_no", "month"], where="SCOPE_MONTHS(month) or month is null")
    s.primary_key("marts.customer_value", ["cons_no"])

    s.totals_match("customer_profit_monthly.totals", "marts.customer_profit_monthly", """
        with mart as (
            select month, sum(kwh) as kwh, sum(revenue_yuan) as revenue_yuan
            from marts.customer_profit_monthly where SCOPE_MONTHS(month) group by 1
        ),
        bills as (
            select billing_month as month, sum(kwh) as kwh
            from core.fct_bill where SCOPE_MONTHS(billing_month) group by 1
        ),
        lines as (
            select billing_month as month, sum(amount_yuan) as revenue_yuan
            from core.fct_bill_line
            where item <> 'FUND' and billing_month is not null and SCOPE_MONTHS(billing_month)
            group by 1
        ),
        core as (
            select coalesce(bills.month, lines.month) as month, bills.kwh, lines.revenue_yuan
            from bills full outer join lines on bills.month = lines.month
        )
        select coalesce(mart.month, core.month) as month,
               coalesce(mart.kwh, 0) - coalesce(core.kwh, 0) as kwh_diff,
               coalesce(mart.revenue_yuan, 0) - coalesce(core.revenue_yuan, 0) as revenue_yuan_diff
        from mart full outer join core on mart.month = core.month
        order by 1
    """, {"marts.customer_profit_monthly": ["month", "kwh", "revenue_yuan"],
          "core.fct_bill": ["billing_month", "kwh"], "core.fct_bill_line": ["billing_month", "item", "amount_yuan"]},
        {"kwh": MONEY, "revenue_yuan": MONEY}, what="customer_profit_monthly, month by month",
        scope_of="core.fct_bill")

    s.query("customer_profit_monthly.rules", "marts.customer_profit_monthly", """
        select rowid as _rowid, month, revenue_yuan, energy_cost_yuan, margin_yuan, marketing_cost_yuan,
               operating_cost_yuan, profit_yuan,
               margin_yuan - (revenue_yuan - energy_cost_yuan) as margin_diff,
               profit_yuan - (margin_yuan - coalesce(marketing_cost_yuan, 0) - coalesce(operating_cost_yuan, 0))
                   as profit_diff
        from marts.customer_profit_monthly
    """, {"marts.customer_profit_monthly": ["cons_no", "month", "revenue_yuan", "energy_cost_yuan", "margin_yuan",
                                            "marketing_cost_yuan", "operating_cost_yuan", "profit_yuan"]},
        partition_by="month", context=["cons_no"]).expect(
        "customer_profit_monthly.margin_rule",
        gxe.ExpectColumnValuesToBeBetween(column="margin_diff", min_value=-MONEY, max_value=MONEY), ERROR,
        "margin_yuan = revenue_yuan − energy_cost_yuan",
    ).expect(
        "customer_profit_monthly.profit_rule",
        gxe.ExpectColumnValuesToBeBetween(column="profit_diff", min_value=-MONEY, max_value=MONEY), ERROR,
        "profit_yuan = margin_yuan − marketing_cost_yuan − operating_cost_yuan",
    ).expect(
        "customer_profit_monthly.energy_cost_not_negative",
        gxe.ExpectColumnValuesToBeBetween(column="energy_cost_yuan", min_value=0), "warn",
        "energy cost is ≥ 0 (negative only for a month of net downward corrections)",
        "The customer's month is a correction; its margin is not a real margin.")

    s.query("customer_value.classes", "marts.customer_value", """
        select cons_no, profit_yuan, abc_class, r_score, f_score, m_score,
               abc_class = 'C' as is_class_c, profit_yuan <= 0 as has_no_profit
        from marts.customer_value
    """, {"marts.customer_value": ["cons_no", "profit_yuan", "abc_class", "r_score", "f_score", "m_score"]}).expect(
        "customer_value.abc_class_valid",
        gxe.ExpectColumnValuesToBeInSet(column="abc_class", value_set=["A", "B", "C"]), ERROR,
        "abc_class is A, B or C",
    ).expect(
        "customer_value.abc_class_not_null", gxe.ExpectColumnValuesToNotBeNull(column="abc_class"), ERROR,
        "every customer has an ABC class",
    ).expect(
        "customer_value.class_c_iff_no_profit",
        gxe.ExpectColumnPairValuesToBeEqual(column_A="is_class_c", column_B="has_no_profit"), ERROR,
        "a customer is class C exactly when its profit over the window is ≤ 0",
    ).expect(
        "customer_value.r_score_range", gxe.ExpectColumnValuesToBeBetween(column="r_score", min_value=1, max_value=5),
        ERROR, "r_score is 1–5",
    ).expect(
        "customer_value.f_score_range", gxe.ExpectColumnValuesToBeBetween(column="f_score", min_value=1, max_value=5),
        ERROR, "f_score is 1–5",
    ).expect(
        "customer_value.m_score_range", gxe.ExpectColumnValuesToBeBetween(column="m_score", min_value=1, max_value=5),
        ERROR, "m_score is 1–5",
    ).expect(
        "customer_value.rfm_not_null", gxe.ExpectColumnValuesToNotBeNull(column="r_score"), ERROR,
        "every customer has RFM scores")

    s.query("customer_value.coverage", "marts.customer_value", f"""
        with window_customers as (
            select cons_no, sum(profit_yuan) as profit_yuan, sum(revenue_yuan) as revenue_yuan, sum(kwh) as kwh
            from marts.customer_profit_monthly where {WINDOW} group by 1
        )
        select coalesce(w.cons_no, v.cons_no) as cons_no,
               case when v.cons_no is null then 'billed in the window, no customer_value row'
                    when w.cons_no is null then 'customer_value row without a bill in the window'
                    else 'sums differ from customer_profit_monthly' end as problem,
               v.profit_yuan as value_profit_yuan, w.profit_yuan as monthly_profit_yuan
        from window_customers as w
        full outer join marts.customer_value as v on w.cons_no = v.cons_no
        where v.cons_no is null or w.cons_no is null
           or abs(v.profit_yuan - w.profit_yuan) > {MONEY} or abs(v.revenue_yuan - w.revenue_yuan) > {MONEY}
           or abs(v.kwh - w.kwh) > {MONEY}
        order by 1
    """, {"marts.customer_value": ["cons_no", "profit_yuan", "revenue_yuan", "kwh"],
          "marts.customer_profit_monthly": ["cons_no", "month", "profit_yuan", "revenue_yuan", "kwh"],
          "meta.partitions": ["business_date", "status"]}, violations=True).expect(
        "customer_value.covers_window", gxe.ExpectTableRowCountToEqual(value=0), ERROR,
        "every customer billed in the 12-month window has one customer_value row whose profit, revenue "
        "and kWh are the sums of its monthly rows",
        "ABC classes and segments would leave customers out or rank them on wrong sums.")
    return s
