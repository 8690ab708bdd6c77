-- One row per bill line item (bill_id × item_no): item, period, tier, fund, quantity (kWh, or
-- kVA / kW for BASIC), price and amount, with the bill's month and customer.
-- Incremental: a nightly run reads only the bill_item partitions loaded since the last build
-- (a redelivered partition replaces its rows: pre-hook delete, then delete+insert by key, the
-- latest business_date winning), and gives the same rows as a full refresh. A full refresh reads
-- every line in raw (raw holds the partitions in force only: the loader replaces a redelivered
-- one), the lines of re-delivered bills among them, so it needs no second pass over the bills.
-- A night whose bill partitions (re)deliver headers of lines built before reads those lines'
-- partitions again; the monthly billing day's new bills bring their lines in the same night.
-- depends_on: {{ ref('base_marketing__bills') }}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['bill_id', 'item_no'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ delete_changed_partitions('bill_item') }}",
) }}

with batch as (
    -- the changed partitions: a literal date list pushed into the raw scan (macros/incremental.sql)
    select * from {{ ref('base_marketing__bill_items') }}
    where {{ partition_filter('_business_date', 'bill_item') }}
    {%- if is_incremental() and has_changed_partitions('bill') %}
    {%- set header_line_dates = line_dates_of_changed_bills() %}
    {%- if header_line_dates is none or header_line_dates | length > 0 %}
    union all
    -- lines already built whose bill header was (re)delivered take its new month and customer:
    -- only the partitions holding them are read (macros/incremental.sql, line_dates_of_changed_bills)
    select * from {{ ref('base_marketing__bill_items') }}
    where {% if header_line_dates is none %}true{% else %}{{ date_list_filter('_business_date', header_line_dates) }}{% endif %}
        and bill_id in (
            select bill_id from {{ ref('base_marketing__bills') }}
            where {{ partition_filter('_business_date', 'bill') }}
        )
    {%- endif %}
    {%- endif %}
),

lines as (
    {%- if is_incremental() %}
    {{ latest_per_key('batch', ['bill_id', 'item_no']) }}
    {%- else %}
    -- a whole build: the window ranks only the keys, the wide rows stream past (macros/cleaning.sql)
    {{ latest_per_key_whole(ref('base_marketing__bill_items'), ['bill_id', 'item_no']) }}
    {%- endif %}
),

bills as (
    select bill_id, cons_no, billing_month, bill_type from {{ ref('stg_marketing__bills') }}
    {%- if is_incremental() %}
    where bill_id in (select bill_id from batch)
    {%- endif %}
)

select
    lines.bill_id,
    lines.item_no,
    bills.cons_no,
    bills.billing_month,
    bills.bill_type,
    lines.item,
    lines.tou_period,
    lines.tier,
    lines.fund_name,
    cast(lines.quantity as decimal(18, 2)) as quantity,
    cast(lines.price as decimal(18, 6)) as price_yuan,
    cast(lines.amount_yuan as decimal(18, 2)) as amount_yuan,
    lines._business_date as business_date,
    lines._loaded_at
from lines
left join bills on lines.bill_id = bills.bill_id
{%- if is_incremental() %}
-- a key already delivered in a later partition keeps that later row
where not exists (
    select 1 from {{ this }} as existing
    where existing.bill_id = lines.bill_id and existing.item_no = lines.item_no
        and existing.business_date > lines._business_date
)
{%- endif %}
