-- One row per customer-master version (SCD type 2). valid_from = updated_at, valid_to = the
-- next version's updated_at (NULL = current). Residential names masked; no cert_no, mobile,
-- address.
with versions as (
    select * from {{ ref('int_customer_versions') }}
),

orgs as (
    select * from {{ ref('dim_org') }}
)

select
    versions.customer_sk,
    versions.cons_no,
    versions.cons_name,
    versions.elec_type,
    versions.voltage,
    versions.contract_kva,
    versions.industry_code,
    versions.industry_section,
    versions.org_no,
    orgs.county_org_no,
    orgs.company_org_no,
    versions.tg_id,
    versions.tariff_code,
    versions.is_key_account,
    versions.status,
    versions.open_date,
    versions.close_date,
    versions.updated_at as valid_from,
    versions.effective_to as valid_to,
    versions.is_current,
    versions.version_no
from versions
left join orgs on versions.org_no = orgs.org_no
