-- Typed and cleaned rows of every loaded partition, duplicates and superseded deliveries
-- still in: the incremental facts read the changed partitions from here; the stg_ model
-- keeps the latest row per key.
with source as (
    select * from {{ source('raw', 'cust') }}
),

renamed as (
    select
        {{ clean_text('cons_no') }} as cons_no,
        {{ clean_text('cons_name') }} as cons_name,
        {{ clean_text('cert_no') }} as cert_no,
        {{ clean_text('mobile') }} as mobile,
        {{ clean_text('address') }} as address,
        {{ normalize_code('elec_type') }} as elec_type,
        {{ normalize_code('voltage') }} as voltage,
        {{ to_decimal('contract_kva', 12, 2) }} as contract_kva,
        {{ normalize_code('industry_code') }} as industry_code,
        {{ clean_text('org_no') }} as org_no,
        {{ clean_text('tg_id') }} as tg_id,
        {{ normalize_code('tariff_code') }} as tariff_code,
        coalesce({{ yes_no('is_key_account') }}, false) as is_key_account,
        {{ normalize_code('status') }} as status,
        {{ to_date('open_date') }} as open_date,
        {{ to_date('close_date') }} as close_date,
        {{ parse_ts('updated_at') }} as updated_at,
        _business_date,
        _record_no,
        _loaded_at
    from source
)

select * from renamed
