-- One row per tariff × component × period × tier × fund × validity, from the latest tariff
-- snapshot. valid_to is the last day a price applies (inclusive), NULL = open.
with tariffs as (
    select * from {{ ref('stg_marketing__tariffs') }}
)

select
    {{ dbt.hash("tariff_code || '|' || component || '|' || tou_period || '|' || cast(tier as " ~ dbt.type_string() ~ ") || '|' || coalesce(fund_name, '') || '|' || cast(valid_from as " ~ dbt.type_string() ~ ")") }} as tariff_sk,
    tariff_code,
    elec_type,
    voltage,
    component,
    tou_period,
    tier,
    tier_floor_kwh,
    fund_name,
    price as price_yuan,
    valid_from,
    valid_to
from tariffs
