-- 客户价值: profit contribution over the last 12 billing months, ABC class and RFM scores.
-- Window: the 12 billing months ending with the month before the data date's month.
with profit as (
    select * from {{ ref('customer_profit_monthly') }}
),

payments as (
    select * from {{ ref('fct_payment') }}
),

customers_as_of as (
    select * from {{ ref('int_customers_as_of') }}
),

data_date as (
    select
        as_of_date,
        cast({{ dbt.dateadd('month', -12, dbt.date_trunc('month', 'as_of_date')) }} as date) as window_start,
        cast({{ dbt.dateadd('month', -1, dbt.date_trunc('month', 'as_of_date')) }} as date) as window_end
    from {{ ref('int_data_date') }}
),

in_window as (
    select
        profit.cons_no,
        sum(profit.profit_yuan) as profit_yuan,
        sum(profit.revenue_yuan) as revenue_yuan,
        sum(profit.kwh) as kwh
    from profit
    cross join data_date
    where profit.month between data_date.window_start and data_date.window_end
    group by profit.cons_no
),

value_classes as (
    -- the ABC rule (A while the positive profit accumulated before the customer is < 0.80,
    -- ranked by profit descending, ties by cons_no; profit ≤ 0 is C) lives in one model, which
    -- also applies it at every month end for the segment history
    select cons_no, abc_class
    from {{ ref('int_profit_value_classes') }}
    where is_data_date
),

money_payments as (
    -- money received: not a BALANCE transfer, not reversed, positive (reversals are negative)
    select payments.cons_no, payments.pay_date
    from payments
    cross join data_date
    where payments.channel <> 'BALANCE'
        and not payments.is_reversed
        and payments.amount_yuan > 0
        and payments.pay_date <= data_date.as_of_date
),

payment_behaviour as (
    select
        money_payments.cons_no,
        max(money_payments.pay_date) as last_pay_date,
        sum(case when money_payments.pay_date > cast({{ dbt.dateadd('day', -365, 'data_date.as_of_date') }} as date)
            then 1 else 0 end) as frequency
    from money_payments
    cross join data_date
    group by money_payments.cons_no
),

rfm as (
    select
        in_window.cons_no,
        customers_as_of.elec_type,
        in_window.profit_yuan,
        in_window.revenue_yuan,
        in_window.kwh,
        {{ dbt.datediff('payment_behaviour.last_pay_date', 'data_date.as_of_date', 'day') }} as recency_days,
        coalesce(payment_behaviour.frequency, 0) as frequency,
        in_window.revenue_yuan as monetary_yuan,
        value_classes.abc_class
    from in_window
    cross join data_date
    left join customers_as_of on in_window.cons_no = customers_as_of.cons_no
    left join payment_behaviour on in_window.cons_no = payment_behaviour.cons_no
    left join value_classes on in_window.cons_no = value_classes.cons_no
),

final as (
    select
        rfm.cons_no,
        rfm.elec_type,
        cast(rfm.profit_yuan as decimal(18, 2)) as profit_yuan,
        cast(rfm.revenue_yuan as decimal(18, 2)) as revenue_yuan,
        cast(rfm.kwh as decimal(18, 2)) as kwh,
        rfm.abc_class,
        cast(rfm.recency_days as {{ dbt.type_int() }}) as recency_days,
        cast(rfm.frequency as {{ dbt.type_int() }}) as frequency,
        cast(rfm.monetary_yuan as decimal(18, 2)) as monetary_yuan,
        -- never paid (recency NULL) counts as the longest recency: first, lowest score
        cast(ntile(5) over (
            partition by rfm.elec_type order by rfm.recency_days desc nulls first, rfm.cons_no
        ) as {{ dbt.type_int() }}) as r_score,
        cast(ntile(5) over (partition by rfm.elec_type order by rfm.frequency, rfm.cons_no) as {{ dbt.type_int() }}) as f_score,
        cast(ntile(5) over (partition by rfm.elec_type order by rfm.monetary_yuan, rfm.cons_no) as {{ dbt.type_int() }}) as m_score
    from rfm
)

select
    cons_no,
    elec_type,
    profit_yuan,
    revenue_yuan,
    kwh,
    abc_class,
    recency_days,
    frequency,
    monetary_yuan,
    r_score,
    f_score,
    m_score
from final
