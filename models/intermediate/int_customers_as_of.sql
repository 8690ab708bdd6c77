-- One row per customer: the master version in force at the end of the data date.
with versions as (
    select * from {{ ref('int_customer_versions') }}
),

data_date as (
    select as_of_date, cast({{ dbt.dateadd('day', 1, 'as_of_date') }} as {{ dbt.type_timestamp() }}) as next_day
    from {{ ref('int_data_date') }}
)

select
    data_date.as_of_date,
    versions.cons_no,
    versions.customer_sk,
    versions.elec_type,
    versions.voltage,
    versions.contract_kva,
    versions.industry_section,
    versions.org_no,
    versions.tg_id,
    versions.tariff_code,
    versions.is_key_account,
    versions.status,
    versions.open_date,
    versions.close_date
from versions
cross join data_date
where versions.effective_from < data_date.next_day
    and (versions.effective_to is null or versions.effective_to >= data_date.next_day)
