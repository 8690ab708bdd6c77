-- 欠费账龄: how are the arrears at the latest snapshot spread over the ageing buckets, and how
-- much penalty have they accrued?
select
    ageing_bucket,
    sum(receivables) as receivables,
    sum(customers) as customers,
    sum(arrears_yuan) as arrears_yuan,
    sum(penalty_accrued_yuan) as penalty_accrued_yuan
from {{ ref('arrears_ageing') }}
where snapshot_date = (select max(snapshot_date) from {{ ref('arrears_ageing') }})
group by ageing_bucket
order by min(case ageing_bucket when '1-30' then 1 when '31-60' then 2 when '61-90' then 3
    when '91-180' then 4 when '181-365' then 5 else 6 end)
