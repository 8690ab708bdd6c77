with renamed as (
    select * from {{ ref('base_marketing__readings') }}
),

deduped as (
    {{ latest_per_key('renamed', ['reading_id']) }}
)

select
    reading_id, cons_no, meter_id, billing_month, read_date, tou_period, start_reading, end_reading,
    multiplier, meter_digits, kwh, max_demand_kw, kvarh, is_estimated, _business_date
from deduped
