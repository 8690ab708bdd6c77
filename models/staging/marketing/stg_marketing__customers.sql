-- One row per customer-master version (cons_no × updated_at); raw keeps PII, masking happens in core.
with renamed as (
    select * from {{ ref('base_marketing__customers') }}
),

deduped as (
    {{ latest_per_key('renamed', ['cons_no', 'updated_at']) }}
)

select
    cons_no, cons_name, cert_no, mobile, address, elec_type, voltage, contract_kva, industry_code,
    left(industry_code, 1) as industry_section,
    org_no, tg_id, tariff_code, is_key_account, status, open_date, close_date, updated_at, _business_date
from deduped
