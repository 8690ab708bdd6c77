-- depends_on: {{ ref('base_marketing__customers') }}
-- One row per customer × billing month of metered consumption: kWh as the billing system
-- computed it (multiplier and register roll-over applied), in total and by period, whether any
-- reading was estimated, the maximum demand and reactive energy.
-- Incremental: a nightly run re-aggregates only the customer-months touched by reading
-- partitions loaded since the last build, from the readings in force (stg_marketing__readings:
-- the latest delivery of each reading_id). A customer whose master changed keeps its measures
-- (its readings did not change) and takes the customer_sk of the version now in force: a night
-- re-attributes those rows from this table instead of scanning every reading for them.
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['cons_no', 'billing_month'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with touched as (
    -- the changed partitions: a literal date list pushed into the raw scan (macros/incremental.sql)
    select distinct cons_no, billing_month
    from {{ ref('base_marketing__readings') }}
    where {{ partition_filter('_business_date', 'reading') }}
),

-- the readings in force (latest delivery per reading_id) of the touched customer-months: the
-- deduplicated staging table, so a night joins a table instead of cleaning every delivered row
readings as (
    select stg.*
    from {{ ref('stg_marketing__readings') }} as stg
    {%- if is_incremental() %}
    inner join touched on stg.cons_no = touched.cons_no and stg.billing_month = touched.billing_month
    {%- endif %}
    -- a whole build reads every reading in force: each is a delivered row, so every customer-month
    -- is touched, and the join would only cost a distinct over all delivered readings
),

loaded as (
    select max(loaded_at) as _loaded_at from {{ ref('stg_meta__partitions') }} where extract = 'reading'
),

measures as (
    select
        readings.cons_no,
        readings.billing_month,
        cast(sum(readings.kwh) as decimal(18, 2)) as kwh,
        cast(sum(case when readings.tou_period = 'SHARP' then readings.kwh else 0 end) as decimal(18, 2)) as sharp_kwh,
        cast(sum(case when readings.tou_period = 'PEAK' then readings.kwh else 0 end) as decimal(18, 2)) as peak_kwh,
        cast(sum(case when readings.tou_period = 'FLAT' then readings.kwh else 0 end) as decimal(18, 2)) as flat_kwh,
        cast(sum(case when readings.tou_period = 'VALLEY' then readings.kwh else 0 end) as decimal(18, 2)) as valley_kwh,
        cast(sum(case when readings.tou_period = 'ALL' then readings.kwh else 0 end) as decimal(18, 2)) as all_day_kwh,
        bool_or(readings.is_estimated) as is_estimated,
        cast(max(readings.max_demand_kw) as decimal(18, 2)) as max_demand_kw,
        cast(sum(readings.kvarh) as decimal(18, 2)) as kvarh,
        count(*) as readings,
        max(readings.read_date) as read_date
    from readings
    group by readings.cons_no, readings.billing_month
    {%- if is_incremental() and has_changed_partitions('cust') %}
    union all
    -- customers whose master changed, in the months no reading partition touched tonight: the
    -- measures as built, to be attributed afresh
    select
        cons_no, billing_month, kwh, sharp_kwh, peak_kwh, flat_kwh, valley_kwh, all_day_kwh,
        is_estimated, max_demand_kw, kvarh, readings, read_date
    from {{ this }} as built
    where built.cons_no in ({{ changed_customers() }})
        and not exists (
            select 1 from touched
            where touched.cons_no = built.cons_no and touched.billing_month = built.billing_month
        )
    {%- endif %}
),

attributes as (
    select month, cons_no, customer_sk from {{ ref('int_customer_months') }}
)

select
    measures.cons_no,
    measures.billing_month,
    attributes.customer_sk,
    measures.kwh,
    measures.sharp_kwh,
    measures.peak_kwh,
    measures.flat_kwh,
    measures.valley_kwh,
    measures.all_day_kwh,
    measures.is_estimated,
    measures.max_demand_kw,
    measures.kvarh,
    measures.readings,
    measures.read_date,
    (select _loaded_at from loaded) as _loaded_at
from measures
left join attributes on measures.cons_no = attributes.cons_no and measures.billing_month = attributes.month
