-- One row per satisfaction survey (回访): scores 1–10 (NULL where not answered); no comment text
-- (personal data). Customer attributes of the end of the survey month.
with surveys as (
    select * from {{ ref('stg_marketing__surveys') }}
),

attributes as (
    select month, cons_no, customer_sk, org_no, elec_type from {{ ref('int_customer_months') }}
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
left join attributes
    on surveys.cons_no = attributes.cons_no
    and cast({{ dbt.date_trunc('month', 'surveys.survey_date') }} as date) = attributes.month
