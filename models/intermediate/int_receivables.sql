-- One row per receivable: every bill with a positive amount (NORMAL or upward ADJUST), due on
-- its own due_date. A bill with amount ≤ 0 is a refund credited to the balance, never a
-- receivable. Payment figures count payments that name the bill dated ≤ the data date,
-- reversals included (net), BALANCE transfers included.
-- paid_date: the first date the cumulative net payments reach the amount; days_late =
-- max(0, paid_date − due_date); on time: net payments dated ≤ due_date reach the amount.
-- Incremental: a night re-derives only the receivables that can have changed: bills of the bill
-- partitions loaded since the last build, bills named by the payments of the payment partitions
-- loaded since and by the versions they replaced (a payment may move to another bill; kept by
-- stg_marketing__payments in stg_marketing__payments__superseded), and bills with a
-- payment dated between the previous and the new data date (it now counts). A redelivered bill
-- or payment partition rebuilds the table whole (macros/incremental.sql, is_redelivery).
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('base_marketing__payments') }}
-- depends_on: {{ ref('stg_marketing__payments') }}
{%- set extracts = ['bill', 'payment'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ prepare_key_batch('bill_id', receivable_batch_keys(), ['bill', 'payment']) }}",
    post_hook="{{ drop_key_batch() }}",
) }}
with bills as (
    select * from {{ ref('stg_marketing__bills') }}
    where amount_yuan > 0{{ in_key_batch('bill_id', extracts) }}
),

data_date as (
    select as_of_date from {{ ref('int_data_date') }}
),

payments as (
    select bill_id, pay_date, sum(amount_yuan) as amount_yuan
    from {{ ref('int_payments') }}
    where bill_id is not null
        and pay_date <= (select as_of_date from data_date){{ in_key_batch('bill_id', extracts) }}
    group by bill_id, pay_date
),

cumulative as (
    select
        payments.bill_id,
        payments.pay_date,
        payments.amount_yuan,
        sum(payments.amount_yuan) over (
            partition by payments.bill_id order by payments.pay_date
            rows between unbounded preceding and current row
        ) as cumulative_yuan
    from payments
),

per_bill as (
    select
        cumulative.bill_id,
        sum(cumulative.amount_yuan) as paid_yuan,
        sum(case when cumulative.pay_date <= bills.due_date then cumulative.amount_yuan else 0 end) as paid_by_due_yuan,
        min(case when cumulative.cumulative_yuan >= bills.amount_yuan then cumulative.pay_date end) as paid_date
    from cumulative
    inner join bills on cumulative.bill_id = bills.bill_id
    group by cumulative.bill_id
)

select
    bills.bill_id,
    bills.cons_no,
    bills.billing_month,
    bills.bill_type,
    bills.issue_date,
    bills.due_date,
    bills.amount_yuan,
    coalesce(per_bill.paid_yuan, 0) as paid_yuan,
    bills.amount_yuan - coalesce(per_bill.paid_yuan, 0) as outstanding_yuan,
    coalesce(per_bill.paid_by_due_yuan, 0) as paid_by_due_yuan,
    coalesce(per_bill.paid_by_due_yuan, 0) >= bills.amount_yuan as is_paid_on_time,
    per_bill.paid_date,
    case when per_bill.paid_date is not null
        then greatest(0, {{ dbt.datediff('bills.due_date', 'per_bill.paid_date', 'day') }}) end as days_late,
    (select as_of_date from data_date) as _as_of_date,
    {{ build_stamp() }} as _loaded_at
from bills
left join per_bill on bills.bill_id = per_bill.bill_id
