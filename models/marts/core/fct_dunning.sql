-- One row per arrears collection event (催费/停复电): SMS, NOTICE, DISCONNECT, RECONNECT.
with events as (
    select * from {{ ref('stg_marketing__dunning_events') }}
)

select
    events.event_id,
    events.cons_no,
    attributes.customer_sk,
    events.bill_id,
    events.event_type,
    events.event_time,
    cast(events.event_time as date) as event_date,
    attributes.org_no,
    attributes.elec_type
from events
{{ join_version_at_month_end('attributes', 'events.cons_no', "cast(" ~ dbt.date_trunc('month', 'events.event_time') ~ " as date)") }}
