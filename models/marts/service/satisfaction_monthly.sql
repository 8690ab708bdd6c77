-- 满意度: survey month × station × elec_type (METRICS.md §10); figures from
-- int_service_survey_figures.
with figures as (
    select * from {{ ref('int_service_survey_figures') }}
    where grain = 'ELEC_TYPE'
),

final as (
    select
        month,
        org_no,
        elec_type,
        surveys,
        avg_score_supply,
        avg_score_billing,
        avg_score_service,
        avg_score_channel,
        avg_score_overall,
        overall_scores,
        satisfaction_index,
        satisfied_share
    from figures
)

select
    month,
    org_no,
    elec_type,
    surveys,
    avg_score_supply,
    avg_score_billing,
    avg_score_service,
    avg_score_channel,
    avg_score_overall,
    overall_scores,
    satisfaction_index,
    satisfied_share
from final
