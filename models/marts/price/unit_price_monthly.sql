-- 电价分析: price composition and comprehensive average price per billing month × station ×
-- elec_type × voltage, over all bills of the month (ADJUST bills restate their month).
-- Incremental: a month's rows depend on that month's bills and lines only, so a night
-- re-aggregates whole the months whose bills changed (macros/batches.sql, changed_bill_months:
-- changed bills and lines, customers whose changed master reaches the month end); a redelivered
-- bill, bill_item or cust partition rebuilds it whole.
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('base_marketing__bill_items') }}
-- depends_on: {{ ref('base_marketing__customers') }}
-- depends_on: {{ ref('stg_marketing__bills') }}
-- depends_on: {{ ref('int_customer_versions') }}
{%- set extracts = ['bill', 'bill_item', 'cust'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ prepare_key_batch('month', changed_bill_months(), ['bill', 'bill_item', 'cust']) }}",
    post_hook="{{ drop_key_batch() }}",
) }}
with bills as (
    select * from {{ ref('fct_bill') }}
    where true{{ in_key_batch('month', extracts, column='billing_month') }}
),

lines as (
    select * from {{ ref('fct_bill_line') }}
    where true{{ in_key_batch('month', extracts, column='billing_month') }}
),

energy_periods as (
    -- energy kWh of the ENERGY lines by time-of-use period
    select
        bill_id,
        sum(quantity) as energy_kwh,
        sum(case when tou_period in ('SHARP', 'PEAK') then quantity else 0 end) as peak_kwh,
        sum(case when tou_period = 'VALLEY' then quantity else 0 end) as valley_kwh
    from lines
    where item = 'ENERGY'
    group by bill_id
),

grouped as (
    select
        bills.billing_month as month,
        bills.org_no,
        bills.elec_type,
        bills.voltage,
        sum(bills.kwh) as billed_kwh,
        sum(bills.energy_yuan) as energy_yuan,
        sum(bills.basic_yuan) as basic_yuan,
        sum(bills.pf_adj_yuan) as pf_adj_yuan,
        sum(bills.fund_yuan) as fund_yuan,
        sum(bills.items_yuan) as total_yuan,
        sum(coalesce(energy_periods.energy_kwh, 0)) as energy_kwh,
        sum(coalesce(energy_periods.peak_kwh, 0)) as peak_kwh,
        sum(coalesce(energy_periods.valley_kwh, 0)) as valley_kwh
    from bills
    left join energy_periods on bills.bill_id = energy_periods.bill_id
    group by bills.billing_month, bills.org_no, bills.elec_type, bills.voltage
),

final as (
    select
        month,
        org_no,
        elec_type,
        voltage,
        billed_kwh,
        energy_yuan,
        basic_yuan,
        pf_adj_yuan,
        fund_yuan,
        total_yuan,
        energy_kwh,
        case when billed_kwh <> 0 then total_yuan / billed_kwh end as avg_price_yuan_per_kwh,
        case when billed_kwh <> 0 then (total_yuan - fund_yuan) / billed_kwh end as avg_price_ex_fund_yuan_per_kwh,
        case when total_yuan <> 0 then energy_yuan / total_yuan end as energy_share,
        case when total_yuan <> 0 then basic_yuan / total_yuan end as basic_share,
        case when total_yuan <> 0 then pf_adj_yuan / total_yuan end as pf_adj_share,
        case when total_yuan <> 0 then fund_yuan / total_yuan end as fund_share,
        case when energy_kwh <> 0 then peak_kwh / energy_kwh end as peak_kwh_share,
        case when energy_kwh <> 0 then valley_kwh / energy_kwh end as valley_kwh_share
    from grouped
)

select
    month,
    org_no,
    elec_type,
    voltage,
    cast(billed_kwh as decimal(18, 2)) as billed_kwh,
    cast(energy_kwh as decimal(18, 2)) as energy_kwh,
    cast(energy_yuan as decimal(18, 2)) as energy_yuan,
    cast(basic_yuan as decimal(18, 2)) as basic_yuan,
    cast(pf_adj_yuan as decimal(18, 2)) as pf_adj_yuan,
    cast(fund_yuan as decimal(18, 2)) as fund_yuan,
    cast(total_yuan as decimal(18, 2)) as total_yuan,
    cast(avg_price_yuan_per_kwh as decimal(18, 6)) as avg_price_yuan_per_kwh,
    cast(avg_price_ex_fund_yuan_per_kwh as decimal(18, 6)) as avg_price_ex_fund_yuan_per_kwh,
    cast(energy_share as double) as energy_share,
    cast(basic_share as double) as basic_share,
    cast(pf_adj_share as double) as pf_adj_share,
    cast(fund_share as double) as fund_share,
    cast(peak_kwh_share as double) as peak_kwh_share,
    cast(valley_kwh_share as double) as valley_kwh_share,
    {{ build_stamp() }} as _loaded_at
from final
