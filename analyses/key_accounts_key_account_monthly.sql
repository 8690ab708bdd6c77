-- 重点客户用电管理: the key accounts with an alert in the latest billing month, with their load
-- figures and arrears, for the account managers' call list.
select
    cons_no,
    org_no,
    month,
    alert,
    kwh,
    kwh_yoy_rate,
    demand_utilisation,
    load_factor,
    power_factor,
    arrears_yuan
from {{ ref('key_account_monthly') }}
where alert is not null
    and month = (select max(month) from {{ ref('key_account_monthly') }})
order by alert, demand_utilisation desc
