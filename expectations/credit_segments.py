"""Suite `credit_segments`: 信用评级 and 客户细分 (customer_credit, customer_segment, dim_segment,
customer_segment_history).

- keys; every customer ACTIVE at the data date has exactly one credit row and exactly one
  segment, and no one else has;
- scores 0–100, the grade follows the score, the segment follows the value class × grade
  matrix of METRICS.md, the value class is customer_value's (C without a value row);
- segment numbers 1–5, all five segments described in dim_segment.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from powercrm.quality.checks import ERROR, Suite
from powercrm.quality.config import QualityConfig

DATA_DATE = "(select max(business_date) from meta.partitions where status = 'LOADED')"
GRADES = ["AAA", "AA", "A", "B", "C"]
GRADE_SQL = """case when credit_score >= 90 then 'AAA' when credit_score >= 80 then 'AA'
                    when credit_score >= 70 then 'A' when credit_score >= 60 then 'B' else 'C' end"""
SEGMENT_SQL = """case abc_class
        when 'A' then case when credit_grade in ('AAA', 'AA') then 1 when credit_grade = 'A' then 1
                           when credit_grade = 'B' then 2 else 3 end
        when 'B' then case when credit_grade in ('AAA', 'AA') then 2 when credit_grade = 'A' then 3
                           when credit_grade = 'B' then 3 else 4 end
        when 'C' then case when credit_grade in ('AAA', 'AA') then 3 when credit_grade = 'A' then 4
                           when credit_grade = 'B' then 4 else 5 end
    end"""


def build(cfg: QualityConfig) -> Suite:
    s = Suite("credit_segments", "Credit rating and segmentation: coverage, score and grade rules, segment matrix")

    s.primary_key("marts.customer_credit", ["cons_no"])
    s.primary_key("marts.customer_segment", ["cons_no"])
    s.primary_key("marts.dim_segment", ["segment_no"])
    s.primary_key("marts.customer_segment_history", ["snapshot_date", "from_segment_no", "to_segment_no"],
                  nullable=("from_segment_no", "to_segment_no"))

    s.query("customer_credit.coverage", "marts.customer_credit", f"""
        with active as (
            select distinct cons_no from core.dim_customer
            where status = 'ACTIVE'
              and valid_from < {DATA_DATE} + interval 1 day
              and (valid_to is null or valid_to >= {DATA_DATE} + interval 1 day)
        ),
        rated as (select distinct cons_no from marts.customer_credit)
        select coalesce(active.cons_no, rated.cons_no) as cons_no,
               case when rated.cons_no is null then 'active, no credit row' else 'credit row, not active' end
                   as problem
        from active full outer join rated on active.cons_no = rated.cons_no
        where active.cons_no is null or rated.cons_no is null
        order by 1
    """, {"marts.customer_credit": ["cons_no"],
          "core.dim_customer": ["cons_no", "status", "valid_from", "valid_to"],
          "meta.partitions": ["business_date", "status"]}, violations=True).expect(
        "customer_credit.covers_active_customers", gxe.ExpectTableRowCountToEqual(value=0), ERROR,
        "customer_credit has one row for every customer ACTIVE at the data date, and no other",
        "Customers would be missing from credit-based decisions (deposits, dunning).")

    s.query("customer_credit.rules", "marts.customer_credit", f"""
        select cons_no, credit_score, credit_grade, {GRADE_SQL} as expected_grade
        from marts.customer_credit
    """, {"marts.customer_credit": ["cons_no", "credit_score", "credit_grade"]}).expect(
        "customer_credit.score_range",
        gxe.ExpectColumnValuesToBeBetween(column="credit_score", min_value=0, max_value=100), ERROR,
        "credit_score lies between 0 and 100",
    ).expect(
        "customer_credit.score_not_null", gxe.ExpectColumnValuesToNotBeNull(column="credit_score"), ERROR,
        "every active customer has a credit score",
    ).expect(
        "customer_credit.grade_follows_score",
        gxe.ExpectColumnPairValuesToBeEqual(column_A="credit_grade", column_B="expected_grade"), ERROR,
        "credit_grade: AAA ≥ 90, AA ≥ 80, A ≥ 70, B ≥ 60, else C")

    s.query("customer_segment.coverage", "marts.customer_segment", """
        select coalesce(credit.cons_no, seg.cons_no) as cons_no,
               case when seg.cons_no is null then 'rated, no segment' else 'segment, not rated' end as problem
        from (select distinct cons_no from marts.customer_credit) as credit
        full outer join (select distinct cons_no from marts.customer_segment) as seg on credit.cons_no = seg.cons_no
        where credit.cons_no is null or seg.cons_no is null
        order by 1
    """, {"marts.customer_segment": ["cons_no"], "marts.customer_credit": ["cons_no"]}, violations=True).expect(
        "customer_segment.covers_rated_customers", gxe.ExpectTableRowCountToEqual(value=0), ERROR,
        "every customer of customer_credit is in exactly one segment, and no one else is",
        "Service strategies would miss customers.")

    s.query("customer_segment.rules", "marts.customer_segment", f"""
        select seg.cons_no, seg.abc_class, seg.credit_grade, seg.segment_no,
               {SEGMENT_SQL.replace('abc_class', 'seg.abc_class').replace('credit_grade', 'seg.credit_grade')}
                   as expected_segment_no,
               seg.abc_class as segment_abc_class,
               coalesce(val.abc_class, 'C') as value_abc_class
        from marts.customer_segment as seg
        left join marts.customer_value as val on seg.cons_no = val.cons_no
    """, {"marts.customer_segment": ["cons_no", "abc_class", "credit_grade", "segment_no"],
          "marts.customer_value": ["cons_no", "abc_class"]}).expect(
        "customer_segment.segment_range",
        gxe.ExpectColumnValuesToBeBetween(column="segment_no", min_value=1, max_value=5), ERROR,
        "segment_no is 1–5",
    ).expect(
        "customer_segment.segment_not_null", gxe.ExpectColumnValuesToNotBeNull(column="segment_no"), ERROR,
        "every customer has a segment",
    ).expect(
        "customer_segment.grade_valid", gxe.ExpectColumnValuesToBeInSet(column="credit_grade", value_set=GRADES),
        ERROR, "credit_grade is AAA, AA, A, B or C",
    ).expect(
        "customer_segment.follows_matrix",
        gxe.ExpectColumnPairValuesToBeEqual(column_A="segment_no", column_B="expected_segment_no"), ERROR,
        "the segment follows the value class × credit grade matrix of METRICS.md",
    ).expect(
        "customer_segment.abc_class_is_customer_value",
        gxe.ExpectColumnPairValuesToBeEqual(column_A="segment_abc_class", column_B="value_abc_class"), ERROR,
        "the value class is customer_value's (C for an active customer without a bill in the window)")

    s.query("dim_segment.count", "marts.dim_segment", "select segment_no from marts.dim_segment",
            {"marts.dim_segment": ["segment_no"]}).expect(
        "dim_segment.five_segments", gxe.ExpectColumnDistinctValuesToEqualSet(column="segment_no",
                                                                              value_set=[1, 2, 3, 4, 5]), ERROR,
        "dim_segment describes exactly the segments 1–5")
    return s
