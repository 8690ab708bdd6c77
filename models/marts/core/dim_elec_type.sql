-- One row per elec_type code (用电类别), from the seed.
select elec_type, name_zh, name_en, is_two_part from {{ ref('elec_type') }}
