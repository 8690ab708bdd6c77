-- One row per voltage code (电压等级), from the seed.
select voltage, name_zh, name_en, sort_order from {{ ref('voltage') }}
