-- 电费回收 / 缴费渠道: how has the online share of money received moved month by month?
select
    payments.month,
    sum(case when channels.is_online then payments.amount_yuan else 0 end) as online_yuan,
    sum(payments.amount_yuan) as received_yuan,
    sum(case when channels.is_online then payments.amount_share else 0 end) as online_share
from {{ ref('payment_channel_monthly') }} as payments
inner join {{ ref('dim_pay_channel') }} as channels on payments.channel = channels.channel
group by payments.month
order by payments.month
