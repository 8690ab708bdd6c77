-- One row per customer × month (every month of int_months): the customer-master version in
-- force at the end of that month (latest updated_at ≤ month end; the earliest version for a
-- master that arrived later). The one place every monthly figure takes its attributes from.
-- Incremental: a customer's rows depend on its own master versions only, the months on the
-- facts' date range. A night re-derives every month of the customers whose master arrived in a
-- changed cust partition (macros/incremental.sql, changed_customers) and every customer at the
-- months not built yet (a new month, or an earlier first month), and drops the months no longer
-- in int_months. A redelivered cust partition rebuilds the table whole.
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
-- depends_on: {{ ref('base_marketing__customers') }}
{%- set extracts = ['cust'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{{ prepare_period_batch('month', 'select month from ' ~ ref('int_months'), ['cust']) }}",
        "{{ prepare_key_batch('cons_no', changed_customers(), ['cust']) }}",
    ],
    post_hook=["{{ drop_key_batch() }}", "{{ drop_key_batch(period_batch_relation()) }}"],
) }}
with versions as (
    select * from {{ ref('int_customer_versions') }}
),

months as (
    select * from {{ ref('int_months') }}
)

select
    months.month,
    months.month_end_date,
    versions.cons_no,
    versions.customer_sk,
    versions.elec_type,
    versions.voltage,
    versions.contract_kva,
    versions.industry_section,
    versions.org_no,
    versions.tg_id,
    versions.tariff_code,
    versions.is_key_account,
    versions.status,
    versions.open_date,
    versions.close_date,
    {{ build_stamp() }} as _loaded_at
from months
inner join versions
    on versions.effective_from < months.next_month_start
    and (versions.effective_to is null or versions.effective_to >= months.next_month_start)
where true{{ in_customer_date_batch('versions.cons_no', 'months.month', extracts, period='month') }}
