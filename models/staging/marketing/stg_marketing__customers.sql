-- One row per customer-master version (cons_no × updated_at); raw keeps PII, masking happens in core.
with source as (
    select * from {{ source('raw', 'cust') }}
),

renamed as (
    select
        {{ clean_text('cons_no') }} as cons_no,
        {{ clean_text('cons_name') }} as cons_name,
        {{ clean_text('cert_no') }} as cert_no,
        {{ clean_text('mobile') }} as mobile,
        {{ clean_text('address') }} as address,
        {{ normalize_code('elec_type') }} as elec_type,
        {{ normalize_code('voltage') }} as voltage,
        {{ to_decimal('contract_kva', 12, 2) }} as contract_kva,
        {{ normalize_code('industry_code') }} as industry_code,
        {{ clean_text('org_no') }} as org_no,
        {{ clean_text('tg_id') }} as tg_id,
        {{ normalize_code('tariff_code') }} as tariff_code,
        coalesce({{ yes_no('is_key_account') }}, false) as is_key_account,
        {{ normalize_code('status') }} as status,
        {{ to_date('open_date') }} as open_date,
        {{ to_date('close_date') }} as close_date,
        {{ parse_ts('updated_at') }} as updated_at,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['cons_no', 'updated_at']) }}
)

select
    cons_no, cons_name, cert_no, mobile, address, elec_type, voltage, contract_kva, industry_code,
    left(industry_code, 1) as industry_section,
    org_no, tg_id, tariff_code, is_key_account, status, open_date, close_date, updated_at, _business_date
from deduped
