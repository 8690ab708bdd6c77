{# Incremental facts: a nightly run processes only the partitions loaded since the last build.

   changed_partitions(extract): the business dates of `extract` whose current delivery was
   loaded after the newest row already in {{ this }} (every date on a full refresh).
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

{% macro changed_customers() -%}
    select distinct cons_no
    from {{ ref('base_marketing__customers') }}
    where _business_date in ({{ changed_partitions('cust') }})
{%- endmacro %}

{# Before an incremental batch: rows of reprocessed partitions go (a redelivery may drop rows). #}
{% macro delete_changed_partitions(extract) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where business_date in ({{ changed_partitions(extract) }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
