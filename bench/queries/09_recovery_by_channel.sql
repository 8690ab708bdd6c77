-- 电费回收 by payment channel over the last 12 months: money received, payments, payers, share;
-- and the company's recovery rate of the same billing months beside it.
with last12 as (
    select * from marts.payment_channel_monthly
    where month > (select max(month) from marts.payment_channel_monthly) - interval 12 month
),
recovery as (
    select sum(collected_yuan) / nullif(sum(billed_yuan), 0) as recovery_rate,
           sum(collected_by_due_yuan) / nullif(sum(billed_yuan), 0) as on_time_recovery_rate
    from marts.recovery_monthly
    where month in (select month from last12)
)
select
    c.channel,
    ch.name_zh,
    ch.is_online,
    sum(c.payments) as payments,
    sum(c.payers) as payer_months,
    sum(c.amount_yuan) as amount_yuan,
    sum(c.amount_yuan) / sum(sum(c.amount_yuan)) over () as amount_share,
    any_value(r.recovery_rate) as company_recovery_rate,
    any_value(r.on_time_recovery_rate) as company_on_time_recovery_rate
from last12 c
left join core.dim_pay_channel ch using (channel)
cross join recovery r
group by c.channel, ch.name_zh, ch.is_online
order by amount_yuan desc
