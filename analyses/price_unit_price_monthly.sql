-- 电价分析: how the comprehensive average price of two-part customers (elec_type 300) moves, and
-- how much of it the basic charge and the power-factor adjustment explain.
select
    month,
    sum(total_yuan) / nullif(sum(billed_kwh), 0) as avg_price_yuan_per_kwh,
    sum(basic_yuan) / nullif(sum(total_yuan), 0) as basic_share,
    sum(pf_adj_yuan) / nullif(sum(total_yuan), 0) as pf_adj_share
from {{ ref('unit_price_monthly') }}
where elec_type = '300'
group by month
order by month
