-- org is a full snapshot: the latest loaded partition is the whole truth.
with source as (
    select * from {{ source('raw', 'org') }}
    where _business_date = (select max(_business_date) from {{ source('raw', 'org') }})
),

renamed as (
    select
        {{ clean_text('org_no') }} as org_no,
        {{ clean_text('org_name') }} as org_name,
        {{ clean_text('parent_org_no') }} as parent_org_no,
        {{ to_int('org_level') }} as org_level,
        {{ clean_text('tg_id') }} as tg_id,
        {{ clean_text('tg_name') }} as tg_name,
        {{ to_decimal('tg_capacity_kva', 12, 2) }} as tg_capacity_kva,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['org_no', 'tg_id']) }}
)

select org_no, org_name, parent_org_no, org_level, tg_id, tg_name, tg_capacity_kva, _business_date
from deduped
