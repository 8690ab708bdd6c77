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

{# The build stamp of the newest rows of {{ this }} (1900-01-01 when it is empty): what a later
   partition or a re-derived upstream row is newer than. #}
{% macro last_build_stamp() -%}
    (select coalesce(max(_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }})
{%- endmacro %}

{% macro changed_partitions(extract) -%}
    select business_date
    from {{ ref('stg_meta__partitions') }}
    where extract = '{{ extract }}'
    {%- if is_incremental() %}
        and loaded_at > {{ last_build_stamp() }}
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
    {%- else -%}
        {{ date_list_filter(column, dates) }}
    {%- endif -%}
{%- endmacro %}

{# `column in (cast('2025-01-25' as date), ...)`, or `false` for no dates. #}
{% macro date_list_filter(column, dates) -%}
    {%- if dates | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for d in dates %}cast('{{ d }}' as date){{ ', ' if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{# fct_bill_line: the business dates of the lines already in {{ this }} whose bill header comes in
   a bill partition loaded since the last build (a redelivered or corrected header, or a header
   arriving after its lines), as 'YYYY-MM-DD' strings when executing incrementally, else none.
   Those lines take the header's new month and customer; only these bill_item partitions need to
   be read again. The monthly billing day delivers new bills whose lines come in the same night's
   bill_item partitions: no date, and the 124 M delivered lines are not cleaned again to find
   none (1 000 000 customers: 22.0 s → 4.9 s for the model's query alone, 101 s in the night). #}
{% macro line_dates_of_changed_bills() -%}
    {%- if execute and is_incremental() -%}
        {%- set query -%}
            select distinct cast(business_date as varchar) as business_date
            from {{ this }}
            where bill_id in (
                select bill_id from {{ ref('base_marketing__bills') }}
                where {{ partition_filter('_business_date', 'bill') }}
            )
            order by 1
        {%- endset -%}
        {{ return(run_query(query).columns[0].values() | map('string') | list) }}
    {%- endif -%}
    {{ return(none) }}
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

{# Redeliveries. is_redelivery(extracts): whether a changed partition of one of `extracts` had
   already been loaded (a LOADED row of meta.load_log) when {{ this }} was last built. Its earlier
   rows may have been dropped from the delivery, which a batch keyed on the rows that arrived
   cannot see: the model is then rebuilt whole inside the incremental run (pre-hook
   delete_all_on_redelivery, then every row inserted). A partition delivered twice in the same
   night, or late for the first time, is no redelivery: nothing built yet came from it. #}
{% macro is_redelivery(extracts) -%}
    {%- if execute and is_incremental() -%}
        {%- set query -%}
            with built as (
                select {{ last_build_stamp() }} as loaded_at
            )
            select count(*)
            from {{ ref('stg_meta__partitions') }} changed
            inner join {{ source('meta', 'load_log') }} earlier
                on earlier.extract = changed.extract and earlier.business_date = changed.business_date
            where changed.extract in ({% for e in extracts %}'{{ e }}'{{ ', ' if not loop.last }}{% endfor %})
                and changed.loaded_at > (select loaded_at from built)
                and earlier.status = 'LOADED'
                and earlier.loaded_at <= (select loaded_at from built)
        {%- endset -%}
        {{ return(run_query(query).columns[0].values()[0] > 0) }}
    {%- endif -%}
    {{ return(false) }}
{%- endmacro %}

{# Whether this build reads every row: a full refresh, a first build, a redelivery of one of
   `extracts`, or any change of one of `any_change` (inputs too small or too wide to batch, e.g.
   the tariffs every month's cost prices come from). #}
{% macro builds_whole(extracts, any_change=[]) -%}
    {%- if not is_incremental() or is_redelivery(extracts) -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set bulk = (config.get('meta') or {}).get('whole_on_bulk') -%}
    {%- if bulk and is_bulk_delivery(bulk['extract'], bulk.get('share', 0.5)) -%}
        {{ return(true) }}
    {%- endif -%}
    {%- for extract in any_change -%}
        {%- if has_changed_partitions(extract) -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}

{# A bulk delivery: the partitions of `extract` loaded since {{ this }} was last built hold at least
   `share` rows per customer (current master versions). The monthly billing day delivers a bill for
   nearly every customer; a model keyed on the customers the night's bills touch then re-derives
   nearly all of them through its batch path, which is built for a night's few (int_credit_scores
   at 1 000 000 customers: 223 s on the billing night, 42 s for a whole build). A model that sets
   `meta={'whole_on_bulk': {'extract': 'bill', 'share': 0.5}}` in its config is then rebuilt whole inside the
   incremental run (builds_whole), as after a redelivery. #}
{% macro is_bulk_delivery(extract, share=0.5) -%}
    {#- the dbt var bulk_delivery_share overrides the model's share (tests/test_incremental.py
        keeps a billing night on the batch path with a share no delivery reaches) -#}
    {%- set share = var('bulk_delivery_share', share) | float -%}
    {%- if execute and is_incremental() -%}
        {%- set query -%}
            select
                (select coalesce(sum(rows_loaded), 0) from {{ ref('stg_meta__partitions') }}
                 where extract = '{{ extract }}'
                     and business_date in ({{ changed_partitions(extract) }})) as delivered,
                (select count(*) from {{ ref('int_customer_versions') }} where is_current) as customers
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {{ return(row[1] > 0 and row[0] >= share * row[1]) }}
    {%- endif -%}
    {{ return(false) }}
{%- endmacro %}

{% macro delete_all_on_redelivery(extracts) -%}
    {%- if is_incremental() and is_redelivery(extracts) -%}
    delete from {{ this }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{# Payments delivered again (stg_marketing__payments' pre-hook): before a night merges its
   payment partitions, the rows in force for the pay_ids those partitions deliver (the versions
   they may replace) are appended to `stg_marketing__payments__superseded` with the night's build
   stamp. A model that must re-derive what a payment named before it moved to another bill
   (int_receivables) reads the rows stamped after its own last build, instead of cleaning every
   delivered payment row to find the earlier versions (1 M customers: 4.4–5.0 s alone, 8.9 s in
   the build). A row
   whose new version then loses (an older business date) is still recorded: a key re-derived for
   nothing. A whole build starts the table afresh. #}
{% macro superseded_payments() -%}
    {{ superseded_relation(ref('stg_marketing__payments')) }}
{%- endmacro %}

{# The same for bills (stg_marketing__bills' pre-hook): the rows in force for the bill_ids the
   night's bill partitions deliver, i.e. the versions they replace, whose months must be
   re-derived too (macros/batches.sql, changed_bill_months) without cleaning every delivered
   bill again to find them (1 000 000 customers: 5.4 s for each of the four models that ask). #}
{% macro superseded_bills() -%}
    {{ superseded_relation(ref('stg_marketing__bills')) }}
{%- endmacro %}

{% macro superseded_relation(stg) -%}
    {{ stg.schema }}.{{ stg.identifier }}__superseded
{%- endmacro %}

{% macro record_superseded_payments() -%}
    {{ record_superseded(ref('base_marketing__payments'), 'pay_id', ['pay_id', 'bill_id', 'pay_time'], 'payment') }}
{%- endmacro %}

{% macro record_superseded_bills() -%}
    {{ record_superseded(ref('base_marketing__bills'), 'bill_id', ['bill_id', 'cons_no', 'billing_month'], 'bill') }}
{%- endmacro %}

{# The pre-hook of a staging dedup table (its own relation is `this`: a ref would be a cycle):
   `<this>__superseded` gets the rows in force for the keys of the changed partitions of
   `extract`, stamped with the night's build stamp; a whole build starts it afresh. #}
{% macro record_superseded(base, key, columns, extract) -%}
    {%- set empty -%}
    {{ superseded_relation(this) }} as
    select {{ columns | join(', ') }}, _loaded_at from {{ base }} where false
    {%- endset -%}
    {%- if target.type == 'spark' -%}
    select 1
    {%- elif not is_incremental() or builds_whole([extract]) -%}
    create or replace table {{ empty }}
    {%- else -%}
    create table if not exists {{ empty }};
    {%- if has_changed_partitions(extract) %}
    insert into {{ superseded_relation(this) }}
    select {{ columns | join(', ') }}, {{ build_stamp() }}
    from {{ this }}
    where {{ key }} in (
        select {{ key }} from {{ base }} where {{ partition_filter('_business_date', extract) }}
    )
    {%- endif %}
    {%- endif -%}
{%- endmacro %}

{# The build stamp of derived incremental models: the load time of the newest partition in
   force when they were built. Rows re-derived in a run carry the new stamp, so a model
   downstream finds them with `_loaded_at > max(_loaded_at) of its own table`. #}
{% macro build_stamp() -%}
    (select max(loaded_at) from {{ ref('stg_meta__partitions') }})
{%- endmacro %}

{# Keyed batches of derived models (int_receivables, int_receivable_balances, fct_bill): the
   keys to re-derive are written once to `<model>__batch` (pre-hook), their rows deleted, the
   model inserts the rows of those keys (append), the post-hook drops the batch table. On a
   whole build the table's rows all go and every key is derived. #}
{% macro batch_relation() -%}
    {{ this.schema }}.{{ this.identifier }}__batch
{%- endmacro %}

{% macro prepare_key_batch(key, keys_query, extracts, any_change=[]) -%}
    {%- if not is_incremental() -%}
    select 1
    {%- elif builds_whole(extracts, any_change) -%}
    delete from {{ this }}
    {%- else -%}
    create or replace table {{ batch_relation() }} as select distinct {{ key }} from ({{ keys_query }}) keys where {{ key }} is not null;
    delete from {{ this }} where {{ key }} in (select {{ key }} from {{ batch_relation() }})
    {%- endif -%}
{%- endmacro %}

{# Always on DuckDB, also after a full refresh: a batch table left by an interrupted run goes
   (`relation`: another batch table, e.g. period_batch_relation()). #}
{% macro drop_key_batch(relation=none) -%}
    {%- if target.type == 'spark' -%}
    select 1
    {%- else -%}
    drop table if exists {{ relation or batch_relation() }}
    {%- endif -%}
{%- endmacro %}

{# `where <column> in (the batch's months and the months a year before them)` when building
   incrementally, else nothing: the input of a month batch whose year-on-year figures read the
   year before (int_sales_customer_months, sales_volume_monthly). #}
{% macro where_batch_months_and_year_before(column, extracts) -%}
    {%- if not builds_whole(extracts) %}
    where {{ column }} in (
        select month from {{ batch_relation() }}
        union all
        select cast({{ dbt.dateadd('month', -12, 'month') }} as date) from {{ batch_relation() }}
    )
    {%- endif %}
{%- endmacro %}

{# `and <column> in (the batch's keys)` when building incrementally, else nothing. #}
{% macro in_key_batch(key, extracts, any_change=[], column=none) -%}
    {%- if not builds_whole(extracts, any_change) %} and {{ column or key }} in (select {{ key }} from {{ batch_relation() }}){% endif -%}
{%- endmacro %}

{# The body of an incremental staging dedup table (stg_marketing__bills, stg_marketing__payments):
   one row per `key`, the latest delivery. A night reads only the rows of the changed partitions
   of `extract` and lets them compete with the rows in force for the same keys (the latest
   business_date wins, as in a full build); a whole build (full refresh, redelivery) reads every
   delivered row, and ranks only the keys (macros/cleaning.sql, latest_per_key_whole: `relation`
   is a base view carrying the raw row id). #}
{% macro latest_per_key_incremental(relation, key, columns, extract) -%}
{%- set whole = builds_whole([extract]) %}
{%- set column_list = (columns + ['_business_date', '_record_no', '_loaded_at']) | join(', ') %}
{%- if whole %}
select {{ column_list }}
from ({{ latest_per_key_whole(relation, [key]) }}) as _latest
{%- else %}
with delivered as (
    select {{ column_list }}
    from {{ relation }}
    where {{ partition_filter('_business_date', extract) }}
),

candidates as (
    select * from delivered
    union all
    -- the rows in force for the same keys: a new row replaces them only when it is later
    select {{ column_list }}
    from {{ this }}
    where {{ key }} in (select {{ key }} from delivered)
),

deduped as (
    {{ latest_per_key('candidates', [key]) }}
)

select {{ column_list }}
from deduped
{%- endif %}
{%- endmacro %}

{# Models with one row per customer × evaluation date (int_credit_scores) or × month
   (int_customer_months): besides the customer batch (prepare_key_batch), a night derives every
   customer at the periods not built yet (a new data date, a new month), kept in
   `<model>__dates`, and drops the rows of periods no longer in force (the previous data date
   when it was no month end). Run it before prepare_key_batch, which deletes the batch
   customers' rows. `dates_query` names further evaluation dates to re-derive whole
   (int_profit_value_classes: a ranking over all customers of a date), whose rows go too. #}
{% macro period_batch_relation() -%}
    {{ this.schema }}.{{ this.identifier }}__dates
{%- endmacro %}

{# The generic form: `column` holds the period (evaluation_date, month), `periods_query` lists the
   periods in force (a column of the same name); `extra_query` names further periods to
   re-derive whole. #}
{% macro prepare_period_batch(column, periods_query, extracts, any_change=[], extra_query=none) -%}
    {%- if not is_incremental() or builds_whole(extracts, any_change) -%}
    select 1
    {%- else -%}
    create or replace table {{ period_batch_relation() }} as
    select {{ column }} from ({{ periods_query }}) periods
    where {{ column }} not in (select distinct {{ column }} from {{ this }})
    {%- if extra_query %}
    union
    select {{ column }} from ({{ extra_query }}) extra
    {%- endif %};
    delete from {{ this }} where {{ column }} not in (select {{ column }} from ({{ periods_query }}) periods)
        or {{ column }} in (select {{ column }} from {{ period_batch_relation() }})
    {%- endif -%}
{%- endmacro %}

{% macro prepare_evaluation_date_batch(extracts, any_change=[], dates_query=none) -%}
    {{ prepare_period_batch('evaluation_date', 'select snapshot_date as evaluation_date from ' ~ ref('int_snapshot_dates'),
                            extracts, any_change, dates_query) }}
{%- endmacro %}

{# `and (<key> in the key batch or <date> among the batch's periods)` when building
   incrementally, else nothing (`key`: the key column of the key batch, `period`: the period
   column of the period batch). #}
{% macro in_key_period_batch(key_column, date_column, extracts, any_change=[], key='cons_no', period='evaluation_date') -%}
    {%- if not builds_whole(extracts, any_change) %} and ({{ key_column }} in (select {{ key }} from {{ batch_relation() }}) or {{ date_column }} in (select {{ period }} from {{ period_batch_relation() }})){% endif -%}
{%- endmacro %}

{# The customer × date form (int_credit_scores, int_customer_months, int_credit_segments). #}
{% macro in_customer_date_batch(customer_column, date_column, extracts, any_change=[], period='evaluation_date') -%}
    {{- in_key_period_batch(customer_column, date_column, extracts, any_change, 'cons_no', period) -}}
{%- endmacro %}

{# `and <date> among the evaluation dates of the batch` when building incrementally, else nothing. #}
{% macro in_evaluation_date_batch(date_column, extracts, any_change=[]) -%}
    {%- if not builds_whole(extracts, any_change) %} and {{ date_column }} in (select evaluation_date from {{ period_batch_relation() }}){% endif -%}
{%- endmacro %}
