-- One row per customer × billing month of metered consumption: kWh as the billing system
-- computed it (multiplier and register roll-over applied), in total and by period, whether any
-- reading was estimated, the maximum demand and reactive energy.
with readings as (
    select * from {{ ref('stg_marketing__readings') }}
),

attributes as (
    select month, cons_no, customer_sk from {{ ref('int_customer_months') }}
)

select
    readings.cons_no,
    readings.billing_month,
    attributes.customer_sk,
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
left join attributes on readings.cons_no = attributes.cons_no and readings.billing_month = attributes.month
group by readings.cons_no, readings.billing_month, attributes.customer_sk
