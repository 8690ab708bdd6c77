-- 线损 by county branch: the station roll-up (line_loss_station_monthly, measurable areas
-- only) summed over the county's stations.
with station_months as (
    select * from {{ ref('line_loss_station_monthly') }}
),

orgs as (
    select * from {{ ref('dim_org') }}
),

grouped as (
    select
        orgs.county_org_no,
        station_months.month,
        count(*) as stations,
        sum(station_months.supply_kwh) as supply_kwh,
        sum(station_months.sales_kwh) as sales_kwh,
        sum(station_months.loss_kwh) as loss_kwh,
        sum(station_months.areas) as areas,
        sum(station_months.areas_high) as areas_high,
        sum(station_months.areas_negative) as areas_negative
    from station_months
    left join orgs on station_months.org_no = orgs.org_no
    group by orgs.county_org_no, station_months.month
),

final as (
    select
        grouped.county_org_no,
        counties.org_name as county_name,
        counties.company_org_no,
        grouped.month,
        grouped.stations,
        grouped.supply_kwh,
        grouped.sales_kwh,
        grouped.loss_kwh,
        case when grouped.supply_kwh <> 0 then grouped.loss_kwh / grouped.supply_kwh end as loss_rate,
        grouped.areas,
        grouped.areas_high,
        grouped.areas_negative
    from grouped
    left join orgs as counties on grouped.county_org_no = counties.org_no
)

select
    county_org_no,
    county_name,
    company_org_no,
    month,
    cast(stations as {{ dbt.type_int() }}) as stations,
    cast(supply_kwh as decimal(18, 2)) as supply_kwh,
    cast(sales_kwh as decimal(18, 2)) as sales_kwh,
    cast(loss_kwh as decimal(18, 2)) as loss_kwh,
    cast(loss_rate as double) as loss_rate,
    cast(areas as {{ dbt.type_int() }}) as areas,
    cast(areas_high as {{ dbt.type_int() }}) as areas_high,
    cast(areas_negative as {{ dbt.type_int() }}) as areas_negative
from final
