-- 重点客户用电管理: monthly energy, load and arrears of key accounts and two-part customers,
-- with DROP and OVERLOAD alerts. kWh is the billed kWh of the billing month (ADJUST bills
-- included, the corrected consumption, the same figure as sales and profit); maximum demand and
-- reactive energy come from the month's meter readings.
with customer_months as (
    select * from {{ ref('int_sales_customer_months') }}
),

consumption as (
    select * from {{ ref('fct_consumption') }}
),

arrears as (
    select * from {{ ref('fct_arrears_snapshot') }}
),

data_date as (
    select as_of_date from {{ ref('int_data_date') }}
),

key_accounts as (
    -- flagged by the account manager, or on a two-part tariff, in the version in force at the
    -- month end
    select
        cons_no,
        month,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month')) }} as date) as month_end_date,
        org_no,
        elec_type,
        voltage,
        is_key_account,
        contract_kva,
        kwh,
        kwh_prev_year,
        kwh_yoy_rate,
        amount_yuan
    from customer_months
    where is_key_account or elec_type = '300'
),

month_end_arrears as (
    -- arrears at the month end; for the data date's own month, at the data date
    select
        key_accounts.cons_no,
        key_accounts.month,
        sum(arrears.arrears_yuan) as arrears_yuan
    from key_accounts
    cross join data_date
    inner join arrears
        on key_accounts.cons_no = arrears.cons_no
        and arrears.snapshot_date = least(key_accounts.month_end_date, data_date.as_of_date)
    group by key_accounts.cons_no, key_accounts.month
),

measured as (
    select
        key_accounts.*,
        consumption.max_demand_kw,
        consumption.kvarh,
        {{ dbt.datediff('key_accounts.month', dbt.dateadd('month', 1, 'key_accounts.month'), 'day') }} * 24 as hours_in_month,
        coalesce(month_end_arrears.arrears_yuan, 0) as arrears_yuan
    from key_accounts
    left join consumption
        on key_accounts.cons_no = consumption.cons_no
        and key_accounts.month = consumption.billing_month
    left join month_end_arrears
        on key_accounts.cons_no = month_end_arrears.cons_no
        and key_accounts.month = month_end_arrears.month
),

ratios as (
    select
        measured.*,
        case when max_demand_kw > 0 then kwh / (max_demand_kw * hours_in_month) end as load_factor,
        case when contract_kva > 0 then max_demand_kw / contract_kva end as demand_utilisation,
        case when kvarh is not null and (kwh <> 0 or kvarh <> 0) then kwh / sqrt(kwh * kwh + kvarh * kvarh) end
            as power_factor,
        kwh_prev_year is not null and kwh < 0.7 * kwh_prev_year as has_drop_alert,
        coalesce(contract_kva > 0 and max_demand_kw > contract_kva, false) as has_overload_alert
    from measured
),

final as (
    select
        ratios.*,
        case
            when has_drop_alert and has_overload_alert then 'DROP,OVERLOAD'
            when has_drop_alert then 'DROP'
            when has_overload_alert then 'OVERLOAD'
        end as alert
    from ratios
)

select
    cons_no,
    month,
    org_no,
    elec_type,
    voltage,
    is_key_account,
    cast(contract_kva as decimal(18, 2)) as contract_kva,
    cast(kwh as decimal(18, 2)) as kwh,
    cast(kwh_prev_year as decimal(18, 2)) as kwh_prev_year,
    cast(kwh_yoy_rate as double) as kwh_yoy_rate,
    cast(max_demand_kw as decimal(18, 2)) as max_demand_kw,
    cast(kvarh as decimal(18, 2)) as kvarh,
    cast(load_factor as double) as load_factor,
    cast(demand_utilisation as double) as demand_utilisation,
    cast(power_factor as double) as power_factor,
    cast(amount_yuan as decimal(18, 2)) as amount_yuan,
    cast(arrears_yuan as decimal(18, 2)) as arrears_yuan,
    has_drop_alert,
    has_overload_alert,
    alert
from final
