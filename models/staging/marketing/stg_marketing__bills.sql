-- A table, not a view: several models and tests read it, and each read of a view would repeat
-- the deduplication window over every delivered row (docs/benchmarks.md, fix 4).
{{ config(materialized='table') }}

with renamed as (
    select * from {{ ref('base_marketing__bills') }}
),

deduped as (
    {{ latest_per_key('renamed', ['bill_id']) }}
)

select
    bill_id, cons_no, billing_month, bill_type, ref_bill_id, issue_date, due_date, kwh, amount_yuan,
    tariff_code, _business_date
from deduped
