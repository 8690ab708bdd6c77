-- Question (满意度): how does the satisfaction index of each station move month by month for
-- residential and business customers, and which score pulls it down?
select
    month,
    org_no,
    elec_type,
    surveys,
    satisfaction_index,
    satisfied_share,
    avg_score_supply,
    avg_score_billing,
    avg_score_service,
    avg_score_channel
from {{ ref('satisfaction_monthly') }}
order by org_no, elec_type, month
