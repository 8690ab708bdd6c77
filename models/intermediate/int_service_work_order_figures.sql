-- One row per accept month × responsible unit (org_no: a station, a county or the company) ×
-- order type, at two grains: `grain` = 'CATEGORY' (× category_l1 × category_l2, the rows of
-- work_order_monthly and complaint_monthly) and 'ORDER_TYPE' (all categories together, the
-- rows service_quality_monthly takes per station-month). Every work-order figure of
-- METRICS.md §9 is computed here, once:
-- closed = finish_time set on or before the data date; closed_on_time = closed and
-- finish ≤ deadline; avg_handle_hours over the closed ones; satisfied_rate = SATISFIED among
-- the orders with a verdict; per-10k over the active customers of the unit's subtree.
with orders as (
    -- an order without an accept time belongs to no month
    select * from {{ ref('fct_work_order') }}
    where accept_time is not null
),

active_customers as (
    select * from {{ ref('int_service_active_customers') }}
),

grouped as (
    select
        orders.accept_month as month,
        orders.org_no,
        orders.order_type,
        orders.category_l1,
        orders.category_l2,
        case when grouping(orders.category_l1) = 1 then 'ORDER_TYPE' else 'CATEGORY' end as grain,
        count(*) as orders,
        sum(case when orders.is_repeat then 1 else 0 end) as repeat_orders,
        sum(case when orders.is_escalated then 1 else 0 end) as escalated,
        sum(case when orders.is_closed then 1 else 0 end) as closed,
        sum(case when orders.is_closed_on_time then 1 else 0 end) as closed_on_time,
        avg(case when orders.is_closed then orders.handle_hours end) as avg_handle_hours,
        sum(case when orders.satisfaction is not null then 1 else 0 end) as rated,
        sum(case when orders.satisfaction = 'SATISFIED' then 1 else 0 end) as satisfied
    from orders
    group by grouping sets (
        (orders.accept_month, orders.org_no, orders.order_type, orders.category_l1, orders.category_l2),
        (orders.accept_month, orders.org_no, orders.order_type)
    )
)

select
    grouped.month,
    grouped.org_no,
    grouped.order_type,
    grouped.category_l1,
    grouped.category_l2,
    grouped.grain,
    cast(grouped.orders as {{ dbt.type_bigint() }}) as orders,
    cast(grouped.repeat_orders as {{ dbt.type_bigint() }}) as repeat_orders,
    cast(grouped.escalated as {{ dbt.type_bigint() }}) as escalated,
    cast(grouped.closed as {{ dbt.type_bigint() }}) as closed,
    cast(grouped.closed_on_time as {{ dbt.type_bigint() }}) as closed_on_time,
    cast(grouped.avg_handle_hours as double) as avg_handle_hours,
    cast(grouped.rated as {{ dbt.type_bigint() }}) as rated,
    cast(grouped.satisfied as {{ dbt.type_bigint() }}) as satisfied,
    cast(grouped.satisfied as double) / nullif(grouped.rated, 0) as satisfied_rate,
    active_customers.active_customers,
    cast(grouped.orders as double) * 10000 / nullif(active_customers.active_customers, 0)
        as orders_per_10k_customers
from grouped
left join active_customers
    on grouped.month = active_customers.month
    and grouped.org_no = active_customers.org_no
