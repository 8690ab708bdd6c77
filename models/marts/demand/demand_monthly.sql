-- 业扩报装与户数变化: month × station × industry section (METRICS.md §10).
-- Requests are work orders of category CONNECTION (业扩报装), any order type, in their accept
-- month. Accounts and capacity come from the customer-master versions: a new account in the
-- month of its open_date, a closed one in the month it was closed (close_date, else the day of
-- the master version that first says CLOSED); capacity changes of existing customers are the
-- change of contract_kva between the previous and this month end while ACTIVE at both.
-- Station and industry section are the customer's, in force at the end of the month.
with work_orders as (
    select * from {{ ref('fct_work_order') }}
    where category_l1 = 'CONNECTION' and accept_time is not null
),

customer_months as {{ not_materialized() }} (
    select * from {{ ref('int_customer_months') }}
),

versions as (
    select * from {{ ref('int_customer_versions') }}
),

requests as (
    -- a request from somebody who is not (yet) a customer stays with the unit responsible for it
    select
        work_orders.accept_month as month,
        coalesce(work_orders.customer_org_no, work_orders.org_no) as org_no,
        customer_months.industry_section,
        count(*) as connection_requests,
        -- 增容/减容: a capacity change rather than a new connection
        sum(case when work_orders.category_l2 like '%容%' then 1 else 0 end) as capacity_change_requests
    from work_orders
    left join customer_months
        on work_orders.cons_no = customer_months.cons_no
        and work_orders.accept_month = customer_months.month
    group by
        work_orders.accept_month,
        coalesce(work_orders.customer_org_no, work_orders.org_no),
        customer_months.industry_section
),

new_accounts as (
    select
        month,
        org_no,
        industry_section,
        count(*) as new_accounts,
        sum(coalesce(contract_kva, 0)) as new_account_kva
    from customer_months
    where open_date >= month and open_date <= month_end_date
    group by month, org_no, industry_section
),

status_changes as (
    select
        cons_no,
        status,
        close_date,
        updated_at,
        lag(status) over (partition by cons_no order by updated_at) as previous_status
    from versions
),

closures as (
    select
        cons_no,
        cast({{ dbt.date_trunc('month', 'coalesce(close_date, cast(updated_at as date))') }} as date) as month
    from status_changes
    where status = 'CLOSED'
        and (previous_status is null or previous_status <> 'CLOSED')
),

closed_accounts as (
    select
        customer_months.month,
        customer_months.org_no,
        customer_months.industry_section,
        count(*) as closed_accounts,
        sum(coalesce(customer_months.contract_kva, 0)) as closed_account_kva
    from closures
    inner join customer_months
        on closures.cons_no = customer_months.cons_no
        and closures.month = customer_months.month
    group by customer_months.month, customer_months.org_no, customer_months.industry_section
),

capacity_deltas as (
    -- only a customer whose master versions hold two contract capacities can change capacity
    -- between two month ends: the window reads their months only (not every customer-month)
    select
        month,
        org_no,
        industry_section,
        open_date,
        status,
        contract_kva - lag(contract_kva) over (partition by cons_no order by month) as kva_change,
        lag(status) over (partition by cons_no order by month) as previous_status
    from customer_months
    where cons_no in (
        select cons_no from versions
        group by cons_no
        having count(distinct contract_kva) > 1
    )
),

capacity_changes as (
    select
        month,
        org_no,
        industry_section,
        sum(case when kva_change > 0 then kva_change else 0 end) as capacity_increase_kva,
        sum(case when kva_change < 0 then -kva_change else 0 end) as capacity_decrease_kva
    from capacity_deltas
    where status = 'ACTIVE'
        and previous_status = 'ACTIVE'
        and open_date < month
        and kva_change <> 0
    group by month, org_no, industry_section
),

keys as (
    select month, org_no, industry_section from requests
    union
    select month, org_no, industry_section from new_accounts
    union
    select month, org_no, industry_section from closed_accounts
    union
    select month, org_no, industry_section from capacity_changes
),

final as (
    select
        keys.month,
        keys.org_no,
        keys.industry_section,
        coalesce(requests.connection_requests, 0) as connection_requests,
        coalesce(requests.capacity_change_requests, 0) as capacity_change_requests,
        coalesce(new_accounts.new_accounts, 0) as new_accounts,
        coalesce(closed_accounts.closed_accounts, 0) as closed_accounts,
        coalesce(new_accounts.new_account_kva, 0) as new_account_kva,
        coalesce(capacity_changes.capacity_increase_kva, 0) as capacity_increase_kva,
        coalesce(new_accounts.new_account_kva, 0)
            + coalesce(capacity_changes.capacity_increase_kva, 0) as contract_kva_added,
        coalesce(capacity_changes.capacity_decrease_kva, 0) as capacity_decrease_kva,
        coalesce(closed_accounts.closed_account_kva, 0) as closed_account_kva
    from keys
    left join requests
        on keys.month = requests.month
        and keys.org_no is not distinct from requests.org_no
        and keys.industry_section is not distinct from requests.industry_section
    left join new_accounts
        on keys.month = new_accounts.month
        and keys.org_no is not distinct from new_accounts.org_no
        and keys.industry_section is not distinct from new_accounts.industry_section
    left join closed_accounts
        on keys.month = closed_accounts.month
        and keys.org_no is not distinct from closed_accounts.org_no
        and keys.industry_section is not distinct from closed_accounts.industry_section
    left join capacity_changes
        on keys.month = capacity_changes.month
        and keys.org_no is not distinct from capacity_changes.org_no
        and keys.industry_section is not distinct from capacity_changes.industry_section
)

select
    month,
    org_no,
    industry_section,
    cast(connection_requests as {{ dbt.type_bigint() }}) as connection_requests,
    cast(capacity_change_requests as {{ dbt.type_bigint() }}) as capacity_change_requests,
    cast(new_accounts as {{ dbt.type_bigint() }}) as new_accounts,
    cast(closed_accounts as {{ dbt.type_bigint() }}) as closed_accounts,
    cast(new_account_kva as decimal(18, 2)) as new_account_kva,
    cast(capacity_increase_kva as decimal(18, 2)) as capacity_increase_kva,
    cast(contract_kva_added as decimal(18, 2)) as contract_kva_added,
    cast(capacity_decrease_kva as decimal(18, 2)) as capacity_decrease_kva,
    cast(closed_account_kva as decimal(18, 2)) as closed_account_kva
from final
