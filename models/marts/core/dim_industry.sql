-- One row per GB/T 4754 industry code met in the customer master (a two-digit division such as
-- C26) and per section letter (A…T, from the seed); `industry_section` is the letter.
with sections as (
    select industry_section, name_zh, name_en from {{ ref('industry_section') }}
),

divisions as (
    select distinct industry_code, industry_section
    from {{ ref('stg_marketing__customers') }}
    where industry_code is not null
)

select
    sections.industry_section as industry_code,
    sections.industry_section,
    sections.name_zh,
    sections.name_en,
    true as is_section
from sections
union all
select
    divisions.industry_code,
    divisions.industry_section,
    sections.name_zh,
    sections.name_en,
    false as is_section
from divisions
left join sections on divisions.industry_section = sections.industry_section
where divisions.industry_code <> divisions.industry_section
