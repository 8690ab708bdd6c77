-- One row per customer × billing month with any bill (NORMAL or ADJUST): the month's billed kWh,
-- amount and revenue (line amounts except FUND), whether a NORMAL bill is among them, the same
-- customer's kWh of the same month a year earlier and its year-on-year rate, with the customer's
-- attributes in force at that month end. ADJUST bills carry the month they correct, so a month
-- is restated when a correction arrives. The one place customer-month kWh and its year-on-year
-- rate are computed (profit and key-account marts read them here).
-- Incremental: a night re-derives only the months whose bills changed and the months a year
-- later (macros/batches.sql, sales_batch_months); a redelivered bill, bill_item or cust
-- partition rebuilds it whole.
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('base_marketing__bill_items') }}
-- depends_on: {{ ref('base_marketing__customers') }}
-- depends_on: {{ ref('stg_marketing__bills') }}
-- depends_on: {{ ref('fct_bill_line') }}
{%- set extracts = ['bill', 'bill_item', 'cust'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ prepare_key_batch('month', sales_batch_months(), ['bill', 'bill_item', 'cust']) }}",
    post_hook="{{ drop_key_batch() }}",
) }}
with bills as (
    select * from {{ ref('fct_bill') }}
    -- the batch's months and the year before them (the year-on-year window reads them)
    {{ where_batch_months_and_year_before('billing_month', extracts) }}
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
),

with_year_earlier as (
    -- the kWh of the customer's row 12 months earlier (a month number frame: one window pass
    -- instead of a self-join of the totals)
    select
        *,
        max(kwh) over (
            partition by cons_no order by year(month) * 12 + month(month)
            range between 12 preceding and 12 preceding
        ) as kwh_prev_year
    from totals
)

select
    totals.cons_no,
    totals.month,
    versions.customer_sk,
    versions.org_no,
    versions.tg_id,
    versions.elec_type,
    versions.voltage,
    versions.industry_section,
    versions.tariff_code,
    versions.contract_kva,
    versions.is_key_account,
    versions.open_date,
    cast(totals.kwh as decimal(18, 2)) as kwh,
    cast(totals.amount_yuan as decimal(18, 2)) as amount_yuan,
    cast(totals.revenue_yuan as decimal(18, 2)) as revenue_yuan,
    totals.has_normal_bill,
    totals.bills,
    cast(totals.kwh_prev_year as decimal(18, 2)) as kwh_prev_year,
    cast(case when totals.kwh_prev_year <> 0 then totals.kwh / totals.kwh_prev_year - 1 end as double) as kwh_yoy_rate,
    {{ build_stamp() }} as _loaded_at
from with_year_earlier as totals
-- the attributes in force at the month end (macros/customer_attributes.sql)
{{ join_version_at_month_end('versions', 'totals.cons_no', 'totals.month') }}
where true{{ in_key_batch('month', extracts, column='totals.month') }}
