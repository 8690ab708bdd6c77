-- 线损: supply (gateway meter) minus billed sales per transformer area × billing month.
with supplies as (
    select * from {{ ref('fct_supply') }}
),

bills as (
    select * from {{ ref('fct_bill') }}
),

areas as (
    select * from {{ ref('dim_transformer_area') }}
),

area_sales as (
    -- customers whose area at the month end is this one; dedicated-line customers (no tg_id)
    -- are behind no area meter
    select tg_id, billing_month as month, sum(kwh) as sales_kwh
    from bills
    where tg_id is not null
    group by tg_id, billing_month
),

usable_supply as (
    select tg_id, billing_month as month, supply_kwh
    from supplies
    where supply_kwh is not null
),

area_months as (
    select tg_id, month from usable_supply
    union
    select tg_id, month from area_sales
),

measured as (
    select
        area_months.tg_id,
        area_months.month,
        usable_supply.supply_kwh,
        coalesce(area_sales.sales_kwh, 0) as sales_kwh,
        usable_supply.supply_kwh - coalesce(area_sales.sales_kwh, 0) as loss_kwh
    from area_months
    left join usable_supply
        on area_months.tg_id = usable_supply.tg_id and area_months.month = usable_supply.month
    left join area_sales
        on area_months.tg_id = area_sales.tg_id and area_months.month = area_sales.month
),

final as (
    select
        measured.tg_id,
        measured.month,
        areas.org_no,
        measured.supply_kwh,
        measured.sales_kwh,
        measured.loss_kwh,
        case when measured.supply_kwh <> 0 then measured.loss_kwh / measured.supply_kwh end as loss_rate
    from measured
    left join areas on measured.tg_id = areas.tg_id
)

select
    tg_id,
    month,
    org_no,
    cast(supply_kwh as decimal(18, 2)) as supply_kwh,
    cast(sales_kwh as decimal(18, 2)) as sales_kwh,
    cast(loss_kwh as decimal(18, 2)) as loss_kwh,
    cast(loss_rate as double) as loss_rate,
    case
        when supply_kwh is null or supply_kwh = 0 then 'NO_SUPPLY'
        when loss_rate < 0 then 'NEGATIVE'
        when loss_rate > 0.10 then 'HIGH'
        else 'NORMAL'
    end as status
from final
