-- Every 95598 order type with the counts of complaint_monthly (§9). Categories are NULL for the
-- order types that carry none (REPAIR, CONSULT, PRAISE, ...).
with figures as (
    select * from {{ ref('int_service_work_order_figures') }}
    where grain = 'CATEGORY'
),

final as (
    select
        month,
        org_no,
        order_type,
        category_l1,
        category_l2,
        orders,
        repeat_orders,
        escalated,
        closed,
        closed_on_time,
        avg_handle_hours,
        rated,
        satisfied_rate,
        active_customers,
        orders_per_10k_customers
    from figures
)

select
    month,
    org_no,
    order_type,
    category_l1,
    category_l2,
    orders,
    repeat_orders,
    escalated,
    closed,
    closed_on_time,
    avg_handle_hours,
    rated,
    satisfied_rate,
    active_customers,
    orders_per_10k_customers
from final
