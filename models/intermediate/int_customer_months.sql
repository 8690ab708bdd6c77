-- One row per customer × month (every month of int_months): the customer-master version in
-- force at the end of that month (latest updated_at ≤ month end; the earliest version for a
-- master that arrived later). The one place every monthly figure takes its attributes from.
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
    versions.close_date
from months
inner join versions
    on versions.effective_from < months.next_month_start
    and (versions.effective_to is null or versions.effective_to >= months.next_month_start)
