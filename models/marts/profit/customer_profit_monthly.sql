-- 利润贡献: revenue, energy cost, margin, cost shares and profit per customer × billing month.
-- Bills count in their billing_month (an ADJUST bill restates the month it corrects); the
-- station, elec_type and capacity are the customer's version in force at that month end.
-- Incremental: a night re-derives only the months whose bills or station costs changed
-- (macros/batches.sql, profit_batch_months), each month whole (its costs are shared among the
-- station's customers); a redelivered bill, bill_item, cust or cost partition, or any tariff
-- change, rebuilds it whole.
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('base_marketing__bill_items') }}
-- depends_on: {{ ref('base_marketing__customers') }}
-- depends_on: {{ ref('stg_marketing__bills') }}
-- depends_on: {{ ref('fct_bill_line') }}
{%- set extracts = ['bill', 'bill_item', 'cust', 'cost'] %}
{%- set any_change = ['tariff'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ prepare_key_batch('month', profit_batch_months(), ['bill', 'bill_item', 'cust', 'cost'], ['tariff']) }}",
    post_hook="{{ drop_key_batch() }}",
) }}
with bills as (
    select * from {{ ref('fct_bill') }}
    where true{{ in_key_batch('month', extracts, any_change, column='billing_month') }}
),

customer_months as (
    select * from {{ ref('int_sales_customer_months') }}
    where true{{ in_key_batch('month', extracts, any_change) }}
),

cost_prices as (
    select * from {{ ref('int_tariff_cost_prices') }}
),

costs as (
    select * from {{ ref('stg_marketing__costs') }}
),

customer_versions as (
    select * from {{ ref('int_customer_versions') }}
),

energy_costs as (
    -- energy the company buys: Σ per bill of billed kWh × (PURCHASE + LOSS + SYSTEM) of the
    -- bill's tariff in force on the first day of the billing month, rounded per customer × month;
    -- TD is not a cost
    select
        bills.cons_no,
        bills.billing_month as month,
        {{ round_money('sum(bills.kwh * coalesce(cost_prices.energy_cost_yuan_per_kwh, 0))') }} as energy_cost_yuan
    from bills
    left join cost_prices
        on bills.tariff_code = cost_prices.tariff_code
        and bills.billing_month = cost_prices.month
    group by bills.cons_no, bills.billing_month
),

with_attributes as (
    select
        customer_months.cons_no,
        customer_months.month,
        customer_months.org_no,
        customer_months.elec_type,
        customer_months.contract_kva,
        customer_months.open_date,
        customer_months.kwh,
        customer_months.revenue_yuan,
        customer_months.has_normal_bill,
        customer_months.kwh_yoy_rate,
        energy_costs.energy_cost_yuan
    from customer_months
    inner join energy_costs
        on customer_months.cons_no = energy_costs.cons_no
        and customer_months.month = energy_costs.month
),

sharing_base as (
    -- the customers a station's costs of the month are shared among: those of the station (in
    -- force at month end) with a NORMAL bill in the month
    select
        org_no,
        month,
        count(*) as sharing_customers,
        sum(kwh) as sharing_kwh
    from with_attributes
    where has_normal_bill and org_no is not null
    group by org_no, month
),

cost_shares as (
    select
        with_attributes.cons_no,
        with_attributes.month,
        {{ round_money('costs.marketing_cost_yuan / sharing_base.sharing_customers') }} as marketing_cost_yuan,
        case
            when sharing_base.sharing_kwh = 0
                then {{ round_money('costs.operating_cost_yuan / sharing_base.sharing_customers') }}
            else {{ round_money('costs.operating_cost_yuan * with_attributes.kwh / sharing_base.sharing_kwh') }}
        end as operating_cost_yuan
    from with_attributes
    inner join sharing_base
        on with_attributes.org_no = sharing_base.org_no
        and with_attributes.month = sharing_base.month
    inner join costs
        on with_attributes.org_no = costs.org_no
        and with_attributes.month = costs.billing_month
    where with_attributes.has_normal_bill
),

capacity_year_earlier as (
    -- contracted kVA at the same month end a year earlier (the version in force then); the change
    -- is NULL when the customer (open_date of this month's version) opened after that month end
    select
        with_attributes.cons_no,
        with_attributes.month,
        customer_versions.contract_kva
    from with_attributes
    inner join customer_versions
        on with_attributes.cons_no = customer_versions.cons_no
        and customer_versions.effective_from < cast({{ dbt.dateadd('month', -11, 'with_attributes.month') }} as {{ dbt.type_timestamp() }})
        and (customer_versions.effective_to is null
            or customer_versions.effective_to >= cast({{ dbt.dateadd('month', -11, 'with_attributes.month') }} as {{ dbt.type_timestamp() }}))
),

final as (
    select
        with_attributes.cons_no,
        with_attributes.month,
        with_attributes.org_no,
        with_attributes.elec_type,
        cast(with_attributes.kwh as decimal(18, 2)) as kwh,
        cast(with_attributes.revenue_yuan as decimal(18, 2)) as revenue_yuan,
        with_attributes.energy_cost_yuan,
        cast(with_attributes.revenue_yuan - with_attributes.energy_cost_yuan as decimal(18, 2)) as margin_yuan,
        cast(coalesce(cost_shares.marketing_cost_yuan, 0) as decimal(18, 2)) as marketing_cost_yuan,
        cast(coalesce(cost_shares.operating_cost_yuan, 0) as decimal(18, 2)) as operating_cost_yuan,
        cast(
            with_attributes.revenue_yuan - with_attributes.energy_cost_yuan
            - coalesce(cost_shares.marketing_cost_yuan, 0) - coalesce(cost_shares.operating_cost_yuan, 0)
            as decimal(18, 2)
        ) as profit_yuan,
        with_attributes.kwh_yoy_rate,
        cast(case when with_attributes.open_date <= cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', -11, 'with_attributes.month')) }} as date)
            then with_attributes.contract_kva - capacity_year_earlier.contract_kva end as decimal(18, 2)) as contract_kva_change,
        with_attributes.has_normal_bill
    from with_attributes
    left join cost_shares
        on with_attributes.cons_no = cost_shares.cons_no
        and with_attributes.month = cost_shares.month
    left join capacity_year_earlier
        on with_attributes.cons_no = capacity_year_earlier.cons_no
        and with_attributes.month = capacity_year_earlier.month
)

select
    cons_no,
    month,
    org_no,
    elec_type,
    kwh,
    revenue_yuan,
    energy_cost_yuan,
    margin_yuan,
    marketing_cost_yuan,
    operating_cost_yuan,
    profit_yuan,
    kwh_yoy_rate,
    contract_kva_change,
    has_normal_bill,
    {{ build_stamp() }} as _loaded_at
from final
