-- One row per customer as of the data date (every customer of the master, in its version in force
-- then, plus any customer with receivables or payments whose master has not arrived): how the
-- customer paid over the last 12 months, dates in (data date − 12 calendar months, data date]
-- (缴费行为).
-- bills_due: receivables (NORMAL and upward ADJUST; each is payable on its own due date) due in
-- the window; paid on time when their net payments dated ≤ the due date reach the amount.
-- avg/max_days_late: over those bills paid by the data date, days_late = max(0, paid_date − due
-- date), on-time ones count as 0; unpaid bills show in bills_unpaid and in the arrears.
-- preferred_channel: the channel with the most net money received in the window (BALANCE
-- transfers are not money received; prepayments are), ties by channel code; NULL without money.
-- arrears_yuan / oldest_days_overdue: receivables in arrears at the data date.
-- disconnections: DISCONNECT events (欠费停电) in the window.
with customers as (
    select * from {{ ref('int_customers_as_of') }}
),

receivables as {{ not_materialized() }} (
    select * from {{ ref('int_receivables') }}
),

payments as {{ not_materialized() }} (
    select * from {{ ref('fct_payment') }}
),

arrears as (
    select * from {{ ref('fct_arrears_snapshot') }}
    where is_in_arrears
),

dunning as (
    select * from {{ ref('fct_dunning') }}
    where event_type = 'DISCONNECT'
),

data_date as (
    select
        as_of_date,
        cast({{ dbt.dateadd('month', -12, 'as_of_date') }} as date) as window_start
    from {{ ref('int_data_date') }}
),

population as (
    -- the customers of the master, and anyone else with a receivable or a payment: those are
    -- found by an anti-join first, so the distinct runs over the few of them rather than over
    -- every receivable and payment (51 M rows at 1 M customers). A NULL cons_no counts once.
    select cons_no from customers
    union all
    select distinct others.cons_no
    from (
        select cons_no from receivables
        union all
        select cons_no from payments
    ) as others
    where not exists (select 1 from customers where customers.cons_no = others.cons_no)
),

bills_due as (
    select
        receivables.cons_no,
        count(*) as bills_due,
        sum(case when receivables.is_paid_on_time then 1 else 0 end) as bills_paid_on_time,
        sum(case when receivables.paid_date is null then 1 else 0 end) as bills_unpaid,
        avg(receivables.days_late) as avg_days_late,
        max(receivables.days_late) as max_days_late
    from receivables
    cross join data_date
    where receivables.due_date > data_date.window_start
        and receivables.due_date <= data_date.as_of_date
    group by receivables.cons_no
),

channel_money as (
    select
        payments.cons_no,
        payments.channel,
        sum(payments.amount_yuan) as amount_yuan
    from payments
    cross join data_date
    where payments.channel <> 'BALANCE'
        and payments.pay_date > data_date.window_start
        and payments.pay_date <= data_date.as_of_date
    group by payments.cons_no, payments.channel
),

preferred_channel as (
    select cons_no, channel, amount_yuan
    from (
        select
            channel_money.*,
            row_number() over (
                partition by channel_money.cons_no order by channel_money.amount_yuan desc, channel_money.channel
            ) as channel_rank
        from channel_money
        where channel_money.amount_yuan > 0
    ) as ranked
    where channel_rank = 1
),

money_received as (
    select cons_no, sum(amount_yuan) as amount_yuan
    from channel_money
    group by cons_no
),

current_arrears as (
    select
        arrears.cons_no,
        count(*) as receivables_in_arrears,
        sum(arrears.arrears_yuan) as arrears_yuan,
        max(arrears.days_overdue) as oldest_days_overdue
    from arrears
    inner join data_date on arrears.snapshot_date = data_date.as_of_date
    group by arrears.cons_no
),

disconnections as (
    select dunning.cons_no, count(*) as disconnections
    from dunning
    cross join data_date
    where dunning.event_date > data_date.window_start
        and dunning.event_date <= data_date.as_of_date
    group by dunning.cons_no
),

final as (
    select
        population.cons_no,
        data_date.as_of_date,
        customers.customer_sk,
        customers.org_no,
        customers.elec_type,
        customers.status,
        coalesce(bills_due.bills_due, 0) as bills_due,
        coalesce(bills_due.bills_paid_on_time, 0) as bills_paid_on_time,
        coalesce(bills_due.bills_unpaid, 0) as bills_unpaid,
        cast(bills_due.bills_paid_on_time as double) / nullif(bills_due.bills_due, 0) as on_time_rate,
        bills_due.avg_days_late,
        bills_due.max_days_late,
        coalesce(money_received.amount_yuan, 0) as money_received_yuan,
        preferred_channel.channel as preferred_channel,
        coalesce(current_arrears.receivables_in_arrears, 0) as receivables_in_arrears,
        coalesce(current_arrears.arrears_yuan, 0) as arrears_yuan,
        current_arrears.oldest_days_overdue,
        coalesce(disconnections.disconnections, 0) as disconnections
    from population
    cross join data_date
    left join customers on population.cons_no = customers.cons_no
    left join bills_due on population.cons_no = bills_due.cons_no
    left join money_received on population.cons_no = money_received.cons_no
    left join preferred_channel on population.cons_no = preferred_channel.cons_no
    left join current_arrears on population.cons_no = current_arrears.cons_no
    left join disconnections on population.cons_no = disconnections.cons_no
)

select
    cons_no,
    cast(as_of_date as date) as as_of_date,
    customer_sk,
    org_no,
    elec_type,
    status,
    cast(bills_due as {{ dbt.type_bigint() }}) as bills_due,
    cast(bills_paid_on_time as {{ dbt.type_bigint() }}) as bills_paid_on_time,
    cast(bills_unpaid as {{ dbt.type_bigint() }}) as bills_unpaid,
    cast(on_time_rate as double) as on_time_rate,
    cast(avg_days_late as double) as avg_days_late,
    cast(max_days_late as {{ dbt.type_int() }}) as max_days_late,
    cast(money_received_yuan as decimal(18, 2)) as money_received_yuan,
    preferred_channel,
    cast(receivables_in_arrears as {{ dbt.type_bigint() }}) as receivables_in_arrears,
    cast(arrears_yuan as decimal(18, 2)) as arrears_yuan,
    cast(oldest_days_overdue as {{ dbt.type_int() }}) as oldest_days_overdue,
    cast(disconnections as {{ dbt.type_bigint() }}) as disconnections
from final
