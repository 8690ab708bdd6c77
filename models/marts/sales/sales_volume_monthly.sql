-- 售电量: billed energy and amount per billing month × station × elec_type × voltage × industry
-- section, with the same group's figure a year earlier. Every bill counts in its billing_month
-- (an ADJUST bill restates the month it corrects) under the customer's attributes in force at
-- that month end.
-- Incremental: a night re-aggregates whole the months whose bills changed and the months a
-- year later (their year-on-year figures read them): macros/batches.sql, sales_batch_months, the
-- months int_sales_customer_months re-derives; a redelivered bill, bill_item or cust partition
-- rebuilds it whole.
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('base_marketing__bill_items') }}
-- depends_on: {{ ref('base_marketing__customers') }}
-- depends_on: {{ ref('stg_marketing__bills') }}
-- depends_on: {{ ref('fct_bill_line') }}
-- depends_on: {{ ref('int_customer_versions') }}
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
    -- the batch's months and the year before them (the year-earlier join reads them)
    {{ where_batch_months_and_year_before('billing_month', extracts) }}
),

grouped as (
    select
        billing_month as month,
        org_no,
        elec_type,
        voltage,
        industry_section,
        count(distinct cons_no) as customers_billed,
        sum(kwh) as sales_kwh,
        sum(amount_yuan) as amount_yuan
    from bills
    group by billing_month, org_no, elec_type, voltage, industry_section
),

final as (
    select
        grouped.month,
        grouped.org_no,
        grouped.elec_type,
        grouped.voltage,
        grouped.industry_section,
        grouped.customers_billed,
        grouped.sales_kwh,
        grouped.amount_yuan,
        year_earlier.sales_kwh as sales_kwh_prev_year,
        case when year_earlier.sales_kwh <> 0
            then grouped.sales_kwh / year_earlier.sales_kwh - 1 end as sales_kwh_yoy_rate
    from grouped
    left join grouped as year_earlier
        on year_earlier.month = cast({{ dbt.dateadd('month', -12, 'grouped.month') }} as date)
        and year_earlier.org_no is not distinct from grouped.org_no
        and year_earlier.elec_type is not distinct from grouped.elec_type
        and year_earlier.voltage is not distinct from grouped.voltage
        and year_earlier.industry_section is not distinct from grouped.industry_section
)

select
    month,
    org_no,
    elec_type,
    voltage,
    industry_section,
    cast(customers_billed as {{ dbt.type_int() }}) as customers_billed,
    cast(sales_kwh as decimal(18, 2)) as sales_kwh,
    cast(amount_yuan as decimal(18, 2)) as amount_yuan,
    cast(sales_kwh_prev_year as decimal(18, 2)) as sales_kwh_prev_year,
    cast(sales_kwh_yoy_rate as double) as sales_kwh_yoy_rate,
    {{ build_stamp() }} as _loaded_at
from final
where true{{ in_key_batch('month', extracts) }}
