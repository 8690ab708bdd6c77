-- One row per receivable × period of constant outstanding amount: from issue (outstanding =
-- amount) and then from each day net payments naming it change the balance, until the next
-- change (exclusive). Joining a date into these periods gives the outstanding at that date
-- without a receivable × every-day explosion.
-- Incremental: a night re-derives only the receivables whose bill or payments changed
-- (macros/batches.sql, balance_batch_keys); a redelivered bill partition rebuilds it whole.
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__bills') }}
{%- set extracts = ['bill'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ prepare_key_batch('bill_id', balance_batch_keys(), ['bill']) }}",
    post_hook="{{ drop_key_batch() }}",
) }}
with receivables as (
    select bill_id, issue_date, amount_yuan from {{ ref('int_receivables') }}
    where true{{ in_key_batch('bill_id', extracts) }}
),

payments as (
    select bill_id, pay_date, sum(amount_yuan) as amount_yuan
    from {{ ref('int_payments') }}
    where bill_id is not null{{ in_key_batch('bill_id', extracts) }}
    group by bill_id, pay_date
),

changes as (
    -- payments dated before issue count from the issue date
    select receivables.bill_id, receivables.issue_date as change_date, cast(0 as decimal(18, 2)) as amount_yuan
    from receivables
    union all
    select payments.bill_id, greatest(payments.pay_date, receivables.issue_date) as change_date, payments.amount_yuan
    from payments
    inner join receivables on payments.bill_id = receivables.bill_id
),

per_day as (
    select bill_id, change_date, sum(amount_yuan) as amount_yuan
    from changes
    group by bill_id, change_date
),

running as (
    select
        per_day.bill_id,
        per_day.change_date as valid_from,
        lead(per_day.change_date) over (partition by per_day.bill_id order by per_day.change_date) as valid_to,
        receivables.amount_yuan - sum(per_day.amount_yuan) over (
            partition by per_day.bill_id order by per_day.change_date
            rows between unbounded preceding and current row
        ) as outstanding_yuan
    from per_day
    inner join receivables on per_day.bill_id = receivables.bill_id
)

select bill_id, valid_from, valid_to, outstanding_yuan, {{ build_stamp() }} as _loaded_at
from running
