-- One row per theft or breach case (窃电/违约用电) with recovered energy, amount and penalty.
with cases as (
    select * from {{ ref('stg_marketing__violations') }}
),

attributes as (
    select month, cons_no, customer_sk, org_no, elec_type from {{ ref('int_customer_months') }}
)

select
    cases.case_id,
    cases.cons_no,
    attributes.customer_sk,
    cases.case_type,
    cases.found_date,
    attributes.org_no,
    attributes.elec_type,
    cast(cases.recovered_kwh as decimal(18, 2)) as recovered_kwh,
    cast(cases.recovered_yuan as decimal(18, 2)) as recovered_yuan,
    cast(cases.penalty_yuan as decimal(18, 2)) as penalty_yuan
from cases
left join attributes
    on cases.cons_no = attributes.cons_no
    and cast({{ dbt.date_trunc('month', 'cases.found_date') }} as date) = attributes.month
