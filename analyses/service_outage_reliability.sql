-- Question (供电可靠性): which stations lose the most customer hours, by outage type, and how many
-- planned outages were announced in advance?
select
    org_no,
    outage_type,
    sum(events) as events,
    sum(customer_hours) as customer_hours,
    sum(saidi_hours) as saidi_hours_summed_over_months,
    sum(saifi) as saifi_summed_over_months,
    sum(notified_events) * 1.0 / nullif(sum(events), 0) as notified_share
from {{ ref('outage_monthly') }}
group by org_no, outage_type
order by saidi_hours_summed_over_months desc, org_no, outage_type
