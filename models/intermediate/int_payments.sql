-- One row per payment row (reversals too), with what each row is: a reversal (冲正), reversed,
-- a prepayment to the balance (bill_id NULL), a BALANCE transfer (not money received).
with payments as (
    select * from {{ ref('stg_marketing__payments') }}
),

reversed as (
    select distinct reversal_of as pay_id from payments where reversal_of is not null
)

select
    payments.pay_id,
    payments.cons_no,
    payments.bill_id,
    payments.pay_time,
    cast(payments.pay_time as date) as pay_date,
    cast({{ dbt.date_trunc('month', 'payments.pay_time') }} as date) as pay_month,
    payments.channel,
    payments.amount_yuan,
    payments.penalty_yuan,
    payments.reversal_of,
    payments.reversal_of is not null as is_reversal,
    reversed.pay_id is not null as is_reversed,
    payments.bill_id is null as is_prepayment,
    payments.channel <> 'BALANCE' as is_money_received,
    payments._business_date
from payments
left join reversed on payments.pay_id = reversed.pay_id
