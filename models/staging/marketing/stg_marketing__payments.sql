-- One row per pay_id: the latest delivery (macros/cleaning.sql, latest_per_key).
-- A table, not a view: several models and tests read it, and each read of a view would repeat
-- the deduplication window over every delivered row (docs/benchmarks.md, fix 4).
-- Incremental: a night reads only the rows of the payment partitions loaded since the last
-- build and lets them compete with the rows in force for the same pay_id (the latest
-- business_date wins, as in a full build). A redelivered partition (its earlier rows may have
-- been dropped) rebuilds the table whole (macros/incremental.sql, latest_per_key_incremental).
-- Before the merge, the rows in force for the pay_ids delivered again are kept in
-- stg_marketing__payments__superseded (macros/incremental.sql, record_superseded_payments).
-- depends_on: {{ ref('base_marketing__payments') }}
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='pay_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook=[
        "{{ delete_all_on_redelivery(['payment']) }}",
        "{{ record_superseded_payments() }}",
    ],
) }}
{{ latest_per_key_incremental(
    ref('base_marketing__payments'), 'pay_id',
    ['pay_id', 'cons_no', 'bill_id', 'pay_time', 'channel', 'amount_yuan', 'penalty_yuan', 'reversal_of'],
    'payment') }}
