-- One row per transformer area (台区) with its supply station and capacity.
with areas as (
    select * from {{ ref('stg_marketing__orgs') }}
    where tg_id is not null
)

select
    areas.tg_id,
    areas.tg_name,
    areas.org_no,
    areas.tg_capacity_kva
from areas
