{# Cleaning macros shared by every staging model. Dispatched so that a Spark target can
   supply its own spelling where DuckDB syntax differs. The full-width table is the part of
   Unicode NFKC that codes need (`ＷＥＣＨＡＴ`, `２００`), the same table the loader checks
   codes with (src/powercrm/extracts.py). #}

{% macro normalize_code(expr) -%}
    {{ return(adapter.dispatch('normalize_code', 'powercrm')(expr)) }}
{%- endmacro %}

{# ASCII fast path: a value whose byte length equals its character length has no full-width
   character to map, and translate() costs ~7 µs per value (docs/benchmarks.md, fix 1). #}
{% macro default__normalize_code(expr) -%}
    nullif(trim(case when strlen({{ expr }}) = length({{ expr }}) then {{ expr }}
                     else translate({{ expr }}, {% raw %}'！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～　', '!"#$%&''()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~ '{% endraw %}) end), '')
{%- endmacro %}

{# Spark string literals know backslash escapes: the same map, escaped by sql_string. #}
{% macro spark__normalize_code(expr) -%}
    {%- set fullwidth %}{% raw %}！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～　{% endraw %}{% endset -%}
    {%- set halfwidth %}{% raw %}!"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~ {% endraw %}{% endset -%}
    nullif(trim(case when octet_length({{ expr }}) = char_length({{ expr }}) then {{ expr }}
                     else translate({{ expr }}, {{ sql_string(fullwidth) }}, {{ sql_string(halfwidth) }}) end), '')
{%- endmacro %}

{% macro clean_text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{% macro to_decimal(expr, precision=18, scale=2) -%}
    cast(nullif(trim({{ expr }}), '') as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}

{% macro to_int(expr) -%}
    cast(nullif(trim({{ expr }}), '') as {{ dbt.type_int() }})
{%- endmacro %}

{% macro to_date(expr) -%}
    cast(nullif(trim({{ expr }}), '') as date)
{%- endmacro %}

{% macro month_to_date(expr) -%}
    cast(trim({{ expr }}) || '-01' as date)
{%- endmacro %}

{# Two timestamp formats reach us: `YYYY-MM-DD HH:MM:SS` and, from some county systems,
   `YYYY/MM/DD HH:MM`. #}
{% macro parse_ts(expr) -%}
    {{ return(adapter.dispatch('parse_ts', 'powercrm')(expr)) }}
{%- endmacro %}

{% macro default__parse_ts(expr) -%}
    coalesce(try_strptime(trim({{ expr }}), '%Y-%m-%d %H:%M:%S'), try_strptime(trim({{ expr }}), '%Y/%m/%d %H:%M'))
{%- endmacro %}

{# One pattern letter per field accepts one or two digits, as DuckDB's strptime does (and the
   Spark loader's rules, src/powercrm/ingest/rules.py). #}
{% macro spark__parse_ts(expr) -%}
    coalesce(to_timestamp(trim({{ expr }}), 'y-M-d H:m:s'), to_timestamp(trim({{ expr }}), 'y/M/d H:m'))
{%- endmacro %}

{% macro yes_no(expr) -%}
    ({{ normalize_code(expr) }} = 'Y')
{%- endmacro %}

{# Residential names are personal data: first character, then one `*` per further character. #}
{% macro mask_name(expr) -%}
    case when {{ expr }} is null then null
         else left({{ expr }}, 1) || repeat('*', length({{ expr }}) - 1) end
{%- endmacro %}

{# Keep one row per key: the latest business date wins, then the last record of that file.
   Exact duplicate rows collapse to one; a redelivered or updated row replaces the earlier. #}
{% macro latest_per_key(relation, key_columns) -%}
    select * from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _business_date desc, _record_no desc
            ) as _row_rank
        from {{ relation }}
    ) ranked
    where _row_rank = 1
{%- endmacro %}

{# The same rows as `latest_per_key` over a whole base view (one raw table, every partition), without
   carrying every column through the window. The window ranks only the key, the order columns and
   the raw table's row id (`raw_rowid()`, carried by the base view); the rows it ranks second or
   later are few, and an anti join by row id drops them while the wide rows stream past. The
   window of `latest_per_key` sorts every column of every row: at 1 000 000 customers the bill lines'
   window spilled 9.5–13.5 GiB beyond the 6 GB memory limit (docs/benchmarks.md). Ties rank as in
   `latest_per_key` (one of them, arbitrarily), and exactly one row per key remains: the row id is
   unique within the one scan of the raw table. Only for a relation that reads its raw table once
   (a union of two reads could repeat a row id). Spark has no row id: the plain window there.
   The window ranks only the rows of keys delivered more than once, found by grouping a 64-bit
   hash of the key (NULL keys hash alike, as the window partitions them together): 1 000 000
   customers, the bill lines' later rows found in 12.5–18.0 s instead of 26.7 s (docs/benchmarks.md). #}
{% macro latest_per_key_whole(relation, key_columns) -%}
    {{ return(adapter.dispatch('latest_per_key_whole', 'powercrm')(relation, key_columns)) }}
{%- endmacro %}

{% macro default__latest_per_key_whole(relation, key_columns) -%}
{%- set keys = key_columns | join(', ') %}
    select _all.* from {{ relation }} as _all
    anti join (
        select _raw_rowid from (
            select
                _raw_rowid,
                row_number() over (
                    partition by {{ keys }}
                    order by _business_date desc, _record_no desc
                ) as _row_rank
            from {{ relation }}
            -- only the keys delivered more than once can have a later row: a 64-bit hash of the
            -- key finds them in one small hash table, and the window ranks only those keys' rows
            -- (a key that merely shares a hash with a repeated one ranks alone, first)
            where hash({{ keys }}) in (
                select hash({{ keys }}) from {{ relation }} group by 1 having count(*) > 1
            )
        ) as _ranked
        where _row_rank > 1
    ) as _later on _all._raw_rowid = _later._raw_rowid
{%- endmacro %}

{% macro spark__latest_per_key_whole(relation, key_columns) -%}
    {{ latest_per_key(relation, key_columns) }}
{%- endmacro %}

{# `select …, _loaded_at{{- raw_rowid() }} from {{ source(...) }}` in a base view (after its last
   column, reading the raw table itself, not a CTE): the raw row's id, by which
   `latest_per_key_whole` drops the later deliveries (DuckDB's rowid; Spark has none: nothing). #}
{% macro raw_rowid() -%}
    {{ return(adapter.dispatch('raw_rowid', 'powercrm')()) }}
{%- endmacro %}

{% macro default__raw_rowid() -%}
    , rowid as _raw_rowid
{%- endmacro %}

{% macro spark__raw_rowid() -%}
{%- endmacro %}
