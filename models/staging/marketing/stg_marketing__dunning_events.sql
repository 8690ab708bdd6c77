with source as (
    select * from {{ source('raw', 'dunning') }}
),

renamed as (
    select
        {{ clean_text('event_id') }} as event_id,
        {{ clean_text('cons_no') }} as cons_no,
        {{ clean_text('bill_id') }} as bill_id,
        {{ normalize_code('event_type') }} as event_type,
        {{ parse_ts('event_time') }} as event_time,
        {{ clean_text('operator') }} as operator,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['event_id']) }}
)

select event_id, cons_no, bill_id, event_type, event_time, operator, _business_date
from deduped
