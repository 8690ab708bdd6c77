-- One row per complaint category_l1 (投诉分类), from the seed.
select category_l1, name_zh, name_en from {{ ref('complaint_category') }}
