-- One row per receivable × snapshot date (every month end up to the data date, and the data
-- date) for the receivables issued by that date whose outstanding amount is not zero there
-- (fully settled receivables have no row). outstanding = amount − Σ payments dated ≤ the
-- snapshot that name it (reversals included); arrears = max(outstanding, 0) once the snapshot
-- is past the due date; a negative outstanding is overpaid. The customer's attributes are those
-- in force at the snapshot date.
-- Late-payment penalty (违约金) on the arrears, for each overdue day: residential 0.1 % a day;
-- other customers 0.2 % a day up to 31 December of the due date's year and 0.3 % a day after;
-- rounded half-up to 0.01 per receivable; a positive penalty under 1 yuan is 1 yuan (before
-- rounding: 0.004 yuan is a positive penalty too, as the supply rules' 不足1元按1元 says).
-- Incremental: a row at date D depends on its bill's receivable and balance history and on the
-- customer's master version at D only; the set of snapshot dates is what all share. A night
-- therefore re-derives at every date the bills whose receivable or balances were re-derived
-- since the last build (payments, the data date), the bills of the bill partitions loaded since
-- and the bills of customers whose master changed (macros/batches.sql, arrears_batch_keys), and
-- every bill at the dates not built yet (a new data date); the dates no longer in force go (the
-- previous data date when it was no month end). A redelivered bill, payment or cust partition
-- rebuilds it whole (macros/incremental.sql, is_redelivery), and so does the monthly billing day
-- (is_bulk_delivery): that night's keyed batch holds nearly every customer's newest bill, and its
-- delete and re-derivation cost more than the whole build (1 000 000 customers: 31.4 s on the
-- billing night, 7.2 s for a whole build).
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('base_marketing__customers') }}
-- depends_on: {{ ref('stg_marketing__bills') }}
{%- set extracts = ['bill', 'payment', 'cust'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'whole_on_bulk': {'extract': 'bill', 'share': 0.5}},
    pre_hook=[
        "{{ prepare_period_batch('snapshot_date', 'select snapshot_date from ' ~ ref('int_snapshot_dates'), ['bill', 'payment', 'cust']) }}",
        "{{ prepare_key_batch('bill_id', arrears_batch_keys(), ['bill', 'payment', 'cust']) }}",
    ],
    post_hook=["{{ drop_key_batch() }}", "{{ drop_key_batch(period_batch_relation()) }}"],
) }}
with snapshots as (
    select snapshot_date from {{ ref('int_snapshot_dates') }}
),

receivables as (
    select
        *,
        make_date(cast(extract(year from due_date) as integer), 12, 31) as due_year_end
    from {{ ref('int_receivables') }}
),

balances as (
    select * from {{ ref('int_receivable_balances') }}
),

versions as (
    select * from {{ ref('int_customer_versions') }}
),

at_snapshot as (
    select
        snapshots.snapshot_date,
        balances.bill_id,
        balances.outstanding_yuan
    from balances
    inner join snapshots
        on balances.valid_from <= snapshots.snapshot_date
        and (balances.valid_to is null or balances.valid_to > snapshots.snapshot_date)
    where balances.outstanding_yuan <> 0{{ in_key_period_batch('balances.bill_id', 'snapshots.snapshot_date', extracts, key='bill_id', period='snapshot_date') }}
),

measured as {{ materialized_cte() }} (
    -- materialized: the join below (its build side, in a night's small batch) must not read the
    -- output of this join straight away, or DuckDB 2.0.0 fails with a fatal INTERNAL error
    -- (macros/cross_db.sql, materialized_cte)
    select
        at_snapshot.snapshot_date,
        receivables.bill_id,
        receivables.cons_no,
        receivables.billing_month,
        receivables.issue_date,
        receivables.due_date,
        receivables.amount_yuan,
        at_snapshot.outstanding_yuan,
        case when at_snapshot.snapshot_date > receivables.due_date and at_snapshot.outstanding_yuan > 0
            then at_snapshot.outstanding_yuan else 0 end as arrears_yuan,
        case when at_snapshot.outstanding_yuan < 0 then -at_snapshot.outstanding_yuan else 0 end as overpaid_yuan,
        {{ dbt.datediff('receivables.due_date', 'at_snapshot.snapshot_date', 'day') }} as days_overdue,
        -- overdue days up to 31 December of the due date's year, and after it
        greatest(0, {{ dbt.datediff('receivables.due_date', 'least(at_snapshot.snapshot_date, receivables.due_year_end)', 'day') }})
            as days_within_year,
        greatest(0, {{ dbt.datediff('receivables.due_year_end', 'at_snapshot.snapshot_date', 'day') }}) as days_after_year
    from at_snapshot
    inner join receivables on at_snapshot.bill_id = receivables.bill_id
),

with_customer as (
    select
        measured.*,
        versions.customer_sk,
        versions.org_no,
        versions.elec_type,
        versions.voltage
    from measured
    left join versions
        on measured.cons_no = versions.cons_no
        and versions.effective_from < cast(measured.snapshot_date + interval 1 day as {{ dbt.type_timestamp() }})
        and (versions.effective_to is null
            or versions.effective_to >= cast(measured.snapshot_date + interval 1 day as {{ dbt.type_timestamp() }}))
),

penalised as (
    select
        with_customer.*,
        case
            when with_customer.arrears_yuan <= 0 then cast(0 as decimal(38, 10))
            when with_customer.elec_type = '100'
                then cast(with_customer.arrears_yuan as decimal(38, 10)) * 0.001 * with_customer.days_overdue
            else cast(with_customer.arrears_yuan as decimal(38, 10))
                * (0.002 * with_customer.days_within_year + 0.003 * with_customer.days_after_year)
        end as penalty_raw_yuan
    from with_customer
)

select
    snapshot_date,
    bill_id,
    cons_no,
    customer_sk,
    org_no,
    elec_type,
    voltage,
    billing_month,
    issue_date,
    due_date,
    cast(amount_yuan as decimal(18, 2)) as amount_yuan,
    cast(outstanding_yuan as decimal(18, 2)) as outstanding_yuan,
    cast(arrears_yuan as decimal(18, 2)) as arrears_yuan,
    cast(overpaid_yuan as decimal(18, 2)) as overpaid_yuan,
    arrears_yuan > 0 as is_in_arrears,
    case when arrears_yuan > 0 then days_overdue end as days_overdue,
    case
        when arrears_yuan <= 0 then null
        when days_overdue <= 30 then '1-30'
        when days_overdue <= 60 then '31-60'
        when days_overdue <= 90 then '61-90'
        when days_overdue <= 180 then '91-180'
        when days_overdue <= 365 then '181-365'
        else '>365'
    end as ageing_bucket,
    -- 不足1元按1元: any positive penalty under 1 yuan (even one that would round to 0.00) is 1 yuan
    case when penalty_raw_yuan > 0 and penalty_raw_yuan < 1 then cast(1 as decimal(18, 2))
         else {{ round_money('penalty_raw_yuan') }} end as penalty_accrued_yuan,
    {{ build_stamp() }} as _loaded_at
from penalised
