-- Question (投诉分析): which units and complaint categories drive complaints over the last 12
-- months, how well they are closed on time, and how customers rate the replies?
with complaints as (
    select * from {{ ref('complaint_monthly') }}
),

data_date as (
    select as_of_date from {{ ref('int_data_date') }}
)

select
    complaints.org_no,
    complaints.category_l1,
    sum(complaints.complaints) as complaints,
    sum(complaints.repeat_complaints) as repeat_complaints,
    sum(complaints.escalated) as escalated,
    sum(complaints.closed_on_time) * 1.0 / nullif(sum(complaints.closed), 0) as on_time_share,
    -- satisfied_rate is NULL only where nothing was rated, so rated weights it back to counts
    sum(coalesce(complaints.satisfied_rate, 0) * complaints.rated) / nullif(sum(complaints.rated), 0) as satisfied_rate
from complaints
cross join data_date
where complaints.month > {{ dbt.dateadd('month', -12, dbt.date_trunc('month', 'data_date.as_of_date')) }}
group by complaints.org_no, complaints.category_l1
order by complaints desc, complaints.org_no, complaints.category_l1
