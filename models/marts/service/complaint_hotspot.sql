-- 投诉热点: complaints of the last 12 months at the data date ((D − 12 months, D], by accept
-- date) per 10 000 customers, for every transformer area and every station, ranked within each
-- level. A complaint is placed where the complaining customer is: the customer's station and
-- transformer area in force at the end of the accept month (complaint_monthly keeps the unit
-- responsible instead, which may be a county). Complaints from callers who are not customers
-- have no place and are left out; dedicated-line customers count for their station only.
-- Denominator: customers ACTIVE at the data date with open_date ≤ the data date.
with orders as (
    select * from {{ ref('fct_work_order') }}
    where order_type = 'COMPLAINT'
),

customers as (
    select * from {{ ref('int_customers_as_of') }}
),

data_date as (
    select * from {{ ref('int_data_date') }}
),

areas as (
    select * from {{ ref('dim_transformer_area') }}
),

stations as (
    select * from {{ ref('dim_org') }}
    where org_level = 3
),

window_complaints as (
    select orders.*
    from orders
    cross join data_date
    where cast(orders.accept_time as date) <= data_date.as_of_date
        and cast(orders.accept_time as date) > cast({{ dbt.dateadd('month', -12, 'data_date.as_of_date') }} as date)
        and orders.customer_org_no is not null
),

active as (
    select customers.*
    from customers
    where customers.status = 'ACTIVE' and customers.open_date <= customers.as_of_date
),

area_units as (
    select tg_id, org_no from areas
    union
    select tg_id, customer_org_no as org_no from window_complaints where tg_id is not null
    union
    select tg_id, org_no from active where tg_id is not null
),

station_units as (
    select org_no from stations
    union
    select customer_org_no as org_no from window_complaints
    union
    select org_no from active where org_no is not null
),

area_complaints as (
    select
        tg_id,
        count(*) as complaints,
        sum(case when is_repeat then 1 else 0 end) as repeat_complaints,
        sum(case when is_escalated then 1 else 0 end) as escalated
    from window_complaints
    where tg_id is not null
    group by tg_id
),

station_complaints as (
    select
        customer_org_no as org_no,
        count(*) as complaints,
        sum(case when is_repeat then 1 else 0 end) as repeat_complaints,
        sum(case when is_escalated then 1 else 0 end) as escalated
    from window_complaints
    group by customer_org_no
),

area_customers as (
    select tg_id, count(*) as active_customers from active where tg_id is not null group by tg_id
),

station_customers as (
    select org_no, count(*) as active_customers from active group by org_no
),

area_figures as (
    select
        'TRANSFORMER_AREA' as unit_level,
        area_units.org_no,
        area_units.tg_id,
        coalesce(area_complaints.complaints, 0) as complaints,
        coalesce(area_complaints.repeat_complaints, 0) as repeat_complaints,
        coalesce(area_complaints.escalated, 0) as escalated,
        coalesce(area_customers.active_customers, 0) as active_customers
    from area_units
    left join area_complaints on area_units.tg_id = area_complaints.tg_id
    left join area_customers on area_units.tg_id = area_customers.tg_id
),

station_figures as (
    select
        'STATION' as unit_level,
        station_units.org_no,
        cast(null as {{ dbt.type_string() }}) as tg_id,
        coalesce(station_complaints.complaints, 0) as complaints,
        coalesce(station_complaints.repeat_complaints, 0) as repeat_complaints,
        coalesce(station_complaints.escalated, 0) as escalated,
        coalesce(station_customers.active_customers, 0) as active_customers
    from station_units
    left join station_complaints on station_units.org_no = station_complaints.org_no
    left join station_customers on station_units.org_no = station_customers.org_no
),

unioned as (
    select * from area_figures
    union all
    select * from station_figures
),

rated as (
    select
        unioned.*,
        cast(unioned.complaints as double) * 10000 / nullif(unioned.active_customers, 0)
            as complaints_per_10k_customers
    from unioned
),

final as (
    select
        data_date.as_of_date,
        rated.unit_level,
        rated.org_no,
        rated.tg_id,
        rated.complaints,
        rated.repeat_complaints,
        rated.escalated,
        rated.active_customers,
        rated.complaints_per_10k_customers,
        row_number() over (
            partition by rated.unit_level
            order by
                case when rated.complaints_per_10k_customers is null then 1 else 0 end,
                rated.complaints_per_10k_customers desc,
                rated.complaints desc,
                coalesce(rated.tg_id, rated.org_no)
        ) as hotspot_rank
    from rated
    cross join data_date
)

select
    as_of_date,
    unit_level,
    org_no,
    tg_id,
    cast(complaints as {{ dbt.type_bigint() }}) as complaints,
    cast(repeat_complaints as {{ dbt.type_bigint() }}) as repeat_complaints,
    cast(escalated as {{ dbt.type_bigint() }}) as escalated,
    cast(active_customers as {{ dbt.type_bigint() }}) as active_customers,
    cast(complaints_per_10k_customers as double) as complaints_per_10k_customers,
    cast(hotspot_rank as {{ dbt.type_bigint() }}) as hotspot_rank
from final
