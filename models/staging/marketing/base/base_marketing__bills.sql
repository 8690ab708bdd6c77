-- Typed and cleaned rows of every loaded partition, duplicates and superseded deliveries
-- still in: the incremental facts read the changed partitions from here; the stg_ model
-- keeps the latest row per key.
-- `_raw_rowid` (DuckDB): the raw row's id, by which a whole build drops the superseded rows
-- (macros/cleaning.sql, latest_per_key_whole).
with renamed as (
    select
        {{ clean_text('bill_id') }} as bill_id,
        {{ clean_text('cons_no') }} as cons_no,
        {{ month_to_date('billing_month') }} as billing_month,
        {{ normalize_code('bill_type') }} as bill_type,
        {{ clean_text('ref_bill_id') }} as ref_bill_id,
        {{ to_date('issue_date') }} as issue_date,
        {{ to_date('due_date') }} as due_date,
        {{ to_decimal('kwh', 18, 2) }} as kwh,
        {{ to_decimal('amount', 18, 2) }} as amount_yuan,
        {{ normalize_code('tariff_code') }} as tariff_code,
        _business_date,
        _record_no,
        _loaded_at
        {{- raw_rowid() }}
    from {{ source('raw', 'bill') }}
)

select * from renamed
