-- 电价构成 by electricity category over the last 12 billing months: components, shares, average prices.
with last12 as (
    select * from marts.unit_price_monthly
    where month > (select max(month) from marts.unit_price_monthly) - interval 12 month
)
select
    e.elec_type,
    e.name_zh,
    sum(billed_kwh) as billed_kwh,
    sum(energy_yuan) as energy_yuan,
    sum(basic_yuan) as basic_yuan,
    sum(pf_adj_yuan) as pf_adj_yuan,
    sum(fund_yuan) as fund_yuan,
    sum(total_yuan) as total_yuan,
    sum(total_yuan) / nullif(sum(billed_kwh), 0) as avg_price_yuan_per_kwh,
    (sum(total_yuan) - sum(fund_yuan)) / nullif(sum(billed_kwh), 0) as avg_price_ex_fund_yuan_per_kwh,
    sum(energy_yuan) / nullif(sum(total_yuan), 0) as energy_share,
    sum(basic_yuan) / nullif(sum(total_yuan), 0) as basic_share,
    sum(fund_yuan) / nullif(sum(total_yuan), 0) as fund_share
from last12
join core.dim_elec_type e using (elec_type)
group by all
order by e.elec_type
