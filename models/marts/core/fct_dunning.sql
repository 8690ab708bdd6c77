-- One row per arrears collection event (催费/停复电): SMS, NOTICE, DISCONNECT, RECONNECT.
with events as (
    select * from {{ ref('stg_marketing__dunning_events') }}
),

attributes as (
    select month, cons_no, customer_sk, org_no, elec_type from {{ ref('int_customer_months') }}
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
left join attributes
    on events.cons_no = attributes.cons_no
    and cast({{ dbt.date_trunc('month', 'events.event_time') }} as date) = attributes.month
