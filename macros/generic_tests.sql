{# Generic tests the project needs (dbt_utils is not reachable offline). #}

{# The combination of columns is unique: the primary key of a table with a compound grain. #}
{% test unique_combination(model, combination) %}
{{ repeated_keys(model, combination) }}
{% endtest %}

{# dbt's `unique` test on DuckDB: the same failing rows (each repeated non-NULL value and its
   count), found through a 64-bit hash of the value as `repeated_keys` does. #}
{% macro duckdb__test_unique(model, column_name) %}
{{ repeated_keys(model, [column_name], 'unique_field', 'n_records', skip_nulls=true) }}
{% endmacro %}

{# The keys of `model` that occur more than once, with their count: `group by <key> having
   count(*) > 1`. On DuckDB one small hash table of a 64-bit hash of the key first finds the hashes
   that occur twice, and only their rows are grouped by the key itself, so the result is exact (a
   key that merely shares a hash with a repeated one counts once and is not returned). Grouping
   20–40 M text keys directly builds a hash table of every key (1 000 000 customers:
   int_receivable_balances' key 7.0 → 4.3 s; int_receivables' bill_id 4.4 → 2.6 s cold, equal
   warm; docs/benchmarks.md). NULL keys: a group of their own, as in `group by`
   (`skip_nulls`: left out, as dbt's `unique` does). #}
{% macro repeated_keys(model, columns, key_alias=none, count_alias='n_rows', skip_nulls=false) %}
    {%- set keys = columns | join(', ') %}
    {%- set where %}{% if skip_nulls %}{% for c in columns %}{{ c }} is not null and {% endfor %}{% endif %}true{% endset %}
    {%- set counted %}select {{ keys }}{% if key_alias %} as {{ key_alias }}{% endif %}, count(*) as {{ count_alias }}{% endset %}
    {{ return(adapter.dispatch('repeated_keys', 'powercrm')(model, keys, where, counted)) }}
{% endmacro %}

{% macro default__repeated_keys(model, keys, where, counted) %}
with repeated_hashes as (
    select hash({{ keys }}) as _key_hash
    from {{ model }}
    where {{ where }}
    group by 1
    having count(*) > 1
)
{{ counted }}
from {{ model }}
where {{ where }} and hash({{ keys }}) in (select _key_hash from repeated_hashes)
group by {{ keys }}
having count(*) > 1
{% endmacro %}

{% macro spark__repeated_keys(model, keys, where, counted) %}
{{ counted }}
from {{ model }}
where {{ where }}
group by {{ keys }}
having count(*) > 1
{% endmacro %}

{# unique_combination for a night: only the keys of the rows this build wrote are looked for
   twice. A duplicate needs two rows of one key; the table was unique before (the previous
   night, or the full check), and rows only arrive with tonight's stamp, so a duplicate has a
   row among them. Tonight's stamp: `build_stamps` given (the partitions in force,
   stg_meta__partitions), their newest `loaded_at`, the build stamp every incremental model
   writes (macros/incremental.sql, build_stamp); so a table the night did not touch has no row
   of tonight and costs one scan of its stamp column (the newest stamp in the table would be the
   last build's: after a full build, every row). Without `build_stamps`, the newest
   `stamp_column` in the table. When at least half the rows are tonight's (a model rebuilt whole
   inside the night), one grouping pass finds the same keys: those counted twice with a row of
   tonight. Tagged `new_rows` in the models' yml: a full check (first build, rebuild,
   --full-check, the weekly check) runs the whole-table unique_combination (tagged full_scan)
   instead. #}
{% test unique_combination_in_new_rows(model, combination, stamp_column='_loaded_at', build_stamps=none) %}
{%- set tonight -%}
    {%- if build_stamps is not none -%}
    (select max(loaded_at) from {{ build_stamps }})
    {%- else -%}
    (select max({{ stamp_column }}) from {{ model }})
    {%- endif -%}
{%- endset -%}
{#- most rows tonight's (a model rebuilt whole inside the night, e.g. on the monthly billing day:
    macros/incremental.sql, is_bulk_delivery): one grouping pass over the table costs less than
    looking up tonight's keys (1 000 000 customers, int_credit_scores: 7.5 s against 17–19 s) -#}
{%- set mostly_new = false -%}
{%- if execute -%}
    {%- set share_query -%}
        select count(*) filter (where {{ stamp_column }} = {{ tonight }}) * 2 >= count(*) from {{ model }}
    {%- endset -%}
    {%- set mostly_new = run_query(share_query).columns[0].values()[0] -%}
{%- endif -%}
{%- if mostly_new %}
select {{ combination | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1 and bool_or({{ stamp_column }} = {{ tonight }})
{%- else %}
with new_keys as (
    select distinct {{ combination | join(', ') }}
    from {{ model }}
    where {{ stamp_column }} = {{ tonight }}
)
select {% for c in combination %}checked.{{ c }}, {% endfor %}count(*) as n_rows
from {{ model }} as checked
where exists (
    select 1 from new_keys
    where {% for c in combination %}new_keys.{{ c }} is not distinct from checked.{{ c }}{% if not loop.last %} and {% endif %}{% endfor %}
)
group by {% for c in combination %}checked.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
having count(*) > 1
{%- endif %}
{% endtest %}

{# Every row satisfies the SQL expression. #}
{% test expression_is_true(model, expression, where=none) %}
select *
from {{ model }}
where not ({{ expression }})
{%- if where %} and ({{ where }}){% endif %}
{% endtest %}

{# Σ column of the model equals Σ column of another model (within tolerance): nothing lost,
   nothing doubled between layers. #}
{% test equal_sums(model, column_name, compare_model, compare_column, tolerance=0.005) %}
with a as (select coalesce(sum({{ column_name }}), 0) as total from {{ model }}),
b as (select coalesce(sum({{ compare_column }}), 0) as total from {{ compare_model }})
select a.total as model_total, b.total as compare_total
from a cross join b
where abs(a.total - b.total) > {{ tolerance }}
{% endtest %}

{# Same row count as another model (optionally filtered). #}
{% test equal_rowcount_to(model, compare_model, where=none) %}
with a as (select count(*) as n from {{ model }}),
b as (select count(*) as n from {{ compare_model }} {% if where %}where {{ where }}{% endif %})
select a.n as model_rows, b.n as compare_rows
from a cross join b
where a.n <> b.n
{% endtest %}

{# Every customer number is a known customer: it has a master version (`customers`, dim_customer),
   or it is named by bills whose customer-master row has not arrived yet (`bills`: fct_bill, whose
   customer_sk is NULL for them). SOURCE_EXTRACTS.md lists bills that name a customer whose master
   arrives later, and METRICS.md drops no fact row for a missing master: a bill-based mart
   (customer_value, customer_profit_monthly, arrears_top_customers) holds such a customer from its
   first bill on, days before the master arrives (1 000 000 customers: 174 new customers billed
   on the monthly billing day). The relationships test to dim_customer alone blocked that night's
   publish; fct_bill's `customer_known` check warns about those bills instead. A customer number
   that neither dim_customer nor any bill knows still fails. #}
{% test known_customer(model, column_name, customers, bills) %}
select checked.{{ column_name }}
from {{ model }} as checked
where checked.{{ column_name }} is not null
    and not exists (
        select 1 from {{ customers }} as known where known.cons_no = checked.{{ column_name }})
    and not exists (
        select 1 from {{ bills }} as billed
        where billed.cons_no = checked.{{ column_name }} and billed.customer_sk is null)
{% endtest %}
