-- One row per transformer area × billing month: supply volume from the area's gateway meter.
select
    supplies.tg_id,
    supplies.billing_month,
    areas.org_no,
    cast(supplies.supply_kwh as decimal(18, 2)) as supply_kwh,
    supplies.is_estimated
from {{ ref('stg_marketing__supplies') }} as supplies
left join {{ ref('dim_transformer_area') }} as areas on supplies.tg_id = areas.tg_id
