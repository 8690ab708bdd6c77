-- 电费回收率: which stations collect least of what they billed, and how much of it arrives late?
select
    recovery.org_no,
    orgs.org_name,
    sum(recovery.billed_yuan) as billed_yuan,
    sum(recovery.collected_yuan) as collected_yuan,
    sum(recovery.collected_yuan) / nullif(sum(recovery.billed_yuan), 0) as recovery_rate,
    sum(recovery.collected_by_due_yuan) / nullif(sum(recovery.billed_yuan), 0) as on_time_recovery_rate,
    sum(recovery.refund_yuan) as refund_yuan
from {{ ref('recovery_monthly') }} as recovery
left join {{ ref('dim_org') }} as orgs on recovery.org_no = orgs.org_no
group by recovery.org_no, orgs.org_name
order by recovery_rate
