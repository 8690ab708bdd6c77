-- One row per tariff_code × month: the price of the energy the company buys for customers on
-- that tariff (PURCHASE + LOSS + SYSTEM, period ALL) in force on the first day of the month.
-- TD is not a cost: transmission and distribution is what the company itself earns.
with tariffs as (
    select * from {{ ref('stg_marketing__tariffs') }}
    where component in ('PURCHASE', 'LOSS', 'SYSTEM') and tou_period = 'ALL'
),

months as (
    select month from {{ ref('int_months') }}
),

in_force as (
    -- one price per component (the lowest tier, should a tariff list several)
    select
        tariffs.tariff_code,
        months.month,
        tariffs.component,
        min(tariffs.price) as price
    from tariffs
    inner join months
        on tariffs.valid_from <= months.month
        and (tariffs.valid_to is null or tariffs.valid_to >= months.month)
    group by tariffs.tariff_code, months.month, tariffs.component
)

select
    tariff_code,
    month,
    sum(case when component = 'PURCHASE' then price else 0 end) as purchase_yuan_per_kwh,
    sum(case when component = 'LOSS' then price else 0 end) as loss_yuan_per_kwh,
    sum(case when component = 'SYSTEM' then price else 0 end) as system_yuan_per_kwh,
    sum(price) as energy_cost_yuan_per_kwh
from in_force
group by tariff_code, month
