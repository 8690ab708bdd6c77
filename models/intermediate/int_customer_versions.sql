-- One row per customer-master version, with the period in which it is the version in force.
-- effective_from: updated_at, except the customer's EARLIEST version, which also covers all
-- time before it (a customer whose first master row arrives late takes its earliest version).
-- effective_to: the next version's updated_at (exclusive), NULL for the current version.
with versions as (
    select * from {{ ref('stg_marketing__customers') }}
),

ordered as (
    select
        *,
        row_number() over (partition by cons_no order by updated_at) as version_no,
        lead(updated_at) over (partition by cons_no order by updated_at) as next_updated_at
    from versions
),

ever_residential as (
    select cons_no, max(case when elec_type = '100' then 1 else 0 end) = 1 as is_ever_residential
    from versions
    group by cons_no
)

select
    {{ dbt.hash("ordered.cons_no || '|' || cast(ordered.updated_at as " ~ dbt.type_string() ~ ")") }} as customer_sk,
    ordered.cons_no,
    -- personal data stays out of everything after this model: names of customers who were ever
    -- residential are masked (张三丰 → 张**), business names are public
    case when ever_residential.is_ever_residential then {{ mask_name('ordered.cons_name') }}
         else ordered.cons_name end as cons_name,
    ever_residential.is_ever_residential,
    ordered.elec_type,
    ordered.voltage,
    ordered.contract_kva,
    ordered.industry_code,
    ordered.industry_section,
    ordered.org_no,
    ordered.tg_id,
    ordered.tariff_code,
    ordered.is_key_account,
    ordered.status,
    ordered.open_date,
    ordered.close_date,
    ordered.updated_at,
    ordered.version_no,
    case when ordered.version_no = 1 then cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})
         else ordered.updated_at end as effective_from,
    ordered.next_updated_at as effective_to,
    ordered.next_updated_at is null as is_current
from ordered
inner join ever_residential on ordered.cons_no = ever_residential.cons_no
