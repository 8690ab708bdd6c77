with source as (
    select * from {{ source('raw', 'survey') }}
),

renamed as (
    select
        {{ clean_text('survey_id') }} as survey_id,
        {{ clean_text('cons_no') }} as cons_no,
        {{ to_date('survey_date') }} as survey_date,
        {{ normalize_code('channel') }} as channel,
        {{ to_int('score_supply') }} as score_supply,
        {{ to_int('score_billing') }} as score_billing,
        {{ to_int('score_service') }} as score_service,
        {{ to_int('score_channel') }} as score_channel,
        {{ to_int('score_overall') }} as score_overall,
        {{ clean_text('comment') }} as comment,
        _business_date,
        _record_no
    from source
),

deduped as (
    {{ latest_per_key('renamed', ['survey_id']) }}
)

select
    survey_id, cons_no, survey_date, channel, score_supply, score_billing, score_service, score_channel,
    score_overall, comment, _business_date
from deduped
