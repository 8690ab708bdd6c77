-- A table, not a view: several models and tests read it, and each read of a view would repeat
-- the deduplication window over every delivered row (docs/benchmarks.md, fix 4).
{{ config(materialized='table') }}

with renamed as (
    select * from {{ ref('base_marketing__payments') }}
),

deduped as (
    {{ latest_per_key('renamed', ['pay_id']) }}
)

select pay_id, cons_no, bill_id, pay_time, channel, amount_yuan, penalty_yuan, reversal_of, _business_date
from deduped
