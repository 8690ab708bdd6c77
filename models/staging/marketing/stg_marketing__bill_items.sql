-- The whole base view, so the window ranks only the keys (macros/cleaning.sql, latest_per_key_whole).
with deduped as (
    {{ latest_per_key_whole(ref('base_marketing__bill_items'), ['bill_id', 'item_no']) }}
)

select bill_id, item_no, item, tou_period, tier, fund_name, quantity, price, amount_yuan, _business_date
from deduped
