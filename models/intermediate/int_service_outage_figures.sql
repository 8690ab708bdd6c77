-- One row per month of start × station × outage_type (`grain` = 'OUTAGE_TYPE', the rows of
-- outage_monthly) and per month × station (`grain` = 'STATION', every type together, for
-- service_quality_monthly). Every outage figure of METRICS.md §10 is computed here, once:
-- customer_hours = Σ customers affected × duration (hours); saidi_hours = customer_hours /
-- active customers of the station at that month end; saifi = Σ customers affected / the same
-- customers; notified_share = events notified in advance / events. An outage still open (no
-- end_time yet) counts as an event and in SAIFI but adds no customer hours until it ends.
with outages as (
    -- an outage without a start time belongs to no month
    select * from {{ ref('fct_outage') }}
    where start_time is not null
),

active_customers as (
    select * from {{ ref('int_service_active_customers') }}
),

grouped as (
    select
        outages.start_month as month,
        outages.org_no,
        outages.outage_type,
        case when grouping(outages.outage_type) = 1 then 'STATION' else 'OUTAGE_TYPE' end as grain,
        count(*) as events,
        sum(case when outages.end_time is null then 1 else 0 end) as open_events,
        sum(case when outages.is_notified_in_advance then 1 else 0 end) as notified_events,
        sum(outages.customers_affected) as customers_affected,
        sum(outages.customers_affected * outages.duration_hours) as customer_hours
    from outages
    group by grouping sets (
        (outages.start_month, outages.org_no, outages.outage_type),
        (outages.start_month, outages.org_no)
    )
)

select
    grouped.month,
    grouped.org_no,
    grouped.outage_type,
    grouped.grain,
    cast(grouped.events as {{ dbt.type_bigint() }}) as events,
    cast(grouped.open_events as {{ dbt.type_bigint() }}) as open_events,
    cast(grouped.notified_events as {{ dbt.type_bigint() }}) as notified_events,
    cast(coalesce(grouped.customers_affected, 0) as {{ dbt.type_bigint() }}) as customers_affected,
    cast(coalesce(grouped.customer_hours, 0) as double) as customer_hours,
    active_customers.active_customers,
    cast(coalesce(grouped.customer_hours, 0) as double)
        / nullif(active_customers.active_customers, 0) as saidi_hours,
    cast(coalesce(grouped.customers_affected, 0) as double)
        / nullif(active_customers.active_customers, 0) as saifi,
    cast(grouped.notified_events as double) / nullif(grouped.events, 0) as notified_share
from grouped
left join active_customers
    on grouped.month = active_customers.month
    and grouped.org_no = active_customers.org_no
