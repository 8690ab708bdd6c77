-- One row per bill line item (bill_id × item_no): item, period, tier, fund, quantity (kWh, or
-- kVA / kW for BASIC), price and amount, with the bill's month and customer.
with lines as (
    select * from {{ ref('stg_marketing__bill_items') }}
),

bills as (
    select bill_id, cons_no, billing_month, bill_type from {{ ref('stg_marketing__bills') }}
)

select
    lines.bill_id,
    lines.item_no,
    bills.cons_no,
    bills.billing_month,
    bills.bill_type,
    lines.item,
    lines.tou_period,
    lines.tier,
    lines.fund_name,
    cast(lines.quantity as decimal(18, 2)) as quantity,
    cast(lines.price as decimal(18, 6)) as price_yuan,
    cast(lines.amount_yuan as decimal(18, 2)) as amount_yuan,
    lines._business_date as business_date
from lines
left join bills on lines.bill_id = bills.bill_id
