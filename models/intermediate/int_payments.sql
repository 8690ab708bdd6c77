-- One row per payment row (reversals too), with what each row is: a reversal (冲正), reversed,
-- a prepayment to the balance (bill_id NULL), a BALANCE transfer (not money received).
-- Incremental (delete+insert by pay_id): a night re-derives the payments whose row in force
-- came from a payment partition loaded since the last build, and the payments they reverse or
-- reversed before (is_reversed may flip either way); a redelivered payment partition rebuilds
-- the table whole (macros/incremental.sql, is_redelivery).
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='pay_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ delete_all_on_redelivery(['payment']) }}",
) }}
{%- set whole = builds_whole(['payment']) %}

with all_payments as {{ not_materialized() }} (
    select * from {{ ref('stg_marketing__payments') }}
),
{%- if not whole %}

changed as (
    select pay_id, reversal_of from all_payments where {{ partition_filter('_business_date', 'payment') }}
),

batch_keys as (
    select pay_id from changed
    union
    select reversal_of from changed where reversal_of is not null
    union
    -- what a changed reversal named before (its row in this table is replaced below)
    select reversal_of from {{ this }} where pay_id in (select pay_id from changed) and reversal_of is not null
),
{%- endif %}

payments as (
    select * from all_payments
    {%- if not whole %}
    where pay_id in (select pay_id from batch_keys)
    {%- endif %}
),

reversed as (
    select distinct reversal_of as pay_id from all_payments
    where reversal_of is not null
    {%- if not whole %}
        and reversal_of in (select pay_id from batch_keys)
    {%- endif %}
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
    payments._business_date,
    payments._loaded_at
from payments
left join reversed on payments.pay_id = reversed.pay_id
