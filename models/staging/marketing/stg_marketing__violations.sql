with source as (
    select * from {{ source('raw', 'violation') }}
),

renamed as (
    select
        {{ clean_text('case_id') }} as case_id,
        {{ clean_text('cons_no') }} as cons_no,
        {{ normalize_code('case_type') }} as case_type,
        {{ to_date('found_date') }} as found_date,
        {{ to_decimal('recovered_kwh', 18, 2) }} as recovered_kwh,
        {{ to_decimal('recovered_amount', 18, 2) }} as recovered_yuan,
        {{ to_decimal('penalty_amount', 18, 2) }} as penalty_yuan,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['case_id']) }}
)

select case_id, cons_no, case_type, found_date, recovered_kwh, recovered_yuan, penalty_yuan, _business_date
from deduped
