-- 投诉分析: the COMPLAINT rows of work_order_monthly under the names of METRICS.md §9.
with work_orders as (
    select * from {{ ref('work_order_monthly') }}
    where order_type = 'COMPLAINT'
),

final as (
    select
        month,
        org_no,
        category_l1,
        category_l2,
        orders as complaints,
        repeat_orders as repeat_complaints,
        escalated,
        closed,
        closed_on_time,
        avg_handle_hours,
        rated,
        satisfied_rate,
        active_customers,
        orders_per_10k_customers as complaints_per_10k_customers
    from work_orders
)

select
    month,
    org_no,
    category_l1,
    category_l2,
    complaints,
    repeat_complaints,
    escalated,
    closed,
    closed_on_time,
    avg_handle_hours,
    rated,
    satisfied_rate,
    active_customers,
    complaints_per_10k_customers
from final
