-- 售电量 by county branch and month: billed kWh and amount, customers billed, year on year.
select
    o.county_org_no,
    o.county_name,
    s.month,
    sum(s.customers_billed) as customers_billed,
    sum(s.sales_kwh) as sales_kwh,
    sum(s.amount_yuan) as amount_yuan,
    sum(s.sales_kwh_prev_year) as sales_kwh_prev_year,
    sum(s.sales_kwh) / nullif(sum(s.sales_kwh_prev_year), 0) - 1 as sales_kwh_yoy_rate
from marts.sales_volume_monthly s
join core.dim_org o on o.org_no = s.org_no
group by all
order by o.county_org_no, s.month
