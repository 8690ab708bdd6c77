with source as (
    select * from {{ source('raw', 'cost') }}
),

renamed as (
    select
        {{ clean_text('org_no') }} as org_no,
        {{ month_to_date('billing_month') }} as billing_month,
        coalesce({{ to_decimal('marketing_cost', 18, 2) }}, 0) as marketing_cost_yuan,
        coalesce({{ to_decimal('operating_cost', 18, 2) }}, 0) as operating_cost_yuan,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['org_no', 'billing_month']) }}
)

select org_no, billing_month, marketing_cost_yuan, operating_cost_yuan, _business_date
from deduped
