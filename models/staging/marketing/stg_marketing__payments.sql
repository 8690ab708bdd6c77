with source as (
    select * from {{ source('raw', 'payment') }}
),

renamed as (
    select
        {{ clean_text('pay_id') }} as pay_id,
        {{ clean_text('cons_no') }} as cons_no,
        {{ clean_text('bill_id') }} as bill_id,
        {{ parse_ts('pay_time') }} as pay_time,
        {{ normalize_code('channel') }} as channel,
        coalesce({{ to_decimal('amount', 18, 2) }}, 0) as amount_yuan,
        coalesce({{ to_decimal('penalty_amount', 18, 2) }}, 0) as penalty_yuan,
        {{ clean_text('reversal_of') }} as reversal_of,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['pay_id']) }}
)

select pay_id, cons_no, bill_id, pay_time, channel, amount_yuan, penalty_yuan, reversal_of, _business_date
from deduped
