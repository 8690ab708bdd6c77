{# Whole builds of the biggest tables in hash buckets of their key (DuckDB only).

   A whole build of fct_bill_line numbers every delivered bill line in one window (the latest
   delivery per key wins); past the memory limit that window spills, and its cost grows far faster
   than the data (1 000 000 customers, 119 M lines: 679 s, against 28 s for 24 M lines at
   200 000; docs/benchmarks.md). Every row of one key lies in one bucket, `hash(key) % N`, so the
   buckets can be built one after another, each small enough to stay in memory, and their union
   is exactly the one-statement result:

   - whole_build_buckets(sized_by, whole, rows_per_bucket): N, the rows of `sized_by` (a relation)
     over rows_per_bucket (the model's choice; the environment variable POWERCRM_BUCKET_ROWS
     overrides it for every model: the tests force many buckets with it); 1 when the build is
     not whole (a night's batch is small), on Spark, at parse time, and where `sized_by` does
     not exist yet (`dbt compile` of an empty database).
   - in_hash_bucket(expr, buckets): ` and hash(<expr>) % N = 0` plus a marker comment when N > 1,
     else nothing. Put it on every input that is keyed by the same key, so that a bucket's joins
     read only their bucket too.
   - insert_other_buckets(): the post-hook that inserts buckets 1 … N-1: the model's compiled SQL
     with the marked predicate set to each bucket in turn (inside the model's transaction, after
     the materialization wrote bucket 0). Nothing when the compiled SQL carries no marker.

   hash() is the same for the same value within a build, and hash(NULL) is a number, so every row
   lands in exactly one bucket. tests/test_incremental.py builds with N > 1 and compares the
   result with N = 1. #}

{% macro whole_build_buckets(sized_by, whole=true, rows_per_bucket=12000000) -%}
    {%- if not execute or target.type == 'spark' or not whole or load_relation(sized_by) is none -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set rows_per_bucket = env_var("POWERCRM_BUCKET_ROWS", rows_per_bucket | string) | int -%}
    {%- set rows = run_query('select count(*) from ' ~ sized_by).columns[0].values()[0] | int -%}
    {{ return([1, (rows + rows_per_bucket - 1) // ([rows_per_bucket, 1] | max)] | max) }}
{%- endmacro %}

{% macro bucket_marker(bucket, buckets) -%}
    % {{ buckets }} = {{ bucket }} /* powercrm bucket {{ bucket }} of {{ buckets }} */
{%- endmacro %}

{% macro in_hash_bucket(expr, buckets) -%}
    {%- if buckets > 1 %} and hash({{ expr }}) {{ bucket_marker(0, buckets) }}{% endif -%}
{%- endmacro %}

{% macro insert_other_buckets() -%}
    {%- set found = modules.re.search('/\\* powercrm bucket 0 of (\\d+) \\*/', sql or '') -%}
    {%- if not found -%}
    select 1
    {%- else -%}
        {%- set buckets = found.group(1) | int -%}
        {%- for bucket in range(1, buckets) %}
    insert into {{ this }} by name
    select * from (
{{ sql.replace(bucket_marker(0, buckets), bucket_marker(bucket, buckets)) }}
    ) as bucket_{{ bucket }};
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
