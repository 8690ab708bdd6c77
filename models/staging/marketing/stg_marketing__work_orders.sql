-- An order is delivered again, whole, whenever it changes: the latest delivery wins.
with source as (
    select * from {{ source('raw', 'workorder') }}
),

renamed as (
    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('cons_no') }} as cons_no,
        {{ parse_ts('accept_time') }} as accept_time,
        {{ normalize_code('channel') }} as channel,
        {{ normalize_code('order_type') }} as order_type,
        {{ normalize_code('category_l1') }} as category_l1,
        {{ clean_text('category_l2') }} as category_l2,
        {{ clean_text('org_no') }} as org_no,
        {{ clean_text('content') }} as content,
        {{ parse_ts('deadline_time') }} as deadline_time,
        {{ parse_ts('finish_time') }} as finish_time,
        coalesce({{ yes_no('is_repeat') }}, false) as is_repeat,
        coalesce({{ yes_no('is_escalated') }}, false) as is_escalated,
        {{ normalize_code('satisfaction') }} as satisfaction,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['order_id']) }}
)

select
    order_id, cons_no, accept_time, channel, order_type, category_l1, category_l2, org_no, content,
    deadline_time, finish_time, is_repeat, is_escalated, satisfaction, _business_date
from deduped
