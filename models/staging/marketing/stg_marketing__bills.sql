-- One row per bill_id: the latest delivery (macros/cleaning.sql, latest_per_key).
-- A table, not a view: several models and tests read it, and each read of a view would repeat
-- the deduplication window over every delivered row (docs/benchmarks.md, fix 4).
-- Incremental: a night reads only the rows of the bill partitions loaded since the last build
-- and lets them compete with the rows in force for the same bill_id (the latest business_date
-- wins, as in a full build). A redelivered partition (its earlier rows may have been dropped)
-- rebuilds the table whole (macros/incremental.sql, latest_per_key_incremental).
-- Before the merge, the rows in force for the bill_ids delivered again are kept in
-- stg_marketing__bills__superseded (macros/incremental.sql, record_superseded_bills): the months
-- they were in are re-derived too (macros/batches.sql, changed_bill_months).
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='bill_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook=[
        "{{ delete_all_on_redelivery(['bill']) }}",
        "{{ record_superseded_bills() }}",
    ],
) }}
{{ latest_per_key_incremental(
    ref('base_marketing__bills'), 'bill_id',
    ['bill_id', 'cons_no', 'billing_month', 'bill_type', 'ref_bill_id', 'issue_date', 'due_date', 'kwh',
     'amount_yuan', 'tariff_code'],
    'bill') }}
