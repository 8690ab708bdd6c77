-- One row per value class (ABC) × credit grade: the combined segment (1 优质 … 5 差) of the
-- METRICS.md matrix. Written once here and joined by customer_segment and its month-end history.
{% set matrix = [
    ('A', 'AAA', 1), ('A', 'AA', 1), ('A', 'A', 1), ('A', 'B', 2), ('A', 'C', 3),
    ('B', 'AAA', 2), ('B', 'AA', 2), ('B', 'A', 3), ('B', 'B', 3), ('B', 'C', 4),
    ('C', 'AAA', 3), ('C', 'AA', 3), ('C', 'A', 4), ('C', 'B', 4), ('C', 'C', 5),
] %}
{% for abc_class, credit_grade, segment_no in matrix %}
select
    cast('{{ abc_class }}' as {{ dbt.type_string() }}) as abc_class,
    cast('{{ credit_grade }}' as {{ dbt.type_string() }}) as credit_grade,
    cast({{ segment_no }} as {{ dbt.type_int() }}) as segment_no
{% if not loop.last %}union all{% endif %}
{% endfor %}
