-- One row per snapshot date (every month end up to the data date, and the data date) × station ×
-- elec_type (the customer's, in force at the snapshot date) × ageing bucket (账龄), over the
-- receivables in arrears at that date: how much is overdue, for how long, and the late-payment
-- penalty (违约金) accrued on it. Arrears and penalties come from core.fct_arrears_snapshot,
-- where the receivable rules live.
with snapshots as (
    select * from {{ ref('fct_arrears_snapshot') }}
    where is_in_arrears
),

final as (
    select
        snapshot_date,
        org_no,
        elec_type,
        ageing_bucket,
        count(*) as receivables,
        count(distinct cons_no) as customers,
        sum(arrears_yuan) as arrears_yuan,
        sum(penalty_accrued_yuan) as penalty_accrued_yuan
    from snapshots
    group by snapshot_date, org_no, elec_type, ageing_bucket
)

select
    cast(snapshot_date as date) as snapshot_date,
    org_no,
    elec_type,
    ageing_bucket,
    cast(receivables as {{ dbt.type_bigint() }}) as receivables,
    cast(customers as {{ dbt.type_bigint() }}) as customers,
    cast(arrears_yuan as decimal(18, 2)) as arrears_yuan,
    cast(penalty_accrued_yuan as decimal(18, 2)) as penalty_accrued_yuan
from final
