{# Incremental facts: a nightly run processes only the partitions loaded since the last build.

   changed_partitions(extract): the business dates of `extract` whose current delivery was
   loaded after the newest row already in {{ this }} (every date on a full refresh), as a query
   (`select business_date ...`). partition_filter(column, extract) is the filter to use:
   when executing incrementally it runs that query at compile time (run_query) and renders a
   literal list, `column in (cast('2025-01-25' as date), ...)`, or `false` when nothing changed.
   A constant IN list is pushed into the scan of raw.<extract> and prunes row groups by their
   _business_date zone maps (docs/benchmarks.md, fix 2); a subquery would become a join after
   the cleaning projection of every row. On a full refresh (and on Spark, where the facts are
   tables) it renders the subquery: every partition in force.
   has_changed_partitions(extract): whether any partition changed (always true on a full
   refresh), so that optional branches (`or bill_id in ...`, `or cons_no in ...`) are rendered
   only when they can match.
   changed_customers(): the customers with a master version in a changed `cust` partition;
   their facts are re-derived because the version in force (customer_sk, station, category)
   may have changed, e.g. when a late master arrives. #}

{% macro changed_partitions(extract) -%}
    select business_date
    from {{ ref('stg_meta__partitions') }}
    where extract = '{{ extract }}'
    {%- if is_incremental() %}
        and loaded_at > (select coalesce(max(_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }})
    {%- endif %}
{%- endmacro %}

{# The changed dates as 'YYYY-MM-DD' strings when executing incrementally, else none. #}
{% macro changed_partition_dates(extract) -%}
    {%- if execute and is_incremental() -%}
        {%- set query -%}
            select distinct cast(business_date as varchar) as business_date from ({{ changed_partitions(extract) }}) changed order by 1
        {%- endset -%}
        {%- set result = run_query(query) -%}
        {{ return(result.columns[0].values() | map('string') | list) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{% macro partition_filter(column, extract) -%}
    {%- set dates = changed_partition_dates(extract) -%}
    {%- if dates is none -%}
        {{ column }} in ({{ changed_partitions(extract) }})
    {%- elif dates | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for d in dates %}cast('{{ d }}' as date){{ ', ' if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{% macro has_changed_partitions(extract) -%}
    {%- set dates = changed_partition_dates(extract) -%}
    {{ return(dates is none or dates | length > 0) }}
{%- endmacro %}

{% macro changed_customers() -%}
    select distinct cons_no
    from {{ ref('base_marketing__customers') }}
    where {{ partition_filter('_business_date', 'cust') }}
{%- endmacro %}

{# Before an incremental batch: rows of reprocessed partitions go (a redelivery may drop rows). #}
{% macro delete_changed_partitions(extract) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ partition_filter('business_date', extract) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
