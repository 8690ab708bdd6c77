-- One row per outage event (停电事件), its latest delivery. The station is the transformer
-- area's, or for a dedicated-line customer the customer's (at the end of the start month).
with outages as (
    select * from {{ ref('stg_marketing__outages') }}
),

areas as (
    select tg_id, org_no from {{ ref('dim_transformer_area') }}
)

select
    outages.event_id,
    outages.outage_type,
    outages.tg_id,
    outages.cons_no,
    attributes.customer_sk,
    coalesce(areas.org_no, attributes.org_no) as org_no,
    outages.start_time,
    outages.end_time,
    cast({{ dbt.date_trunc('month', 'outages.start_time') }} as date) as start_month,
    {{ dbt.datediff('outages.start_time', 'outages.end_time', 'second') }} / 3600.0 as duration_hours,
    outages.customers_affected,
    outages.is_notified_in_advance
from outages
left join areas on outages.tg_id = areas.tg_id
{{ join_version_at_month_end('attributes', 'outages.cons_no', "cast(" ~ dbt.date_trunc('month', 'outages.start_time') ~ " as date)") }}
