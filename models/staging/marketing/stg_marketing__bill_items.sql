with renamed as (
    select * from {{ ref('base_marketing__bill_items') }}
),

deduped as (
    {{ latest_per_key('renamed', ['bill_id', 'item_no']) }}
)

select bill_id, item_no, item, tou_period, tier, fund_name, quantity, price, amount_yuan, _business_date
from deduped
