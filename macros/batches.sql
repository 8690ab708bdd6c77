{# The keys each keyed incremental model re-derives on a night (macros/incremental.sql,
   prepare_key_batch): queries over the sources of its changes. #}

{# int_receivables: bills of the bill partitions loaded since the last build; bills named by the
   payments of the payment partitions loaded since, and by the versions those payments replaced
   (a payment may move to another bill: stg_marketing__payments__superseded, macros/incremental.sql);
   bills with a payment dated between the previous and the new data date. #}
{% macro receivable_batch_keys() -%}
    select bill_id from {{ ref('base_marketing__bills') }} where {{ partition_filter('_business_date', 'bill') }}
    {%- if has_changed_partitions('payment') %}
    union all
    select bill_id from {{ ref('base_marketing__payments') }} where {{ partition_filter('_business_date', 'payment') }}
    union all
    select bill_id from {{ superseded_payments() }} where _loaded_at > {{ last_build_stamp() }}
    {%- endif %}
    union all
    select bill_id from {{ ref('int_payments') }}
    where pay_date > least((select max(_as_of_date) from {{ this }}), (select as_of_date from {{ ref('int_data_date') }}))
        and pay_date <= greatest((select max(_as_of_date) from {{ this }}), (select as_of_date from {{ ref('int_data_date') }}))
{%- endmacro %}

{# fct_bill: bills of the bill partitions loaded since the last build, receivables re-derived
   since (int_receivables rows with a newer build stamp: payments, the data date), bills with
   lines of the bill_item partitions loaded since, and bills of customers whose master changed
   (the version in force may differ), and bills derived without the customer's attributes. #}
{% macro bill_batch_keys() -%}
    select bill_id from {{ ref('base_marketing__bills') }} where {{ partition_filter('_business_date', 'bill') }}
    union all
    select bill_id from {{ ref('int_receivables') }}
    where _loaded_at > {{ last_build_stamp() }}
    {%- if has_changed_partitions('bill_item') %}
    union all
    select bill_id from {{ ref('base_marketing__bill_items') }} where {{ partition_filter('_business_date', 'bill_item') }}
    {%- endif %}
    {%- if has_changed_partitions('cust') %}
    union all
    select bill_id from {{ ref('stg_marketing__bills') }} where cons_no in ({{ changed_customers() }})
    {%- endif %}
    union all
    -- bills derived without the customer's attributes (a month beyond the data date of their
    -- build, or a master not delivered yet)
    select bill_id from {{ this }} where customer_sk is null
{%- endmacro %}

{# int_receivable_balances: bills of the bill partitions loaded since the last build (a bill may
   have stopped being a receivable) and receivables re-derived since (their payments changed). #}
{% macro balance_batch_keys() -%}
    select bill_id from {{ ref('base_marketing__bills') }} where {{ partition_filter('_business_date', 'bill') }}
    union all
    select bill_id from {{ ref('int_receivables') }}
    where _loaded_at > {{ last_build_stamp() }}
{%- endmacro %}

{# fct_arrears_snapshot: the bills int_receivable_balances re-derives (bills of the bill
   partitions loaded since the last build, receivables re-derived since) and, when a master
   changed, the bills of those customers (the version in force at a snapshot date may differ). #}
{% macro arrears_batch_keys() -%}
    {{ balance_batch_keys() }}
    {%- if has_changed_partitions('cust') %}
    union all
    select bill_id from {{ ref('stg_marketing__bills') }} where cons_no in ({{ changed_customers() }})
    {%- endif %}
{%- endmacro %}

{# Months whose bills changed: the billing month of every version of a bill delivered in the
   bill partitions loaded since the last build and of the version each replaced (a correction may
   move a bill to another month; stg_marketing__bills__superseded, macros/incremental.sql), of the
   bills with lines of the bill_item partitions loaded since (their month in fct_bill_line, built
   tonight), and, for customers whose master changed, the months of their bills whose month end
   the changed versions reach (the version in force at a month end may differ; a customer's
   earliest version covers all time before it). Every part reads the night's partitions or rows,
   none every delivered bill (1 000 000 customers, the billing day: 9.9 s → 2.0 s for the query
   alone; 10–23 s in the pre-hook of each of the four models that ask before). #}
{% macro changed_bill_months() -%}
    select billing_month as month from {{ ref('base_marketing__bills') }}
    where {{ partition_filter('_business_date', 'bill') }}
    {%- if has_changed_partitions('bill') %}
    union all
    select billing_month as month from {{ superseded_bills() }}
    where _loaded_at > {{ last_build_stamp() }}
    {%- endif %}
    {%- if has_changed_partitions('bill_item') %}
    union all
    select billing_month as month from {{ ref('fct_bill_line') }}
    where {{ partition_filter('business_date', 'bill_item') }}
    {%- endif %}
    {%- if has_changed_partitions('cust') %}
    union all
    select bills.billing_month as month
    from {{ ref('stg_marketing__bills') }} bills
    inner join (
        select versions.cons_no, min(versions.effective_from) as effective_from
        from {{ ref('int_customer_versions') }} versions
        inner join (
            select cons_no, updated_at from {{ ref('base_marketing__customers') }}
            where {{ partition_filter('_business_date', 'cust') }}
        ) changed on versions.cons_no = changed.cons_no and versions.updated_at = changed.updated_at
        group by versions.cons_no
    ) changed_customers on bills.cons_no = changed_customers.cons_no
    where cast({{ dbt.dateadd('month', 1, 'bills.billing_month') }} as {{ dbt.type_timestamp() }}) > changed_customers.effective_from
    {%- endif %}
{%- endmacro %}

{# int_sales_customer_months: the months whose bills changed and the months a year later (their
   year-on-year rate reads them). #}
{% macro sales_batch_months() -%}
    with changed as (
        {{ changed_bill_months() }}
    )
    select month from changed
    union all
    select cast({{ dbt.dateadd('month', 12, 'month') }} as date) from changed
{%- endmacro %}

{# customer_profit_monthly: the months int_sales_customer_months re-derives and the months of the
   station costs of the cost partitions loaded since the last build. A station's costs of a
   month are shared among its customers, so a month is re-derived whole. #}
{% macro profit_batch_months() -%}
    select month from ({{ sales_batch_months() }}) sales
    {%- if has_changed_partitions('cost') %}
    union all
    select billing_month from {{ ref('stg_marketing__costs') }} where {{ partition_filter('_business_date', 'cost') }}
    {%- endif %}
{%- endmacro %}

{# int_credit_scores: the customers whose score can have changed at an evaluation date already
   built: receivables re-derived since the last build (payments, the data date), every delivered
   version of a bill of the bill partitions loaded since (a bill may stop being a receivable or
   move to another customer), customers whose master changed, and the customers of every
   delivered version of a dunning event or violation case of the partitions loaded since. The
   evaluation dates not built yet (a new data date) are evaluated for every customer
   (prepare_evaluation_date_batch). #}
{% macro credit_batch_customers() -%}
    select cons_no from {{ ref('int_receivables') }}
    where _loaded_at > {{ last_build_stamp() }}
    {%- if has_changed_partitions('bill') %}
    union all
    select cons_no from {{ ref('base_marketing__bills') }}
    where bill_id in (
        select bill_id from {{ ref('base_marketing__bills') }} where {{ partition_filter('_business_date', 'bill') }}
    )
    {%- endif %}
    {%- if has_changed_partitions('cust') %}
    union all
    {{ changed_customers() }}
    {%- endif %}
    {%- for extract, key in [('dunning', 'event_id'), ('violation', 'case_id')] %}
    {%- if has_changed_partitions(extract) %}
    union all
    select {{ clean_text('cons_no') }} as cons_no from {{ source('raw', extract) }}
    where {{ clean_text(key) }} in (
        select {{ clean_text(key) }} from {{ source('raw', extract) }} where {{ partition_filter('_business_date', extract) }}
    )
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{# int_profit_value_classes: besides the evaluation dates not built yet, the dates whose value
   window (the 12 billing months before the date's month) holds a month customer_profit_monthly
   re-derived since the last build, and the previous data date (its is_data_date flag changes).
   Each date is ranked again whole. #}
{% macro value_class_batch_dates() -%}
    select evaluation_date from {{ this }} where is_data_date
    union all
    select dates.snapshot_date as evaluation_date
    from {{ ref('int_snapshot_dates') }} dates
    inner join (
        select distinct month from {{ ref('customer_profit_monthly') }}
        where _loaded_at > {{ last_build_stamp() }}
    ) changed
        on changed.month >= cast({{ dbt.dateadd('month', -12, dbt.date_trunc('month', 'dates.snapshot_date')) }} as date)
        and changed.month <= cast({{ dbt.dateadd('month', -1, dbt.date_trunc('month', 'dates.snapshot_date')) }} as date)
{%- endmacro %}
