-- Question (满意度与停电、投诉): in station-months with outages or complaints, is satisfaction
-- lower than in the station's quiet months?
with quality as (
    select * from {{ ref('service_quality_monthly') }}
)

select
    org_no,
    case when outage_events > 0 or complaints > 0 then 'outage or complaint' else 'quiet' end as month_kind,
    count(*) as station_months,
    avg(satisfaction_index) as mean_satisfaction_index,
    avg(saidi_hours) as mean_saidi_hours,
    avg(complaints_per_10k_customers) as mean_complaints_per_10k_customers
from quality
where surveys > 0
group by org_no, month_kind
order by org_no, month_kind
