-- Outage events are redelivered whole when they change: the latest delivery wins.
with source as (
    select * from {{ source('raw', 'outage') }}
),

renamed as (
    select
        {{ clean_text('event_id') }} as event_id,
        {{ normalize_code('outage_type') }} as outage_type,
        {{ clean_text('tg_id') }} as tg_id,
        {{ clean_text('cons_no') }} as cons_no,
        {{ parse_ts('start_time') }} as start_time,
        {{ parse_ts('end_time') }} as end_time,
        {{ to_int('customers_affected') }} as customers_affected,
        coalesce({{ yes_no('notified_in_advance') }}, false) as is_notified_in_advance,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['event_id']) }}
)

select
    event_id, outage_type, tg_id, cons_no, start_time, end_time, customers_affected, is_notified_in_advance,
    _business_date
from deduped
