-- One row per billing month × station × elec_type (the customer's, in force at the end of the
-- billing month) that has a receivable or a refund issued by the data date: how much of what was
-- billed has been collected (电费回收率), and how much of it by the due date.
-- Receivables (bills with amount > 0, NORMAL or upward ADJUST) count in their billing month (an
-- ADJUST carries the month it corrects). collected = payments dated ≤ the data date naming the
-- receivable, BALANCE transfers and reversals included (net). collected_by_due counts only the
-- payments dated ≤ the receivable's own due date. refund_yuan = Σ downward ADJUST amounts (≤ 0).
with receivables as (
    select * from {{ ref('int_receivables') }}
),

bills as {{ not_materialized() }} (
    -- not materialized: read twice below, DuckDB would otherwise copy every bill first (≈ 5 GB
    -- and a third of the model's time at 1 M customers)
    select * from {{ ref('fct_bill') }}
),

data_date as (
    select as_of_date from {{ ref('int_data_date') }}
),

issued_bills as {{ not_materialized() }} (
    select bills.*
    from bills
    cross join data_date
    where bills.issue_date <= data_date.as_of_date
),

receivable_figures as (
    select
        issued_bills.billing_month as month,
        issued_bills.org_no,
        issued_bills.elec_type,
        receivables.amount_yuan as billed_yuan,
        receivables.paid_yuan as collected_yuan,
        receivables.paid_by_due_yuan as collected_by_due_yuan,
        cast(0 as decimal(18, 2)) as refund_yuan
    from issued_bills
    inner join receivables on issued_bills.bill_id = receivables.bill_id
),

refund_figures as (
    select
        billing_month as month,
        org_no,
        elec_type,
        cast(0 as decimal(18, 2)) as billed_yuan,
        cast(0 as decimal(18, 2)) as collected_yuan,
        cast(0 as decimal(18, 2)) as collected_by_due_yuan,
        amount_yuan as refund_yuan
    from issued_bills
    where bill_type = 'ADJUST' and amount_yuan <= 0
),

grouped as (
    select
        month,
        org_no,
        elec_type,
        sum(billed_yuan) as billed_yuan,
        sum(collected_yuan) as collected_yuan,
        sum(collected_by_due_yuan) as collected_by_due_yuan,
        sum(refund_yuan) as refund_yuan
    from (
        select * from receivable_figures
        union all
        select * from refund_figures
    ) as figures
    group by month, org_no, elec_type
),

final as (
    select
        grouped.*,
        cast(collected_yuan as double) / nullif(billed_yuan, 0) as recovery_rate,
        cast(collected_by_due_yuan as double) / nullif(billed_yuan, 0) as on_time_recovery_rate
    from grouped
)

select
    cast(month as date) as month,
    org_no,
    elec_type,
    cast(billed_yuan as decimal(18, 2)) as billed_yuan,
    cast(collected_yuan as decimal(18, 2)) as collected_yuan,
    cast(recovery_rate as double) as recovery_rate,
    cast(collected_by_due_yuan as decimal(18, 2)) as collected_by_due_yuan,
    cast(on_time_recovery_rate as double) as on_time_recovery_rate,
    cast(refund_yuan as decimal(18, 2)) as refund_yuan
from final
