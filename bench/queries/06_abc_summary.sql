-- 客户价值 ABC summary: customers, profit and revenue per class and category, share of profit.
select
    v.abc_class,
    v.elec_type,
    count(*) as customers,
    sum(v.profit_yuan) as profit_yuan,
    sum(v.revenue_yuan) as revenue_yuan,
    sum(v.kwh) as kwh,
    sum(v.profit_yuan) / sum(sum(v.profit_yuan)) over () as profit_share,
    avg(v.r_score) as avg_r_score,
    avg(v.f_score) as avg_f_score,
    avg(v.m_score) as avg_m_score
from marts.customer_value v
group by v.abc_class, v.elec_type
order by v.abc_class, v.elec_type
