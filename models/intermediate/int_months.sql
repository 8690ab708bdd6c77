-- One row per calendar month from the first month any bill, reading, payment or service event
-- names, up to the data date's month. `month_end_date` is the last day; `next_month_start` bounds the "last
-- instant of the month" (a timestamp on the last day is inside the month).
with data_date as (
    select as_of_date from {{ ref('int_data_date') }}
),

bounds as (
    select
        least(
            (select min(billing_month) from {{ ref('stg_marketing__bills') }}),
            (select min(billing_month) from {{ ref('stg_marketing__readings') }}),
            (select {{ dbt.date_trunc('month', 'min(pay_time)') }} from {{ ref('stg_marketing__payments') }}),
            (select {{ dbt.date_trunc('month', 'min(accept_time)') }} from {{ ref('stg_marketing__work_orders') }}),
            (select {{ dbt.date_trunc('month', 'min(survey_date)') }} from {{ ref('stg_marketing__surveys') }}),
            (select {{ dbt.date_trunc('month', 'min(start_time)') }} from {{ ref('stg_marketing__outages') }}),
            (select {{ dbt.date_trunc('month', 'min(event_time)') }} from {{ ref('stg_marketing__dunning_events') }}),
            (select {{ dbt.date_trunc('month', 'min(found_date)') }} from {{ ref('stg_marketing__violations') }}),
            (select {{ dbt.date_trunc('month', 'as_of_date') }} from data_date)
        ) as first_month,
        (select {{ dbt.date_trunc('month', 'as_of_date') }} from data_date) as last_month
),

months as (
    {{ month_series('(select cast(first_month as date) from bounds)', '(select cast(last_month as date) from bounds)') }}
)

select
    month,
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month')) }} as date) as month_end_date,
    cast({{ dbt.dateadd('month', 1, 'month') }} as date) as next_month_start
from months
