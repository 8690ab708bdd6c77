-- 投诉分析: complaints per category over the last 12 months, rate per 10 000 customers (company level),
-- on-time closing and satisfaction.
with last12 as (
    select * from marts.complaint_monthly
    where month > (select max(month) from marts.complaint_monthly) - interval 12 month
),
base as (  -- the company's active customers per month: the stations' denominators summed
    select month, sum(active_customers) as active_customers
    from (select distinct month, org_no, active_customers
          from marts.service_quality_monthly) as s
    group by month
)
select
    c.category_l1,
    d.name_zh,
    sum(c.complaints) as complaints,
    sum(c.repeat_complaints) as repeat_complaints,
    sum(c.escalated) as escalated,
    sum(c.closed_on_time) / nullif(sum(c.closed), 0) as closed_on_time_share,
    sum(c.satisfied_rate * c.rated) / nullif(sum(c.rated), 0) as satisfied_rate,
    10000.0 * sum(c.complaints) / nullif((select avg(active_customers) from base
                                           where month in (select month from last12)), 0) / 12
        as complaints_per_10k_customers_per_month
from last12 c
left join core.dim_complaint_category d using (category_l1)
group by all
order by complaints desc
