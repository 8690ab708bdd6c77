-- One row per satisfaction survey (回访): scores 1–10 (NULL where not answered); no comment text
-- (personal data). Customer attributes of the end of the survey month.
with surveys as (
    select * from {{ ref('stg_marketing__surveys') }}
)

select
    surveys.survey_id,
    surveys.cons_no,
    attributes.customer_sk,
    surveys.survey_date,
    cast({{ dbt.date_trunc('month', 'surveys.survey_date') }} as date) as survey_month,
    surveys.channel,
    attributes.org_no,
    attributes.elec_type,
    surveys.score_supply,
    surveys.score_billing,
    surveys.score_service,
    surveys.score_channel,
    surveys.score_overall
from surveys
{{ join_version_at_month_end('attributes', 'surveys.cons_no', "cast(" ~ dbt.date_trunc('month', 'surveys.survey_date') ~ " as date)") }}
