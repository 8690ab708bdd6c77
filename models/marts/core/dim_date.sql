-- One row per calendar day from the first month of data to the end of the data date's year.
with months as (
    select min(month) as first_day, max(month) as last_month from {{ ref('int_months') }}
),

days as (
    {{ day_series('(select first_day from months)', "(select cast(" ~ dbt.date_trunc('year', 'last_month') ~ " as date) + interval 1 year - interval 1 day from months)") }}
)

select
    date_day,
    cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month,
    extract(quarter from date_day) as quarter,
    extract(year from date_day) as year,
    extract(month from date_day) as month_of_year,
    extract(day from date_day) as day_of_month,
    {{ iso_weekday('date_day') }} as iso_weekday,
    weekofyear(date_day) as iso_week,
    {{ iso_weekday('date_day') }} >= 6 as is_weekend,
    date_day = last_day(date_day) as is_month_end
from days
