-- One row per arrears snapshot date: every month end up to the data date, and the data date.
with months as (
    select month_end_date from {{ ref('int_months') }}
),

data_date as (
    select as_of_date from {{ ref('int_data_date') }}
)

select month_end_date as snapshot_date
from months
where month_end_date <= (select as_of_date from data_date)
union
select as_of_date as snapshot_date from data_date
