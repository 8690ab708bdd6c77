-- tariff is a full snapshot on change: the latest loaded partition is the whole truth.
with source as (
    select * from {{ source('raw', 'tariff') }}
    where _business_date = (select max(_business_date) from {{ source('raw', 'tariff') }})
),

renamed as (
    select
        {{ normalize_code('tariff_code') }} as tariff_code,
        {{ normalize_code('elec_type') }} as elec_type,
        {{ normalize_code('voltage') }} as voltage,
        {{ normalize_code('component') }} as component,
        coalesce({{ normalize_code('tou_period') }}, 'ALL') as tou_period,
        coalesce({{ to_int('tier') }}, 1) as tier,
        coalesce({{ to_decimal('tier_floor_kwh', 12, 2) }}, 0) as tier_floor_kwh,
        {{ clean_text('fund_name') }} as fund_name,
        {{ to_decimal('price', 12, 6) }} as price,
        {{ to_date('valid_from') }} as valid_from,
        {{ to_date('valid_to') }} as valid_to,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['tariff_code', 'component', 'tou_period', 'tier', 'fund_name', 'valid_from']) }}
)

select
    tariff_code, elec_type, voltage, component, tou_period, tier, tier_floor_kwh, fund_name, price,
    valid_from, valid_to, _business_date
from deduped
