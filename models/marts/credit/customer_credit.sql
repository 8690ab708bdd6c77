-- One row per customer ACTIVE at the data date: the credit score 0–100 and grade (信用评级)
-- with the five components side by side, so that an account manager sees why. The rule lives in
-- int_credit_scores (shared with the month-end segment history); this is its data-date slice.
with scores as (
    select * from {{ ref('int_credit_scores') }}
),

data_date as (
    select as_of_date from {{ ref('int_data_date') }}
),

final as (
    select scores.*
    from scores
    inner join data_date on scores.evaluation_date = data_date.as_of_date
)

select
    cons_no,
    evaluation_date as as_of_date,
    customer_sk,
    org_no,
    elec_type,
    credit_score,
    credit_grade,
    punctuality_points,
    arrears_points,
    compliance_points,
    dunning_points,
    tenure_points,
    bills_due_12m,
    bills_on_time_12m,
    receivables_in_arrears,
    arrears_yuan,
    oldest_days_overdue,
    breaches_24m,
    thefts_24m,
    disconnects_12m,
    open_date,
    tenure_years
from final
