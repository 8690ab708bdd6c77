-- One row per payment channel code (缴费渠道), from the seed. BALANCE is an internal transfer.
select channel, name_zh, name_en, is_online, is_money_received from {{ ref('pay_channel') }}
