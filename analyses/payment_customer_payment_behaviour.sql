-- 缴费行为: customers who paid fewer than half their bills on time in the last year, with their
-- favourite channel (candidates for direct debit or prepayment).
select
    cons_no,
    org_no,
    elec_type,
    bills_due,
    on_time_rate,
    avg_days_late,
    max_days_late,
    preferred_channel,
    arrears_yuan
from {{ ref('customer_payment_behaviour') }}
where on_time_rate < 0.5
order by on_time_rate, arrears_yuan desc
