-- One row per customer ACTIVE at an evaluation date × evaluation date (every month end up to the
-- data date, and the data date): value class, credit grade and the combined segment, all by the
-- same rules as the published customer_value, customer_credit and customer_segment. A customer
-- without a bill in the value window has no profit: class C.
-- Incremental: a row joins one int_credit_scores row and one int_profit_value_classes row of the
-- same customer and date. A night therefore re-joins the customers int_credit_scores re-scores
-- at every date (macros/batches.sql, credit_batch_customers), every customer at the dates not
-- built yet and at the dates int_profit_value_classes re-ranked (its rows stamped since this
-- model's last build), and drops the dates no longer in force. What rebuilds either input whole
-- rebuilds this model whole, and so does the monthly billing day (is_bulk_delivery, as for
-- int_credit_scores): that night int_credit_scores re-scores nearly every customer, and the keyed
-- batch (delete then insert of nearly every row) costs more than the whole join.
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('int_receivables') }}
-- depends_on: {{ ref('base_marketing__bills') }}
-- depends_on: {{ ref('base_marketing__customers') }}
-- depends_on: {{ ref('int_customer_versions') }}
-- depends_on: {{ source('raw', 'dunning') }}
-- depends_on: {{ source('raw', 'violation') }}
{%- set extracts = ['bill', 'bill_item', 'payment', 'cust', 'cost', 'dunning', 'violation'] %}
{%- set any_change = ['tariff'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'whole_on_bulk': {'extract': 'bill', 'share': 0.5}},
    pre_hook=[
        "{{ prepare_evaluation_date_batch(['bill', 'bill_item', 'payment', 'cust', 'cost', 'dunning', 'violation'], ['tariff'], 'select distinct evaluation_date from ' ~ ref('int_profit_value_classes') ~ ' where _loaded_at > ' ~ last_build_stamp()) }}",
        "{{ prepare_key_batch('cons_no', credit_batch_customers(), ['bill', 'bill_item', 'payment', 'cust', 'cost', 'dunning', 'violation'], ['tariff']) }}",
    ],
    post_hook=["{{ drop_key_batch() }}", "{{ drop_key_batch(period_batch_relation()) }}"],
) }}
with scores as (
    select * from {{ ref('int_credit_scores') }}
    where true{{ in_customer_date_batch('cons_no', 'evaluation_date', extracts, any_change) }}
),

value_classes as (
    select * from {{ ref('int_profit_value_classes') }}
    where true{{ in_customer_date_batch('cons_no', 'evaluation_date', extracts, any_change) }}
),

matrix as (
    select * from {{ ref('int_credit_segment_matrix') }}
)

select
    scores.evaluation_date,
    scores.cons_no,
    scores.org_no,
    scores.elec_type,
    coalesce(value_classes.abc_class, 'C') as abc_class,
    scores.credit_score,
    scores.credit_grade,
    matrix.segment_no,
    {{ build_stamp() }} as _loaded_at
from scores
left join value_classes
    on scores.evaluation_date = value_classes.evaluation_date
    and scores.cons_no = value_classes.cons_no
inner join matrix
    on coalesce(value_classes.abc_class, 'C') = matrix.abc_class
    and scores.credit_grade = matrix.credit_grade
