-- One row per customer ACTIVE at an evaluation date × evaluation date (every month end up to the
-- data date, and the data date): the credit score (信用评级) and its five components, so that the
-- published customer_credit (data date) and the segment history (month ends) share one rule.
-- Windows at date D: "12 months" = dates in (D − 12 calendar months, D], "24 months" likewise.
--   punctuality 40 × on-time share of the NORMAL receivables due in 12 months (40 when none);
--   arrears     20 when no receivable has arrears at D, 10 when the oldest is ≤ 30 days overdue,
--               else 0;
--   compliance  20 − 10 per BREACH − 20 per THEFT found in 24 months (floor 0);
--   dunning     10 − 5 per DISCONNECT in 12 months (floor 0);
--   tenure      min(10, 2 × completed anniversaries of open_date by D).
-- The score is rounded half-up to 0.01 (only punctuality can be fractional, so it is rounded
-- there and the components add up to the score); the grade uses the rounded score.
--
-- Computation, without a range join of customers × dates × events: a window (S, D] with
-- S = D − N months holds the events of the N calendar months after S's month up to D's month,
-- less those of D's month after D, plus those of S's month after S.
--   * receivables (about one per customer and month): the active customer × evaluation date rows
--     and the receivables are merged and ordered by month number per customer; a window frame of
--     the 12 months ending with the row's month sums the receivables (the active rows count 0);
--     a night's batch instead joins each evaluation row to its customer's receivables of the
--     12 months (few rows: the hash join beats sorting everyone's year of receivables);
--   * violations and disconnections (few): counted per customer and month, joined on the month
--     number to the small grid of the months each evaluation date's window covers;
--   * the two partial edge months, only for the few dates D or S that are not a month end (the
--     data date and its window starts; a 28 February whose start is a 29 February): the events
--     after that date in its month, from the day-level rows;
--   the corrections, rare-event counts and arrears are keyed by evaluation date × customer and
--   joined once.
-- Incremental: a customer's rows depend on that customer's receivables, arrears, master versions,
-- violations and disconnections only; the set of evaluation dates is the one thing all share. A
-- night therefore re-evaluates the customers whose inputs can have changed at every date
-- (macros/batches.sql, credit_batch_customers) and every customer at the dates not built yet
-- (a new data date), and drops the dates no longer in force (the previous data date when it
-- was no month end). A redelivered bill, payment, cust, dunning or violation partition rebuilds
-- the table whole (macros/incremental.sql, is_redelivery), and so does the monthly billing day
-- (bill partitions with at least one bill for every two customers: is_bulk_delivery), when
-- nearly every customer's receivables change: the batch path joins each evaluation row to its
-- customer's year of receivables, which for every customer costs 5× the whole build's windows
-- (1 000 000 customers: 223 s on the billing night; 42 s for a whole build).
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('base_marketing__customers') }}
-- depends_on: {{ source('raw', 'dunning') }}
-- depends_on: {{ source('raw', 'violation') }}
{%- set extracts = ['bill', 'payment', 'cust', 'dunning', 'violation'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'whole_on_bulk': {'extract': 'bill', 'share': 0.5}},
    pre_hook=[
        "{{ prepare_evaluation_date_batch(['bill', 'payment', 'cust', 'dunning', 'violation']) }}",
        "{{ prepare_key_batch('cons_no', credit_batch_customers(), ['bill', 'payment', 'cust', 'dunning', 'violation']) }}",
    ],
    post_hook=["{{ drop_key_batch() }}", "{{ drop_key_batch(period_batch_relation()) }}"],
) }}
{%- set batched = is_incremental() and not builds_whole(extracts) %}
with evaluation_dates as (
    select snapshot_date as evaluation_date from {{ ref('int_snapshot_dates') }}
),

versions as (
    select * from {{ ref('int_customer_versions') }}
),

