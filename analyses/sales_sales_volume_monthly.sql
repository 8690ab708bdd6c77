-- 售电量分析: which elec_types grew or shrank year on year in the latest complete billing month,
-- per station?
with latest as (
    select max(month) as month from {{ ref('sales_volume_monthly') }} where sales_kwh_prev_year is not null
)

select
    sales.month,
    sales.org_no,
    sales.elec_type,
    sum(sales.customers_billed) as customers_billed,
    sum(sales.sales_kwh) as sales_kwh,
    sum(sales.sales_kwh_prev_year) as sales_kwh_prev_year,
    sum(sales.sales_kwh) / nullif(sum(sales.sales_kwh_prev_year), 0) - 1 as sales_kwh_yoy_rate
from {{ ref('sales_volume_monthly') }} as sales
inner join latest on sales.month = latest.month
group by sales.month, sales.org_no, sales.elec_type
order by sales.org_no, sales.elec_type
