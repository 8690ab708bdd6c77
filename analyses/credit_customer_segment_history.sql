-- 客户细分迁移: month by month, how many customers moved to a better or a worse segment (did the
-- retention offers and payment reminders work)?
select
    snapshot_date,
    sum(case when movement = 'UP' then customers else 0 end) as moved_up,
    sum(case when movement = 'DOWN' then customers else 0 end) as moved_down,
    sum(case when movement = 'SAME' then customers else 0 end) as stayed,
    sum(case when movement = 'NEW' then customers else 0 end) as new_customers,
    sum(case when movement = 'LEFT' then customers else 0 end) as left_customers
from {{ ref('customer_segment_history') }}
group by snapshot_date
order by snapshot_date