receivables as (
    select
        cons_no,
        due_date,
        year(due_date) * 12 + month(due_date) as due_month_no,
        case when is_paid_on_time then 1 else 0 end as is_on_time
    from {{ ref('int_receivables') }}
    where bill_type = 'NORMAL' and cons_no is not null and due_date is not null
    {%- if batched %}
        -- the batch customers' receivables, and everyone's in the windows of the new dates
        -- (from the month of their 12-month window's start)
        and (cons_no in (select cons_no from {{ batch_relation() }})
            or year(due_date) * 12 + month(due_date) >= (
                select min(year(evaluation_date) * 12 + month(evaluation_date)) - 12
                from {{ period_batch_relation() }}))
    {%- endif %}
),

arrears as (
    select * from {{ ref('fct_arrears_snapshot') }}
    where is_in_arrears
),

rare_events as (
    -- violations (24-month window) and disconnections (12-month window)
    select
        cons_no,
        found_date as event_date,
        year(found_date) * 12 + month(found_date) as month_no,
        case when case_type = 'BREACH' then 1 else 0 end as breaches,
        case when case_type = 'THEFT' then 1 else 0 end as thefts,
        0 as disconnects
    from {{ ref('fct_violation') }}
    where cons_no is not null and found_date is not null
    union all
    select
        cons_no,
        event_date,
        year(event_date) * 12 + month(event_date) as month_no,
        0 as breaches,
        0 as thefts,
        1 as disconnects
    from {{ ref('fct_dunning') }}
    where event_type = 'DISCONNECT' and cons_no is not null and event_date is not null
),

windows as (
    select
        evaluation_date,
        year(evaluation_date) * 12 + month(evaluation_date) as evaluation_month_no,
        cast({{ dbt.dateadd('month', -12, 'evaluation_date') }} as date) as window_12m_start,
        cast({{ dbt.dateadd('month', -24, 'evaluation_date') }} as date) as window_24m_start,
        cast({{ dbt.dateadd('day', 1, 'evaluation_date') }} as {{ dbt.type_timestamp() }}) as next_day_start
    from evaluation_dates
),

active_customers as (
    -- the master version in force at the end of the evaluation date
    select
        windows.evaluation_date,
        windows.evaluation_month_no,
        versions.cons_no,
        versions.customer_sk,
        versions.org_no,
        versions.elec_type,
        versions.open_date
    from windows
    inner join versions
        on versions.effective_from < windows.next_day_start
        and (versions.effective_to is null or versions.effective_to >= windows.next_day_start)
    where versions.status = 'ACTIVE'{{ in_customer_date_batch('versions.cons_no', 'windows.evaluation_date', extracts) }}
),

{%- if batched %}
punctuality_12m as (
    -- a night: the few evaluation rows join their own customer's receivables of the 12 months
    -- (a hash join on the customer; 3× faster than sorting every customer's year of
    -- receivables for the window below, which a full build keeps: there the join would be as
    -- slow and hold every customer × date in one aggregate). Equal results: test_incremental.py
    select
        active_customers.evaluation_date,
        active_customers.cons_no,
        coalesce(sum(receivables.bills_due), 0) as bills_due_12m,
        coalesce(sum(receivables.is_on_time), 0) as bills_on_time_12m
    from active_customers
    left join (select cons_no, due_month_no, 1 as bills_due, is_on_time from receivables) as receivables
        on receivables.cons_no = active_customers.cons_no
        and receivables.due_month_no > active_customers.evaluation_month_no - 12
        and receivables.due_month_no <= active_customers.evaluation_month_no
    group by active_customers.evaluation_date, active_customers.cons_no
),

month_punctuality as (
    select
        active_customers.evaluation_date,
        active_customers.cons_no,
        active_customers.customer_sk,
        active_customers.org_no,
        active_customers.elec_type,
        active_customers.open_date,
        punctuality_12m.bills_due_12m,
        punctuality_12m.bills_on_time_12m
    from active_customers
    inner join punctuality_12m
        on punctuality_12m.evaluation_date = active_customers.evaluation_date
        and punctuality_12m.cons_no = active_customers.cons_no
),
{%- else %}
month_punctuality as (
    -- the NORMAL receivables due in the 12 calendar months ending with the evaluation date's
    -- month (the frame includes every row of the current month)
    select
        evaluation_date,
        cons_no,
        customer_sk,
        org_no,
        elec_type,
        open_date,
        sum(bills_due) over months_12 as bills_due_12m,
        sum(bills_on_time) over months_12 as bills_on_time_12m
    from (
        select
            evaluation_date,
            cons_no,
            customer_sk,
            org_no,
            elec_type,
            open_date,
            evaluation_month_no as month_no,
            0 as bills_due,
            0 as bills_on_time
        from active_customers
        union all
        select
            cast(null as date) as evaluation_date,
            cons_no,
            cast(null as {{ dbt.type_string() }}) as customer_sk,
            cast(null as {{ dbt.type_string() }}) as org_no,
            cast(null as {{ dbt.type_string() }}) as elec_type,
            cast(null as date) as open_date,
            due_month_no as month_no,
            1 as bills_due,
            is_on_time as bills_on_time
        from receivables
    ) as customer_months
    window months_12 as (partition by cons_no order by month_no range between 11 preceding and current row)
),
{%- endif %}

rare_event_months as (
    select
        cons_no,
        month_no,
        sum(breaches) as breaches,
        sum(thefts) as thefts,
        sum(disconnects) as disconnects
    from rare_events
    group by cons_no, month_no
),

window_months as (
    -- the small grid: each evaluation date × the months with a rare event among the 24 calendar
    -- months ending with its month; in_12m flags the last 12
    select
        windows.evaluation_date,
        months.month_no,
        case when months.month_no > windows.evaluation_month_no - 12 then 1 else 0 end as in_12m
    from windows
    inner join (select distinct month_no from rare_event_months) as months
        on months.month_no > windows.evaluation_month_no - 24
        and months.month_no <= windows.evaluation_month_no
),

window_edges as (
    -- a date that is not a month end: the events of its month after it are subtracted when it
    -- ends the window (sign -1), added when it starts the window (sign 1)
    select evaluation_date, evaluation_date as edge_date, -1 as sign_12m, -1 as sign_24m
    from windows
    where evaluation_date < cast({{ dbt.last_day('evaluation_date', 'month') }} as date)
    union all
    select evaluation_date, window_12m_start as edge_date, 1 as sign_12m, 0 as sign_24m
    from windows
    where window_12m_start < cast({{ dbt.last_day('window_12m_start', 'month') }} as date)
    union all
    select evaluation_date, window_24m_start as edge_date, 0 as sign_12m, 1 as sign_24m
    from windows
    where window_24m_start < cast({{ dbt.last_day('window_24m_start', 'month') }} as date)
),

adjustments as (
    -- everything else keyed by evaluation date × customer (customers with such rows only)
    select
        window_months.evaluation_date,
        rare_event_months.cons_no,
        0 as bills_due,
        0 as bills_on_time,
        rare_event_months.breaches,
        rare_event_months.thefts,
        window_months.in_12m * rare_event_months.disconnects as disconnects,
        0 as receivables_in_arrears,
        cast(null as decimal(18, 2)) as arrears_yuan,
        cast(null as {{ dbt.type_bigint() }}) as days_overdue
    from rare_event_months
    inner join window_months
        on rare_event_months.month_no = window_months.month_no
    union all
    select
        window_edges.evaluation_date,
        receivables.cons_no,
        window_edges.sign_12m as bills_due,
        window_edges.sign_12m * receivables.is_on_time as bills_on_time,
        0 as breaches,
        0 as thefts,
        0 as disconnects,
        0 as receivables_in_arrears,
        cast(null as decimal(18, 2)) as arrears_yuan,
        cast(null as {{ dbt.type_bigint() }}) as days_overdue
    from window_edges
    inner join receivables
        on receivables.due_month_no = year(window_edges.edge_date) * 12 + month(window_edges.edge_date)
        and receivables.due_date > window_edges.edge_date
    union all
    select
        window_edges.evaluation_date,
        rare_events.cons_no,
        0 as bills_due,
        0 as bills_on_time,
        window_edges.sign_24m * rare_events.breaches as breaches,
        window_edges.sign_24m * rare_events.thefts as thefts,
        window_edges.sign_12m * rare_events.disconnects as disconnects,
        0 as receivables_in_arrears,
        cast(null as decimal(18, 2)) as arrears_yuan,
        cast(null as {{ dbt.type_bigint() }}) as days_overdue
    from window_edges
    inner join rare_events
        on rare_events.month_no = year(window_edges.edge_date) * 12 + month(window_edges.edge_date)
        and rare_events.event_date > window_edges.edge_date
    union all
    select
        snapshot_date as evaluation_date,
        cons_no,
        0 as bills_due,
        0 as bills_on_time,
        0 as breaches,
        0 as thefts,
        0 as disconnects,
        1 as receivables_in_arrears,
        arrears_yuan,
        days_overdue
    from arrears
),

adjustments_at_date as (
    select
        evaluation_date,
        cons_no,
        sum(bills_due) as bills_due,
        sum(bills_on_time) as bills_on_time,
        sum(breaches) as breaches_24m,
        sum(thefts) as thefts_24m,
        sum(disconnects) as disconnects_12m,
        sum(receivables_in_arrears) as receivables_in_arrears,
        sum(arrears_yuan) as arrears_yuan,
        max(days_overdue) as oldest_days_overdue
    from adjustments
    group by evaluation_date, cons_no
),

combined as (
    select
        month_punctuality.evaluation_date,
        month_punctuality.cons_no,
        month_punctuality.customer_sk,
        month_punctuality.org_no,
        month_punctuality.elec_type,
        month_punctuality.open_date,
        cast(month_punctuality.bills_due_12m + coalesce(adjustments_at_date.bills_due, 0)
            as {{ dbt.type_bigint() }}) as bills_due_12m,
        cast(month_punctuality.bills_on_time_12m + coalesce(adjustments_at_date.bills_on_time, 0)
            as {{ dbt.type_bigint() }}) as bills_on_time_12m,
        coalesce(adjustments_at_date.receivables_in_arrears, 0) as receivables_in_arrears,
        coalesce(adjustments_at_date.arrears_yuan, 0) as arrears_yuan,
        adjustments_at_date.oldest_days_overdue,
        coalesce(adjustments_at_date.breaches_24m, 0) as breaches_24m,
        coalesce(adjustments_at_date.thefts_24m, 0) as thefts_24m,
        coalesce(adjustments_at_date.disconnects_12m, 0) as disconnects_12m,
        -- whole years = completed anniversaries: the calendar-year difference, less one when this
        -- year's anniversary still lies after the evaluation date
        case
            when month_punctuality.open_date is null
                or month_punctuality.open_date > month_punctuality.evaluation_date then 0
            when cast({{ dbt.dateadd('year', dbt.datediff('month_punctuality.open_date', 'month_punctuality.evaluation_date', 'year'), 'month_punctuality.open_date') }} as date)
                > month_punctuality.evaluation_date
                then {{ dbt.datediff('month_punctuality.open_date', 'month_punctuality.evaluation_date', 'year') }} - 1
            else {{ dbt.datediff('month_punctuality.open_date', 'month_punctuality.evaluation_date', 'year') }}
        end as tenure_years
    from month_punctuality
    left join adjustments_at_date
        on month_punctuality.evaluation_date = adjustments_at_date.evaluation_date
        and month_punctuality.cons_no = adjustments_at_date.cons_no
    where month_punctuality.evaluation_date is not null
),

points as (
    select
        combined.*,
        case when bills_due_12m = 0 then cast(40 as decimal(5, 2))
             else {{ round_money('40.0 * bills_on_time_12m / bills_due_12m') }} end as punctuality_points,
        case when receivables_in_arrears = 0 then 20
             when oldest_days_overdue <= 30 then 10
             else 0 end as arrears_points,
        greatest(0, 20 - 10 * breaches_24m - 20 * thefts_24m) as compliance_points,
        greatest(0, 10 - 5 * disconnects_12m) as dunning_points,
        least(10, 2 * tenure_years) as tenure_points
    from combined
),

scored as (
    select
        points.*,
        cast(punctuality_points + arrears_points + compliance_points + dunning_points + tenure_points
            as decimal(5, 2)) as credit_score
    from points
)

select
    evaluation_date,
    cons_no,
    customer_sk,
    org_no,
    elec_type,
    open_date,
    cast(bills_due_12m as {{ dbt.type_bigint() }}) as bills_due_12m,
    cast(bills_on_time_12m as {{ dbt.type_bigint() }}) as bills_on_time_12m,
    cast(receivables_in_arrears as {{ dbt.type_bigint() }}) as receivables_in_arrears,
    cast(arrears_yuan as decimal(18, 2)) as arrears_yuan,
    cast(oldest_days_overdue as {{ dbt.type_int() }}) as oldest_days_overdue,
    cast(breaches_24m as {{ dbt.type_int() }}) as breaches_24m,
    cast(thefts_24m as {{ dbt.type_int() }}) as thefts_24m,
    cast(disconnects_12m as {{ dbt.type_int() }}) as disconnects_12m,
    cast(tenure_years as {{ dbt.type_int() }}) as tenure_years,
    cast(punctuality_points as decimal(5, 2)) as punctuality_points,
    cast(arrears_points as {{ dbt.type_int() }}) as arrears_points,
    cast(compliance_points as {{ dbt.type_int() }}) as compliance_points,
    cast(dunning_points as {{ dbt.type_int() }}) as dunning_points,
    cast(tenure_points as {{ dbt.type_int() }}) as tenure_points,
    credit_score,
    case
        when credit_score >= 90 then 'AAA'
        when credit_score >= 80 then 'AA'
        when credit_score >= 70 then 'A'
        when credit_score >= 60 then 'B'
        else 'C'
    end as credit_grade,
    {{ build_stamp() }} as _loaded_at
from scored
