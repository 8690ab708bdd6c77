-- One row per customer ACTIVE at the data date (the customers of customer_credit): the combined
-- segment (客户细分) of its value class (ABC, from customer_value) and its credit grade, and the
-- service strategy that goes with it (dim_segment). An active customer without a bill in the
-- value window has no customer_value row: no profit means value class C (profit ≤ 0 is C), and
-- has_value_row says so.
with credit as (
    select * from {{ ref('customer_credit') }}
),

customer_value as (
    select * from {{ ref('customer_value') }}
),

matrix as (
    select * from {{ ref('int_credit_segment_matrix') }}
),

segments as (
    select * from {{ ref('dim_segment') }}
),

classified as (
    select
        credit.cons_no,
        credit.as_of_date,
        credit.org_no,
        credit.elec_type,
        coalesce(customer_value.abc_class, 'C') as abc_class,
        customer_value.cons_no is not null as has_value_row,
        credit.credit_score,
        credit.credit_grade
    from credit
    left join customer_value on credit.cons_no = customer_value.cons_no
),

final as (
    select
        classified.*,
        matrix.segment_no,
        segments.segment_label_zh,
        segments.segment_label_en,
        segments.service_strategy_zh,
        segments.service_strategy_en
    from classified
    inner join matrix
        on classified.abc_class = matrix.abc_class
        and classified.credit_grade = matrix.credit_grade
    left join segments on matrix.segment_no = segments.segment_no
)

select
    cons_no,
    cast(as_of_date as date) as as_of_date,
    org_no,
    elec_type,
    abc_class,
    has_value_row,
    credit_score,
    credit_grade,
    segment_no,
    segment_label_zh,
    segment_label_en,
    service_strategy_zh,
    service_strategy_en
from final
