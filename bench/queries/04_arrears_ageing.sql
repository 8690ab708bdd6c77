-- 欠费账龄 at the data date (the latest snapshot) by category and ageing bucket.
select
    a.elec_type,
    a.ageing_bucket,
    sum(a.receivables) as receivables,
    sum(a.customers) as customers,
    sum(a.arrears_yuan) as arrears_yuan,
    sum(a.penalty_accrued_yuan) as penalty_accrued_yuan,
    sum(a.arrears_yuan) / sum(sum(a.arrears_yuan)) over (partition by a.elec_type) as arrears_share
from marts.arrears_ageing a
where a.snapshot_date = (select max(snapshot_date) from marts.arrears_ageing)
group by a.elec_type, a.ageing_bucket
order by a.elec_type, a.ageing_bucket
