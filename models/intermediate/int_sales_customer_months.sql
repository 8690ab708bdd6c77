-- One row per customer × billing month with any bill (NORMAL or ADJUST): the month's billed kWh,
-- amount and revenue (line amounts except FUND), whether a NORMAL bill is among them, the same
-- customer's kWh of the same month a year earlier and its year-on-year rate, with the customer's
-- attributes in force at that month end. ADJUST bills carry the month they correct, so a month
-- is restated when a correction arrives. The one place customer-month kWh and its year-on-year
-- rate are computed (profit and key-account marts read them here).
with bills as (
    select * from {{ ref('fct_bill') }}
),

customer_months as (
    select * from {{ ref('int_customer_months') }}
),

totals as (
    select
        cons_no,
        billing_month as month,
        sum(kwh) as kwh,
        sum(amount_yuan) as amount_yuan,
        sum(items_yuan - fund_yuan) as revenue_yuan,
        max(case when bill_type = 'NORMAL' then 1 else 0 end) = 1 as has_normal_bill,
        count(*) as bills
    from bills
    group by cons_no, billing_month
)

select
    totals.cons_no,
    totals.month,
    customer_months.customer_sk,
    customer_months.org_no,
    customer_months.tg_id,
    customer_months.elec_type,
    customer_months.voltage,
    customer_months.industry_section,
    customer_months.tariff_code,
    customer_months.contract_kva,
    customer_months.is_key_account,
    customer_months.open_date,
    cast(totals.kwh as decimal(18, 2)) as kwh,
    cast(totals.amount_yuan as decimal(18, 2)) as amount_yuan,
    cast(totals.revenue_yuan as decimal(18, 2)) as revenue_yuan,
    totals.has_normal_bill,
    totals.bills,
    cast(year_earlier.kwh as decimal(18, 2)) as kwh_prev_year,
    cast(case when year_earlier.kwh <> 0 then totals.kwh / year_earlier.kwh - 1 end as double) as kwh_yoy_rate
from totals
left join customer_months
    on totals.cons_no = customer_months.cons_no
    and totals.month = customer_months.month
left join totals as year_earlier
    on totals.cons_no = year_earlier.cons_no
    and year_earlier.month = cast({{ dbt.dateadd('month', -12, 'totals.month') }} as date)
