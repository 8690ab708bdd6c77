-- Typed and cleaned rows of every loaded partition, duplicates and superseded deliveries
-- still in: the incremental facts read the changed partitions from here; the stg_ model
-- keeps the latest row per key.
-- `_raw_rowid` (DuckDB): the raw row's id, by which a whole build drops the superseded rows
-- (macros/cleaning.sql, latest_per_key_whole).
with renamed as (
    select
        {{ clean_text('bill_id') }} as bill_id,
        {{ to_int('item_no') }} as item_no,
        {{ normalize_code('item') }} as item,
        {{ normalize_code('tou_period') }} as tou_period,
        {{ to_int('tier') }} as tier,
        {{ clean_text('fund_name') }} as fund_name,
        {{ to_decimal('kwh', 18, 2) }} as quantity,
        {{ to_decimal('price', 18, 6) }} as price,
        {{ to_decimal('amount', 18, 2) }} as amount_yuan,
        _business_date,
        _record_no,
        _loaded_at
        {{- raw_rowid() }}
    from {{ source('raw', 'bill_item') }}
)

select * from renamed
