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
with evaluation_dates as (
    select snapshot_date as evaluation_date from {{ ref('int_snapshot_dates') }}
),

versions as (
    select * from {{ ref('int_customer_versions') }}
),

receivables as (
    select * from {{ ref('int_receivables') }}
    where bill_type = 'NORMAL'
),

arrears as (
    select * from {{ ref('fct_arrears_snapshot') }}
    where is_in_arrears
),

violations as (
    select * from {{ ref('fct_violation') }}
),

dunning as (
    select * from {{ ref('fct_dunning') }}
    where event_type = 'DISCONNECT'
),

windows as (
    select
        evaluation_date,
        cast({{ dbt.dateadd('month', -12, 'evaluation_date') }} as date) as window_12m_start,
        cast({{ dbt.dateadd('month', -24, 'evaluation_date') }} as date) as window_24m_start,
        cast({{ dbt.dateadd('day', 1, 'evaluation_date') }} as {{ dbt.type_timestamp() }}) as next_day_start
    from evaluation_dates
),

active_customers as (
    -- the master version in force at the end of the evaluation date
    select
        windows.evaluation_date,
        windows.window_12m_start,
        windows.window_24m_start,
        versions.cons_no,
        versions.customer_sk,
        versions.org_no,
        versions.elec_type,
        versions.open_date
    from windows
    inner join versions
        on versions.effective_from < windows.next_day_start
        and (versions.effective_to is null or versions.effective_to >= windows.next_day_start)
    where versions.status = 'ACTIVE'
),

punctuality as (
    select
        active_customers.evaluation_date,
        active_customers.cons_no,
        count(*) as bills_due,
        sum(case when receivables.is_paid_on_time then 1 else 0 end) as bills_on_time
    from active_customers
    inner join receivables
        on receivables.cons_no = active_customers.cons_no
        and receivables.due_date > active_customers.window_12m_start
        and receivables.due_date <= active_customers.evaluation_date
    group by active_customers.evaluation_date, active_customers.cons_no
),

arrears_at_date as (
    select
        snapshot_date as evaluation_date,
        cons_no,
        count(*) as receivables_in_arrears,
        sum(arrears_yuan) as arrears_yuan,
        max(days_overdue) as oldest_days_overdue
    from arrears
    group by snapshot_date, cons_no
),

compliance as (
    select
        active_customers.evaluation_date,
        active_customers.cons_no,
        sum(case when violations.case_type = 'BREACH' then 1 else 0 end) as breaches_24m,
        sum(case when violations.case_type = 'THEFT' then 1 else 0 end) as thefts_24m
    from active_customers
    inner join violations
        on violations.cons_no = active_customers.cons_no
        and violations.found_date > active_customers.window_24m_start
        and violations.found_date <= active_customers.evaluation_date
    group by active_customers.evaluation_date, active_customers.cons_no
),

disconnections as (
    select
        active_customers.evaluation_date,
        active_customers.cons_no,
        count(*) as disconnects_12m
    from active_customers
    inner join dunning
        on dunning.cons_no = active_customers.cons_no
        and dunning.event_date > active_customers.window_12m_start
        and dunning.event_date <= active_customers.evaluation_date
    group by active_customers.evaluation_date, active_customers.cons_no
),

tenure as (
    -- whole years = completed anniversaries: the calendar-year difference, less one when this
    -- year's anniversary still lies after the evaluation date
    select
        evaluation_date,
        cons_no,
        case
            when open_date is null or open_date > evaluation_date then 0
            when cast({{ dbt.dateadd('year', dbt.datediff('open_date', 'evaluation_date', 'year'), 'open_date') }} as date)
                > evaluation_date
                then {{ dbt.datediff('open_date', 'evaluation_date', 'year') }} - 1
            else {{ dbt.datediff('open_date', 'evaluation_date', 'year') }}
        end as tenure_years
    from active_customers
),

combined as (
    select
        active_customers.evaluation_date,
        active_customers.cons_no,
        active_customers.customer_sk,
        active_customers.org_no,
        active_customers.elec_type,
        active_customers.open_date,
        coalesce(punctuality.bills_due, 0) as bills_due_12m,
        coalesce(punctuality.bills_on_time, 0) as bills_on_time_12m,
        coalesce(arrears_at_date.receivables_in_arrears, 0) as receivables_in_arrears,
        coalesce(arrears_at_date.arrears_yuan, 0) as arrears_yuan,
        arrears_at_date.oldest_days_overdue,
        coalesce(compliance.breaches_24m, 0) as breaches_24m,
        coalesce(compliance.thefts_24m, 0) as thefts_24m,
        coalesce(disconnections.disconnects_12m, 0) as disconnects_12m,
        tenure.tenure_years
    from active_customers
    left join punctuality
        on active_customers.evaluation_date = punctuality.evaluation_date
        and active_customers.cons_no = punctuality.cons_no
    left join arrears_at_date
        on active_customers.evaluation_date = arrears_at_date.evaluation_date
        and active_customers.cons_no = arrears_at_date.cons_no
    left join compliance
        on active_customers.evaluation_date = compliance.evaluation_date
        and active_customers.cons_no = compliance.cons_no
    left join disconnections
        on active_customers.evaluation_date = disconnections.evaluation_date
        and active_customers.cons_no = disconnections.cons_no
    left join tenure
        on active_customers.evaluation_date = tenure.evaluation_date
        and active_customers.cons_no = tenure.cons_no
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
    end as credit_grade
from scored
