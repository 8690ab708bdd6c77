-- One row per reading_id: the latest delivery (macros/cleaning.sql, latest_per_key).
-- A table, not a view: int_months and fct_consumption read it, and each read of a view would
-- repeat the deduplication window over every delivered reading (docs/benchmarks.md, fix 4).
-- Incremental: a night reads only the rows of the reading partitions loaded since the last
-- build and lets them compete with the rows in force for the same reading_id (the latest
-- business_date wins, as in a full build). A redelivered partition (its earlier rows may have
-- been dropped) rebuilds the table whole (macros/incremental.sql, latest_per_key_incremental).
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='reading_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ delete_all_on_redelivery(['reading']) }}",
) }}
{{ latest_per_key_incremental(
    ref('base_marketing__readings'), 'reading_id',
    ['reading_id', 'cons_no', 'meter_id', 'billing_month', 'read_date', 'tou_period', 'start_reading',
     'end_reading', 'multiplier', 'meter_digits', 'kwh', 'max_demand_kw', 'kvarh', 'is_estimated'],
    'reading') }}
