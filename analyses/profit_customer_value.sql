-- 客户价值: how many customers and how much of the year's profit sit in each ABC class, and how
-- many of the A customers have not paid recently (r_score 1–2)?
select
    abc_class,
    count(*) as customers,
    sum(profit_yuan) as profit_yuan,
    sum(revenue_yuan) as revenue_yuan,
    sum(case when r_score <= 2 then 1 else 0 end) as customers_paying_late
from {{ ref('customer_value') }}
group by abc_class
order by abc_class
