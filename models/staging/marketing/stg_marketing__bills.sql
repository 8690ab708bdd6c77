-- One row per bill_id: the latest delivery (macros/cleaning.sql, latest_per_key).
-- A table, not a view: several models and tests read it, and each read of a view would repeat
-- the deduplication window over every delivered row (docs/benchmarks.md, fix 4).
-- Incremental: a night reads only the rows of the bill partitions loaded since the last build
-- and lets them compete with the rows in force for the same bill_id (the latest business_date
-- wins, as in a full build). A redelivered partition (its earlier rows may have been dropped)
-- rebuilds the table whole (macros/incremental.sql, is_redelivery).
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='bill_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ delete_all_on_redelivery(['bill']) }}",
) }}
{%- set whole = builds_whole(['bill']) %}

with renamed as (
    select
        bill_id, cons_no, billing_month, bill_type, ref_bill_id, issue_date, due_date, kwh, amount_yuan,
        tariff_code, _business_date, _record_no, _loaded_at
    from {{ ref('base_marketing__bills') }}
    {%- if not whole %}
    where {{ partition_filter('_business_date', 'bill') }}
    {%- endif %}
),

candidates as (
    select * from renamed
    {%- if not whole %}
    union all
    -- the rows in force for the same bills: a new row replaces them only when it is later
    select
        bill_id, cons_no, billing_month, bill_type, ref_bill_id, issue_date, due_date, kwh, amount_yuan,
        tariff_code, _business_date, _record_no, _loaded_at
    from {{ this }}
    where bill_id in (select bill_id from renamed)
    {%- endif %}
),

deduped as (
    {{ latest_per_key('candidates', ['bill_id']) }}
)

select
    bill_id, cons_no, billing_month, bill_type, ref_bill_id, issue_date, due_date, kwh, amount_yuan,
    tariff_code, _business_date, _record_no, _loaded_at
from deduped
