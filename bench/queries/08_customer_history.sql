-- One customer's 24-month history: bills, payments, profit and credit (SET VARIABLE cons_no = '…' first).
with bills as (
    select billing_month as month, count(*) as bills, sum(kwh) as kwh, sum(amount_yuan) as amount_yuan,
           sum(paid_yuan) as paid_yuan, sum(outstanding_yuan) as outstanding_yuan, max(days_late) as max_days_late
    from core.fct_bill
    where cons_no = getvariable('cons_no')
    group by all
),
payments as (
    select pay_month as month, sum(amount_yuan) as paid_in_month_yuan, count(*) as payments
    from core.fct_payment
    where cons_no = getvariable('cons_no')
    group by all
),
profit as (
    select month, revenue_yuan, energy_cost_yuan, profit_yuan
    from marts.customer_profit_monthly
    where cons_no = getvariable('cons_no')
)
select
    m.month, b.bills, b.kwh, b.amount_yuan, b.paid_yuan, b.outstanding_yuan, b.max_days_late,
    p.payments, p.paid_in_month_yuan, f.revenue_yuan, f.energy_cost_yuan, f.profit_yuan,
    c.credit_score, c.credit_grade
from (select month from bills union select month from payments union select month from profit) m
left join bills b using (month)
left join payments p using (month)
left join profit f using (month)
left join marts.customer_credit c on c.cons_no = getvariable('cons_no')
order by m.month
