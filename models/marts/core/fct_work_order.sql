-- One row per 95598 work order (工单), its latest delivery (finished and rated orders replace
-- their open version). No free text (content is personal data). Customer attributes of the end
-- of the accept month; `org_no` is the unit responsible (a station or a county).
with orders as (
    select * from {{ ref('stg_marketing__work_orders') }}
),

data_date as (
    select as_of_date from {{ ref('int_data_date') }}
)

select
    orders.order_id,
    orders.cons_no,
    attributes.customer_sk,
    orders.accept_time,
    cast({{ dbt.date_trunc('month', 'orders.accept_time') }} as date) as accept_month,
    orders.channel,
    orders.order_type,
    orders.category_l1,
    orders.category_l2,
    orders.org_no,
    attributes.org_no as customer_org_no,
    attributes.tg_id,
    attributes.elec_type,
    orders.deadline_time,
    orders.finish_time,
    orders.is_repeat,
    orders.is_escalated,
    orders.satisfaction,
    -- closed: finish_time set, on or before the data date
    orders.finish_time is not null
        and cast(orders.finish_time as date) <= (select as_of_date from data_date) as is_closed,
    orders.finish_time is not null
        and cast(orders.finish_time as date) <= (select as_of_date from data_date)
        and orders.finish_time <= orders.deadline_time as is_closed_on_time,
    case when orders.finish_time is not null
        then {{ dbt.datediff('orders.accept_time', 'orders.finish_time', 'second') }} / 3600.0 end as handle_hours
from orders
{{ join_version_at_month_end('attributes', 'orders.cons_no', "cast(" ~ dbt.date_trunc('month', 'orders.accept_time') ~ " as date)") }}
