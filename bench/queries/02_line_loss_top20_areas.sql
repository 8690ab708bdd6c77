-- 线损: the 20 transformer areas with the highest loss rate in the latest month with supply data.
with latest as (
    select max(month) as month from marts.line_loss_monthly where status <> 'NO_SUPPLY'
)
select
    l.tg_id,
    a.tg_name,
    o.station_name,
    l.month,
    l.supply_kwh,
    l.sales_kwh,
    l.loss_kwh,
    l.loss_rate,
    l.status
from marts.line_loss_monthly l
join latest using (month)
left join core.dim_transformer_area a on a.tg_id = l.tg_id
left join core.dim_org o on o.org_no = l.org_no
where l.status <> 'NO_SUPPLY'
order by l.loss_rate desc, l.tg_id
limit 20
