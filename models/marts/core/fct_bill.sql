-- One row per bill (NORMAL and ADJUST). An ADJUST bill carries the billing_month of the bill it
-- corrects, so monthly figures are restated. Amounts split by item; paid_yuan, outstanding_yuan,
-- paid_date and days_late are as of the data date and apply to receivables (amount > 0); a
-- refund (amount ≤ 0) is credited to the balance at issue: paid 0, outstanding 0.
-- Incremental: a night re-derives only the bills that can have changed (macros/batches.sql,
-- bill_batch_keys); a redelivered bill, bill_item or cust partition rebuilds the table whole.
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('base_marketing__bill_items') }}
-- depends_on: {{ ref('base_marketing__customers') }}
{%- set extracts = ['bill', 'bill_item', 'cust'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ prepare_key_batch('bill_id', bill_batch_keys(), ['bill', 'bill_item', 'cust']) }}",
    post_hook="{{ drop_key_batch() }}",
) }}
with bills as (
    select * from {{ ref('stg_marketing__bills') }}
    where true{{ in_key_batch('bill_id', extracts) }}
),

items as (
    select
        bill_id,
        sum(case when item = 'ENERGY' then amount_yuan else 0 end) as energy_yuan,
        sum(case when item = 'BASIC' then amount_yuan else 0 end) as basic_yuan,
        sum(case when item = 'PF_ADJ' then amount_yuan else 0 end) as pf_adj_yuan,
        sum(case when item = 'FUND' then amount_yuan else 0 end) as fund_yuan,
        sum(amount_yuan) as items_yuan,
        count(*) as items
    -- the lines already deduplicated and materialised (incrementally) in fct_bill_line: one
    -- scan of a table instead of the staging view's window over every delivered line
    from {{ ref('fct_bill_line') }}
    where true{{ in_key_batch('bill_id', extracts) }}
    group by bill_id
),

receivables as (
    select * from {{ ref('int_receivables') }}
    where true{{ in_key_batch('bill_id', extracts) }}
),

billed as (
    -- the bill with its item split and payments; the attributes are joined last, so the
    -- bill_id joins build on the item and receivable sides
    select
        bills.bill_id,
        bills.cons_no,
        bills.billing_month,
        bills.bill_type,
        bills.ref_bill_id,
        bills.issue_date,
        bills.due_date,
        bills.tariff_code,
        cast(bills.kwh as decimal(18, 2)) as kwh,
        cast(bills.amount_yuan as decimal(18, 2)) as amount_yuan,
        cast(coalesce(items.energy_yuan, 0) as decimal(18, 2)) as energy_yuan,
        cast(coalesce(items.basic_yuan, 0) as decimal(18, 2)) as basic_yuan,
        cast(coalesce(items.pf_adj_yuan, 0) as decimal(18, 2)) as pf_adj_yuan,
        cast(coalesce(items.fund_yuan, 0) as decimal(18, 2)) as fund_yuan,
        cast(coalesce(items.items_yuan, 0) as decimal(18, 2)) as items_yuan,
        coalesce(items.items, 0) as items,
        bills.amount_yuan > 0 as is_receivable,
        cast(coalesce(receivables.paid_yuan, 0) as decimal(18, 2)) as paid_yuan,
        cast(coalesce(receivables.outstanding_yuan, 0) as decimal(18, 2)) as outstanding_yuan,
        receivables.paid_date,
        receivables.days_late,
        receivables.is_paid_on_time
    from bills
    left join items on bills.bill_id = items.bill_id
    left join receivables on bills.bill_id = receivables.bill_id
)

select
    billed.bill_id,
    billed.cons_no,
    versions.customer_sk,
    billed.billing_month,
    billed.bill_type,
    billed.ref_bill_id,
    billed.issue_date,
    billed.due_date,
    billed.tariff_code,
    versions.org_no,
    versions.tg_id,
    versions.elec_type,
    versions.voltage,
    versions.industry_section,
    billed.kwh,
    billed.amount_yuan,
    billed.energy_yuan,
    billed.basic_yuan,
    billed.pf_adj_yuan,
    billed.fund_yuan,
    billed.items_yuan,
    billed.items,
    billed.is_receivable,
    billed.paid_yuan,
    billed.outstanding_yuan,
    billed.paid_date,
    billed.days_late,
    billed.is_paid_on_time,
    {{ build_stamp() }} as _loaded_at
from billed
-- the customer's attributes in force at the end of the billing month (macros/customer_attributes.sql)
{{ join_version_at_month_end('versions', 'billed.cons_no', 'billed.billing_month') }}
{%- if not is_incremental() %}
-- a whole build writes the bills by month, then customer, as fct_payment: the zone maps prune an
-- analyst's month or one customer's bills (1 000 000 customers, the bills part of
-- bench/queries/08_customer_history.sql on a copy of the published table: 47 of 200 row groups
-- read instead of all, 0.37 → 0.09 s median of 5 cold connections; the sorted copy took 45.3 s
-- against 24.5 s). Nights append their re-derived bills after them.
order by billing_month, cons_no
{%- endif %}
