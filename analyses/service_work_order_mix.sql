-- Question (工单分析): what mix of 95598 order types does each unit handle per month, and how
-- many per 10 000 customers?
select
    month,
    org_no,
    order_type,
    sum(orders) as orders,
    sum(closed) as closed,
    -- every row of a unit-month has the same denominator (the unit's active customers)
    sum(orders) * 10000.0 / nullif(max(active_customers), 0) as orders_per_10k_customers
from {{ ref('work_order_monthly') }}
group by month, org_no, order_type
order by month, org_no, orders desc
