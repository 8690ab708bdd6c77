-- One row per month of pay_time × channel × the payer's elec_type (in force at the end of that
-- month): the money received (缴费渠道分析). BALANCE rows are internal transfers from the
-- prepaid balance, not money received, so they are left out; prepayments are money received
-- and count. A reversal and the payment it cancels both stay in amount_yuan (net), neither
-- counts as a payment nor makes its customer a payer.
with payments as (
    select * from {{ ref('fct_payment') }}
),

money_received as (
    select
        pay_month as month,
        channel,
        elec_type,
        cons_no,
        amount_yuan,
        not is_reversal and not is_reversed as is_effective
    from payments
    where channel <> 'BALANCE'
),

grouped as (
    select
        month,
        channel,
        elec_type,
        sum(case when is_effective then 1 else 0 end) as payments,
        count(distinct case when is_effective then cons_no end) as payers,
        sum(amount_yuan) as amount_yuan
    from money_received
    group by month, channel, elec_type
),

final as (
    select
        grouped.*,
        -- share of the whole month's money received; NULL when the month nets to zero
        cast(grouped.amount_yuan as double)
            / nullif(sum(grouped.amount_yuan) over (partition by grouped.month), 0) as amount_share
    from grouped
)

select
    cast(month as date) as month,
    channel,
    elec_type,
    cast(payments as {{ dbt.type_bigint() }}) as payments,
    cast(payers as {{ dbt.type_bigint() }}) as payers,
    cast(amount_yuan as decimal(18, 2)) as amount_yuan,
    cast(amount_share as double) as amount_share
from final
