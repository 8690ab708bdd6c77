-- 欠费排名: the five largest debtors of each station, how long they have owed and whether they
-- have been disconnected yet.
select
    org_no,
    arrears_rank,
    cons_no,
    cons_name,
    arrears_yuan,
    oldest_days_overdue,
    last_dunning_event_type,
    last_dunning_time
from {{ ref('arrears_top_customers') }}
where arrears_rank <= 5
order by org_no, arrears_rank
