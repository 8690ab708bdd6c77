{{ config(materialized='view') }}
-- Satisfaction, complaints and outages side by side per station-month, on the keys the three
-- marts share (month × org_no), so analysts can relate them. Every figure is taken from the
-- station-level rows of the int_service_* figure models, where it is computed once; a
-- station-month without complaints or outages shows 0 (NULL when the station has no active
-- customers), one without surveys NULL scores. Complaints are those whose responsible unit is
-- the station; complaints a county handles stay in complaint_monthly.
with orgs as (
    select * from {{ ref('dim_org') }}
    where org_level = 3
),

months as (
    select month from {{ ref('int_months') }}
),

active_customers as (
    select * from {{ ref('int_service_active_customers') }}
),

complaints as (
    select * from {{ ref('int_service_work_order_figures') }}
    where grain = 'ORDER_TYPE' and order_type = 'COMPLAINT'
),

surveys as (
    select * from {{ ref('int_service_survey_figures') }}
    where grain = 'STATION'
),

outages as (
    select * from {{ ref('int_service_outage_figures') }}
    where grain = 'STATION'
),

station_months as (
    select months.month, orgs.org_no, orgs.county_org_no
    from orgs
    cross join months
),

final as (
    select
        station_months.month,
        station_months.org_no,
        station_months.county_org_no,
        coalesce(active_customers.active_customers, 0) as active_customers,
        coalesce(complaints.orders, 0) as complaints,
        coalesce(complaints.closed, 0) as complaints_closed,
        coalesce(complaints.closed_on_time, 0) as complaints_closed_on_time,
        coalesce(
            complaints.orders_per_10k_customers,
            case when active_customers.active_customers > 0 then 0 end
        ) as complaints_per_10k_customers,
        complaints.satisfied_rate as complaint_satisfied_rate,
        coalesce(surveys.surveys, 0) as surveys,
        surveys.avg_score_overall,
        surveys.satisfaction_index,
        surveys.satisfied_share,
        coalesce(outages.events, 0) as outage_events,
        coalesce(outages.customer_hours, 0) as customer_hours,
        coalesce(outages.saidi_hours, case when active_customers.active_customers > 0 then 0 end) as saidi_hours,
        coalesce(outages.saifi, case when active_customers.active_customers > 0 then 0 end) as saifi,
        outages.notified_share
    from station_months
    left join active_customers
        on station_months.month = active_customers.month
        and station_months.org_no = active_customers.org_no
    left join complaints
        on station_months.month = complaints.month
        and station_months.org_no = complaints.org_no
    left join surveys
        on station_months.month = surveys.month
        and station_months.org_no = surveys.org_no
    left join outages
        on station_months.month = outages.month
        and station_months.org_no = outages.org_no
)

select
    month,
    org_no,
    county_org_no,
    cast(active_customers as {{ dbt.type_bigint() }}) as active_customers,
    cast(complaints as {{ dbt.type_bigint() }}) as complaints,
    cast(complaints_closed as {{ dbt.type_bigint() }}) as complaints_closed,
    cast(complaints_closed_on_time as {{ dbt.type_bigint() }}) as complaints_closed_on_time,
    cast(complaints_per_10k_customers as double) as complaints_per_10k_customers,
    cast(complaint_satisfied_rate as double) as complaint_satisfied_rate,
    cast(surveys as {{ dbt.type_bigint() }}) as surveys,
    cast(avg_score_overall as double) as avg_score_overall,
    cast(satisfaction_index as double) as satisfaction_index,
    cast(satisfied_share as double) as satisfied_share,
    cast(outage_events as {{ dbt.type_bigint() }}) as outage_events,
    cast(customer_hours as double) as customer_hours,
    cast(saidi_hours as double) as saidi_hours,
    cast(saifi as double) as saifi,
    cast(notified_share as double) as notified_share
from final
