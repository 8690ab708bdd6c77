-- One row per customer with a bill in the value window × evaluation date (every month end up to
-- the data date, and the data date): the ABC value class as customer_value defines it, applied
-- at each evaluation date so that the segment history can place customers month by month.
-- Window at date E: the 12 billing months ending with the month before E's month (profit as
-- restated by every ADJUST bill known now). Customers with profit > 0 ranked by profit
-- descending (ties by cons_no): A while the share of the total positive profit accumulated
-- before the customer is < 0.80, the rest B; profit ≤ 0 is C. At the data date this equals
-- customer_value.abc_class, which is read from here: the ABC rule lives in this model only.
-- Incremental: a date's ranking spans every customer, so a night re-derives whole dates: those
-- not built yet (a new data date), those whose window holds a month customer_profit_monthly
-- re-derived, and the previous data date (macros/batches.sql, value_class_batch_dates); the
-- dates no longer in force go. A redelivered bill, bill_item, cust or cost partition, or any
-- tariff change, rebuilds it whole.
-- depends_on: {{ ref('stg_meta__partitions') }}
-- depends_on: {{ source('meta', 'load_log') }}
{%- set extracts = ['bill', 'bill_item', 'cust', 'cost'] %}
{%- set any_change = ['tariff'] %}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ prepare_evaluation_date_batch(['bill', 'bill_item', 'cust', 'cost'], ['tariff'], value_class_batch_dates()) }}",
    post_hook="{{ drop_key_batch(period_batch_relation()) }}",
) }}
with evaluation_dates as (
    select snapshot_date as evaluation_date from {{ ref('int_snapshot_dates') }}
    where true{{ in_evaluation_date_batch('snapshot_date', extracts, any_change) }}
),

profit as (
    select * from {{ ref('customer_profit_monthly') }}
),

data_date as (
    select as_of_date from {{ ref('int_data_date') }}
),

windows as (
    select
        evaluation_date,
        cast({{ dbt.dateadd('month', -12, dbt.date_trunc('month', 'evaluation_date')) }} as date) as window_start,
        cast({{ dbt.dateadd('month', -1, dbt.date_trunc('month', 'evaluation_date')) }} as date) as window_end
    from evaluation_dates
),

in_window as (
    select
        windows.evaluation_date,
        profit.cons_no,
        sum(profit.profit_yuan) as profit_yuan
    from windows
    inner join profit
        on profit.month >= windows.window_start
        and profit.month <= windows.window_end
    group by windows.evaluation_date, profit.cons_no
),

ranked_positive as (
    select
        evaluation_date,
        cons_no,
        coalesce(sum(profit_yuan) over (
            partition by evaluation_date
            order by profit_yuan desc, cons_no
            rows between unbounded preceding and 1 preceding
        ), 0) / sum(profit_yuan) over (partition by evaluation_date) as share_before
    from in_window
    where profit_yuan > 0
)

select
    in_window.evaluation_date,
    in_window.evaluation_date = data_date.as_of_date as is_data_date,
    in_window.cons_no,
    cast(in_window.profit_yuan as decimal(18, 2)) as profit_yuan,
    ranked_positive.share_before as profit_share_before,
    case
        when in_window.profit_yuan <= 0 then 'C'
        when ranked_positive.share_before < 0.80 then 'A'
        else 'B'
    end as abc_class,
    {{ build_stamp() }} as _loaded_at
from in_window
cross join data_date
left join ranked_positive
    on in_window.evaluation_date = ranked_positive.evaluation_date
    and in_window.cons_no = ranked_positive.cons_no
