-- One row per month × org unit of any level (station, county, company): the customers ACTIVE
-- at the end of the month, with open_date ≤ month end, whose station in force at that month end
-- is the unit or lies under it (the org tree of dim_org). The denominator of every per-customer
-- service figure: complaints per 10 000 customers, SAIDI and SAIFI.
-- Counted per month × station first (int_customer_months has one row per customer × month, its
-- tested grain), then summed up the tree: the same figure as a distinct count of customers per
-- unit, without expanding every customer-month into three rows.
with customer_months as (
    select * from {{ ref('int_customer_months') }}
),

orgs as (
    select * from {{ ref('dim_org') }}
),

active_by_org as (
    select customer_months.month, customer_months.org_no, count(*) as customers
    from customer_months
    where customer_months.status = 'ACTIVE'
        and customer_months.open_date <= customer_months.month_end_date
    group by customer_months.month, customer_months.org_no
),

-- the units a customer of org_no counts for, each once: the org itself, and for a station its
-- county and company; a station missing from the org snapshot still counts for itself
org_units as (
    select distinct org_no, unit_org_no from (
        select distinct org_no, org_no as unit_org_no from active_by_org
        union all
        select orgs.org_no, orgs.county_org_no as unit_org_no from orgs where orgs.org_level = 3
        union all
        select orgs.org_no, orgs.company_org_no as unit_org_no from orgs where orgs.org_level = 3
    ) units
    where unit_org_no is not null
)

select
    active_by_org.month,
    org_units.unit_org_no as org_no,
    cast(sum(active_by_org.customers) as {{ dbt.type_bigint() }}) as active_customers
from active_by_org
inner join org_units on active_by_org.org_no = org_units.org_no
group by active_by_org.month, org_units.unit_org_no
