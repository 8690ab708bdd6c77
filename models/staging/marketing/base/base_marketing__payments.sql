-- Typed and cleaned rows of every loaded partition, duplicates and superseded deliveries
-- still in: the incremental facts read the changed partitions from here; the stg_ model
-- keeps the latest row per key.
-- `_raw_rowid` (DuckDB): the raw row's id, by which a whole build drops the superseded rows
-- (macros/cleaning.sql, latest_per_key_whole).
with renamed as (
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
        _record_no,
        _loaded_at
        {{- raw_rowid() }}
    from {{ source('raw', 'payment') }}
)

select * from renamed
