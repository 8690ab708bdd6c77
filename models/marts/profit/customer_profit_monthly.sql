-- 利润贡献: revenue, energy cost, margin, cost shares and profit per customer × billing month.
-- Bills count in their billing_month (an ADJUST bill restates the month it corrects); the
-- station, elec_type and capacity are the customer's version in force at that month end.
with bills as (
    select * from {{ ref('fct_bill') }}
),

cost_prices as (
    select * from {{ ref('int_tariff_cost_prices') }}
),

costs as (
    select * from {{ ref('stg_marketing__costs') }}
),

customer_months as (
    select * from {{ ref('int_customer_months') }}
),

customer_versions as (
    select * from {{ ref('int_customer_versions') }}
),

bill_costs as (
    -- energy the company buys for this bill: billed kWh × (PURCHASE + LOSS + SYSTEM) of the
    -- bill's tariff in force on the first day of the billing month; TD is not a cost
    select
        bills.bill_id,
        bills.cons_no,
        bills.billing_month as month,
        bills.bill_type,
        bills.kwh,
        bills.items_yuan - bills.fund_yuan as revenue_yuan,
        bills.kwh * coalesce(cost_prices.energy_cost_yuan_per_kwh, 0) as energy_cost_raw_yuan
    from bills
    left join cost_prices
        on bills.tariff_code = cost_prices.tariff_code
        and bills.billing_month = cost_prices.month
),

customer_month_totals as (
    select
        bill_costs.cons_no,
        bill_costs.month,
        sum(bill_costs.kwh) as kwh,
        sum(bill_costs.revenue_yuan) as revenue_yuan,
        {{ round_money('sum(bill_costs.energy_cost_raw_yuan)') }} as energy_cost_yuan,
        max(case when bill_costs.bill_type = 'NORMAL' then 1 else 0 end) = 1 as has_normal_bill
    from bill_costs
    group by bill_costs.cons_no, bill_costs.month
),

with_attributes as (
    select
        customer_month_totals.*,
        customer_months.org_no,
        customer_months.elec_type,
        customer_months.contract_kva
    from customer_month_totals
    left join customer_months
        on customer_month_totals.cons_no = customer_months.cons_no
        and customer_month_totals.month = customer_months.month
),

sharing_base as (
    -- the customers a station's costs of the month are shared among: those of the station (in
    -- force at month end) with a NORMAL bill in the month
    select
        org_no,
        month,
        count(*) as sharing_customers,
        sum(kwh) as sharing_kwh
    from with_attributes
    where has_normal_bill and org_no is not null
    group by org_no, month
),

cost_shares as (
    select
        with_attributes.cons_no,
        with_attributes.month,
        {{ round_money('costs.marketing_cost_yuan / sharing_base.sharing_customers') }} as marketing_cost_yuan,
        case
            when sharing_base.sharing_kwh = 0
                then {{ round_money('costs.operating_cost_yuan / sharing_base.sharing_customers') }}
            else {{ round_money('costs.operating_cost_yuan * with_attributes.kwh / sharing_base.sharing_kwh') }}
        end as operating_cost_yuan
    from with_attributes
    inner join sharing_base
        on with_attributes.org_no = sharing_base.org_no
        and with_attributes.month = sharing_base.month
    inner join costs
        on with_attributes.org_no = costs.org_no
        and with_attributes.month = costs.billing_month
    where with_attributes.has_normal_bill
),

capacity_year_earlier as (
    -- contracted kVA at the same month end a year earlier (the version in force then)
    select
        with_attributes.cons_no,
        with_attributes.month,
        customer_versions.contract_kva,
        customer_versions.open_date
    from with_attributes
    inner join customer_versions
        on with_attributes.cons_no = customer_versions.cons_no
        and customer_versions.effective_from < cast({{ dbt.dateadd('month', -11, 'with_attributes.month') }} as {{ dbt.type_timestamp() }})
        and (customer_versions.effective_to is null
            or customer_versions.effective_to >= cast({{ dbt.dateadd('month', -11, 'with_attributes.month') }} as {{ dbt.type_timestamp() }}))
),

final as (
    select
        with_attributes.cons_no,
        with_attributes.month,
        with_attributes.org_no,
        with_attributes.elec_type,
        cast(with_attributes.kwh as decimal(18, 2)) as kwh,
        cast(with_attributes.revenue_yuan as decimal(18, 2)) as revenue_yuan,
        with_attributes.energy_cost_yuan,
        cast(with_attributes.revenue_yuan - with_attributes.energy_cost_yuan as decimal(18, 2)) as margin_yuan,
        cast(coalesce(cost_shares.marketing_cost_yuan, 0) as decimal(18, 2)) as marketing_cost_yuan,
        cast(coalesce(cost_shares.operating_cost_yuan, 0) as decimal(18, 2)) as operating_cost_yuan,
        cast(
            with_attributes.revenue_yuan - with_attributes.energy_cost_yuan
            - coalesce(cost_shares.marketing_cost_yuan, 0) - coalesce(cost_shares.operating_cost_yuan, 0)
            as decimal(18, 2)
        ) as profit_yuan,
        cast(case when year_earlier.kwh <> 0 then with_attributes.kwh / year_earlier.kwh - 1 end
            as double) as kwh_yoy_rate,
        cast(case when capacity_year_earlier.open_date <= cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', -11, 'with_attributes.month')) }} as date)
            then with_attributes.contract_kva - capacity_year_earlier.contract_kva end as decimal(18, 2)) as contract_kva_change,
        with_attributes.has_normal_bill
    from with_attributes
    left join cost_shares
        on with_attributes.cons_no = cost_shares.cons_no
        and with_attributes.month = cost_shares.month
    left join with_attributes as year_earlier
        on with_attributes.cons_no = year_earlier.cons_no
        and year_earlier.month = cast({{ dbt.dateadd('month', -12, 'with_attributes.month') }} as date)
    left join capacity_year_earlier
        on with_attributes.cons_no = capacity_year_earlier.cons_no
        and with_attributes.month = capacity_year_earlier.month
)

select
    cons_no,
    month,
    org_no,
    elec_type,
    kwh,
    revenue_yuan,
    energy_cost_yuan,
    margin_yuan,
    marketing_cost_yuan,
    operating_cost_yuan,
    profit_yuan,
    kwh_yoy_rate,
    contract_kva_change,
    has_normal_bill
from final
