-- One row per customer ACTIVE at an evaluation date × evaluation date (every month end up to the
-- data date, and the data date): value class, credit grade and the combined segment, all by the
-- same rules as the published customer_value, customer_credit and customer_segment. A customer
-- without a bill in the value window has no profit: class C.
with scores as (
    select * from {{ ref('int_credit_scores') }}
),

value_classes as (
    select * from {{ ref('int_profit_value_classes') }}
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
    matrix.segment_no
from scores
left join value_classes
    on scores.evaluation_date = value_classes.evaluation_date
    and scores.cons_no = value_classes.cons_no
inner join matrix
    on coalesce(value_classes.abc_class, 'C') = matrix.abc_class
    and scores.credit_grade = matrix.credit_grade
