{# A column `month` (DATE, first day) for every month from start to end inclusive. #}
{% macro month_series(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('month_series', 'powercrm')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__month_series(start_expr, end_expr) -%}
    select cast(generate_series as date) as month
    from generate_series({{ start_expr }}, {{ end_expr }}, interval 1 month)
{%- endmacro %}

{% macro spark__month_series(start_expr, end_expr) -%}
    select explode(sequence({{ start_expr }}, {{ end_expr }}, interval 1 month)) as month
{%- endmacro %}

{# A column `date_day` for every day from start to end inclusive. #}
{% macro day_series(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('day_series', 'powercrm')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__day_series(start_expr, end_expr) -%}
    select cast(generate_series as date) as date_day
    from generate_series({{ start_expr }}, {{ end_expr }}, interval 1 day)
{%- endmacro %}

{% macro spark__day_series(start_expr, end_expr) -%}
    select explode(sequence({{ start_expr }}, {{ end_expr }}, interval 1 day)) as date_day
{%- endmacro %}

{# Round half-up (away from zero for the negative side) to `digits` decimals, in DECIMAL. #}
{% macro round_money(expr, digits=2) -%}
    cast(round(cast({{ expr }} as decimal(38, 10)), {{ digits }}) as decimal(18, {{ digits }}))
{%- endmacro %}
