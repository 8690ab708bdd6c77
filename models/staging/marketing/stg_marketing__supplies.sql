with source as (
    select * from {{ source('raw', 'supply') }}
),

renamed as (
    select
        {{ clean_text('tg_id') }} as tg_id,
        {{ month_to_date('billing_month') }} as billing_month,
        {{ to_decimal('supply_kwh', 18, 2) }} as supply_kwh,
        coalesce({{ yes_no('is_estimated') }}, false) as is_estimated,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['tg_id', 'billing_month']) }}
)

select tg_id, billing_month, supply_kwh, is_estimated, _business_date
from deduped
