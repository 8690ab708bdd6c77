-- 停电: month of start × station × outage_type (METRICS.md §10); figures from
-- int_service_outage_figures.
with figures as (
    select * from {{ ref('int_service_outage_figures') }}
    where grain = 'OUTAGE_TYPE'
),

final as (
    select
        month,
        org_no,
        outage_type,
        events,
        open_events,
        notified_events,
        customers_affected,
        customer_hours,
        active_customers,
        saidi_hours,
        saifi,
        notified_share
    from figures
)

select
    month,
    org_no,
    outage_type,
    events,
    open_events,
    notified_events,
    customers_affected,
    customer_hours,
    active_customers,
    saidi_hours,
    saifi,
    notified_share
from final
