-- 利润贡献: which stations earn the most after energy and cost shares, month by month, and how
-- many of their billed customers lose money?
select
    month,
    org_no,
    count(*) as customers,
    sum(revenue_yuan) as revenue_yuan,
    sum(energy_cost_yuan) as energy_cost_yuan,
    sum(profit_yuan) as profit_yuan,
    sum(case when profit_yuan < 0 then 1 else 0 end) as loss_making_customers
from {{ ref('customer_profit_monthly') }}
group by month, org_no
order by month, profit_yuan desc
