-- One row per payment row, reversals too (a reversal and the payment it cancels both stay and
-- net to zero). Customer attributes of the end of the payment's month.
with payments as (
    select * from {{ ref('int_payments') }}
),

attributes as (
    select month, cons_no, customer_sk, org_no, elec_type from {{ ref('int_customer_months') }}
)

select
    payments.pay_id,
    payments.cons_no,
    attributes.customer_sk,
    payments.bill_id,
    payments.pay_time,
    payments.pay_date,
    payments.pay_month,
    payments.channel,
    attributes.org_no,
    attributes.elec_type,
    cast(payments.amount_yuan as decimal(18, 2)) as amount_yuan,
    cast(payments.penalty_yuan as decimal(18, 2)) as penalty_yuan,
    payments.reversal_of,
    payments.is_reversal,
    payments.is_reversed,
    payments.is_prepayment,
    payments.is_money_received,
    payments._business_date as business_date
from payments
left join attributes on payments.cons_no = attributes.cons_no and payments.pay_month = attributes.month
