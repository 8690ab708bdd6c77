-- 线损 by supply station: the area figures of line_loss_monthly summed over the station's areas
-- that can be measured (status ≠ NO_SUPPLY), with counts of those areas, of them HIGH and
-- NEGATIVE.
with area_months as (
    select * from {{ ref('line_loss_monthly') }}
),

station_months as (
    -- every station-month with an area row, even when none of its areas can be measured
    select distinct org_no, month from area_months
),

measured as (
    select
        org_no,
        month,
        sum(supply_kwh) as supply_kwh,
        sum(sales_kwh) as sales_kwh,
        sum(loss_kwh) as loss_kwh,
        count(*) as areas,
        sum(case when status = 'HIGH' then 1 else 0 end) as areas_high,
        sum(case when status = 'NEGATIVE' then 1 else 0 end) as areas_negative
    from area_months
    where status <> 'NO_SUPPLY'
    group by org_no, month
),

final as (
    select
        station_months.org_no,
        station_months.month,
        measured.supply_kwh,
        measured.sales_kwh,
        measured.loss_kwh,
        case when measured.supply_kwh <> 0 then measured.loss_kwh / measured.supply_kwh end as loss_rate,
        coalesce(measured.areas, 0) as areas,
        coalesce(measured.areas_high, 0) as areas_high,
        coalesce(measured.areas_negative, 0) as areas_negative
    from station_months
    left join measured
        on station_months.org_no is not distinct from measured.org_no
        and station_months.month = measured.month
)

select
    org_no,
    month,
    cast(supply_kwh as decimal(18, 2)) as supply_kwh,
    cast(sales_kwh as decimal(18, 2)) as sales_kwh,
    cast(loss_kwh as decimal(18, 2)) as loss_kwh,
    cast(loss_rate as double) as loss_rate,
    cast(areas as {{ dbt.type_int() }}) as areas,
    cast(areas_high as {{ dbt.type_int() }}) as areas_high,
    cast(areas_negative as {{ dbt.type_int() }}) as areas_negative
from final
