-- One row per theft or breach case (窃电/违约用电) with recovered energy, amount and penalty.
with cases as (
    select * from {{ ref('stg_marketing__violations') }}
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
{{ join_version_at_month_end('attributes', 'cases.cons_no', "cast(" ~ dbt.date_trunc('month', 'cases.found_date') ~ " as date)") }}
