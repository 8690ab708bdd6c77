-- Question (业扩报装): per station and industry, how many connection requests, new and closed
-- accounts, and how much contracted capacity was added each quarter?
select
    cast({{ dbt.date_trunc('quarter', 'month') }} as date) as quarter,
    org_no,
    industry_section,
    sum(connection_requests) as connection_requests,
    sum(new_accounts) as new_accounts,
    sum(closed_accounts) as closed_accounts,
    sum(contract_kva_added) as contract_kva_added,
    sum(capacity_decrease_kva + closed_account_kva) as contract_kva_removed
from {{ ref('demand_monthly') }}
group by 1, org_no, industry_section
order by quarter, org_no, industry_section
