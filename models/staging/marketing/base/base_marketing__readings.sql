-- Typed and cleaned rows of every loaded partition, duplicates and superseded deliveries
-- still in: the incremental facts read the changed partitions from here; the stg_ model
-- keeps the latest row per key.
-- `_raw_rowid` (DuckDB): the raw row's id, by which a whole build drops the superseded rows
-- (macros/cleaning.sql, latest_per_key_whole).
with renamed as (
    select
        {{ clean_text('reading_id') }} as reading_id,
        {{ clean_text('cons_no') }} as cons_no,
        {{ clean_text('meter_id') }} as meter_id,
        {{ month_to_date('billing_month') }} as billing_month,
        {{ to_date('read_date') }} as read_date,
        coalesce({{ normalize_code('tou_period') }}, 'ALL') as tou_period,
        {{ to_decimal('start_reading', 14, 2) }} as start_reading,
        {{ to_decimal('end_reading', 14, 2) }} as end_reading,
        {{ to_int('multiplier') }} as multiplier,
        {{ to_int('meter_digits') }} as meter_digits,
        {{ to_decimal('kwh', 14, 2) }} as kwh,
        {{ to_decimal('max_demand_kw', 12, 2) }} as max_demand_kw,
        {{ to_decimal('kvarh', 14, 2) }} as kvarh,
        coalesce({{ yes_no('is_estimated') }}, false) as is_estimated,
        _business_date,
        _record_no,
        _loaded_at
        {{- raw_rowid() }}
    from {{ source('raw', 'reading') }}
)

select * from renamed
