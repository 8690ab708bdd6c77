{# Cross-database helpers for the Spark target (docs/spark.md). DuckDB keeps dbt's own
   implementations; these replace dbt-spark's where they differ from DuckDB in meaning or fail
   on NULL (dbt-spark wraps its arguments in assert_not_null, so a NULL date raises instead of
   giving NULL).

   dateadd: timestampadd clamps to the month's last day like DuckDB's `+ interval` (31 Jan + 1
   month = 28/29 Feb) and, like DuckDB, returns a timestamp.
   datediff: the number of day / month / year boundaries crossed (DuckDB's date_diff), and whole
   seconds / minutes / hours between two timestamps. #}

{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart | upper }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
        datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
    {%- elif datepart == 'month' -%}
        ((year({{ second_date }}) - year({{ first_date }})) * 12 + month({{ second_date }}) - month({{ first_date }}))
    {%- elif datepart == 'year' -%}
        (year({{ second_date }}) - year({{ first_date }}))
    {%- elif datepart in ('hour', 'minute', 'second') -%}
        {%- set seconds = {'hour': 3600, 'minute': 60, 'second': 1}[datepart] -%}
        ((unix_timestamp(cast({{ second_date }} as timestamp)) - unix_timestamp(cast({{ first_date }} as timestamp))) div {{ seconds }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("datediff by '" ~ datepart ~ "' is not implemented for Spark in this project") }}
    {%- endif -%}
{%- endmacro %}

{# ISO weekday, Monday = 1 … Sunday = 7. #}
{% macro iso_weekday(expr) -%}
    {{ return(adapter.dispatch('iso_weekday', 'powercrm')(expr)) }}
{%- endmacro %}

{% macro default__iso_weekday(expr) -%}
    isodow({{ expr }})
{%- endmacro %}

{% macro spark__iso_weekday(expr) -%}
    extract(dayofweek_iso from {{ expr }})
{%- endmacro %}

{# A text literal, quotes (and on Spark backslashes) escaped. #}
{% macro sql_string(value) -%}
    {{ return(adapter.dispatch('sql_string', 'powercrm')(value)) }}
{%- endmacro %}

{% macro default__sql_string(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__sql_string(value) -%}
    '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{# `with name as {{ not_materialized() }} (…)`: on DuckDB a CTE read by several consumers is
   otherwise materialized whole (every row and column of a big table copied once) before any
   consumer's filter applies; not materialized, each consumer scans the table with its own
   filters pushed down. Spark has no such keyword (and inlines CTEs anyway). #}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'powercrm')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}
    not materialized
{%- endmacro %}

{% macro spark__not_materialized() -%}
{%- endmacro %}

{# `with name as {{ materialized_cte() }} (…)`: the CTE's rows are stored once and read back.
   A workaround for DuckDB 2.0.0, whose "dictionary-surviving" hash join fails with a fatal
   INTERNAL error ("dict-surviving join: narrowed column N received a non-dictionary chunk") when
   its build side is fed straight by another hash join whose small build side emits dictionary
   vectors for some chunks and flat vectors for others (duckdb/duckdb#24807 is the same check).
   A fatal error invalidates the database for the rest of the dbt run. A materialized CTE hands
   the next join flat chunks. Spark has no such keyword (and needs no workaround). #}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'powercrm')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
    materialized
{%- endmacro %}

{% macro spark__materialized_cte() -%}
{%- endmacro %}
