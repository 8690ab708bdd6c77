-- One row per organisation unit of the 3-level tree (company → county branch → supply station),
-- with the station, county and company codes and names side by side. Stations are
-- org_level 3; county and company rows are kept so that a work order whose responsible unit is
-- a county still finds its unit.
with units as (
    select distinct org_no, org_name, parent_org_no, org_level
    from {{ ref('stg_marketing__orgs') }}
    where tg_id is null
),

parents as (
    select org_no, org_name, parent_org_no, org_level from units
)

select
    units.org_no,
    units.org_name,
    units.org_level,
    units.parent_org_no,
    case units.org_level when 3 then units.org_no end as station_org_no,
    case units.org_level when 3 then units.org_name end as station_name,
    case units.org_level when 3 then units.parent_org_no when 2 then units.org_no end as county_org_no,
    case units.org_level when 3 then county.org_name when 2 then units.org_name end as county_name,
    case units.org_level
        when 3 then county.parent_org_no when 2 then units.parent_org_no else units.org_no end as company_org_no,
    case units.org_level
        when 3 then company3.org_name when 2 then company2.org_name else units.org_name end as company_name
from units
left join parents as county on units.org_level = 3 and county.org_no = units.parent_org_no
left join parents as company3 on units.org_level = 3 and company3.org_no = county.parent_org_no
left join parents as company2 on units.org_level = 2 and company2.org_no = units.parent_org_no
