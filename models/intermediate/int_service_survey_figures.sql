-- One row per survey month × station × elec_type (`grain` = 'ELEC_TYPE', the rows of
-- satisfaction_monthly) and per survey month × station (`grain` = 'STATION', all elec types
-- together, for service_quality_monthly). Station and elec_type are the customer's, in force at
-- the end of the survey month. Every satisfaction figure of METRICS.md §10 is computed here,
-- once: means ignore NULL (unanswered) scores; satisfaction_index = 10 × mean overall score;
-- satisfied_share = overall ≥ 8 among the surveys with an overall score.
with surveys as (
    -- a survey without a date belongs to no month
    select * from {{ ref('fct_survey') }}
    where survey_date is not null
),

grouped as (
    select
        surveys.survey_month as month,
        surveys.org_no,
        surveys.elec_type,
        case when grouping(surveys.elec_type) = 1 then 'STATION' else 'ELEC_TYPE' end as grain,
        count(*) as surveys,
        avg(cast(surveys.score_supply as double)) as avg_score_supply,
        avg(cast(surveys.score_billing as double)) as avg_score_billing,
        avg(cast(surveys.score_service as double)) as avg_score_service,
        avg(cast(surveys.score_channel as double)) as avg_score_channel,
        avg(cast(surveys.score_overall as double)) as avg_score_overall,
        count(surveys.score_overall) as overall_scores,
        sum(case when surveys.score_overall >= 8 then 1 else 0 end) as satisfied
    from surveys
    group by grouping sets (
        (surveys.survey_month, surveys.org_no, surveys.elec_type),
        (surveys.survey_month, surveys.org_no)
    )
)

select
    month,
    org_no,
    elec_type,
    grain,
    cast(surveys as {{ dbt.type_bigint() }}) as surveys,
    avg_score_supply,
    avg_score_billing,
    avg_score_service,
    avg_score_channel,
    avg_score_overall,
    cast(overall_scores as {{ dbt.type_bigint() }}) as overall_scores,
    10 * avg_score_overall as satisfaction_index,
    cast(satisfied as double) / nullif(overall_scores, 0) as satisfied_share
from grouped
