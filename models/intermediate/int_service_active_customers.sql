-- One row per month × org unit of any level (station, county, company): the customers ACTIVE
-- at the end of the month, with open_date ≤ month end, whose station in force at that month end
-- is the unit or lies under it (the org tree of dim_org). The denominator of every per-customer
-- service figure: complaints per 10 000 customers, SAIDI and SAIFI.
with customer_months as (
    select * from {{ ref('int_customer_months') }}
),

orgs as (
    select * from {{ ref('dim_org') }}
),

active as (
    select customer_months.month, customer_months.cons_no, customer_months.org_no
    from customer_months
    where customer_months.status = 'ACTIVE'
        and customer_months.open_date <= customer_months.month_end_date
),

-- a customer counts for its station, the station's county and the company; a station missing
-- from the org snapshot still counts for itself
units as (
    select active.month, active.cons_no, active.org_no as unit_org_no
    from active
    union all
    select active.month, active.cons_no, orgs.county_org_no as unit_org_no
    from active
    inner join orgs on active.org_no = orgs.org_no and orgs.org_level = 3
    union all
    select active.month, active.cons_no, orgs.company_org_no as unit_org_no
    from active
    inner join orgs on active.org_no = orgs.org_no and orgs.org_level = 3
)

select
    month,
    unit_org_no as org_no,
    cast(count(distinct cons_no) as {{ dbt.type_bigint() }}) as active_customers
from units
where unit_org_no is not null
group by month, unit_org_no
