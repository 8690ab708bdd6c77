-- 县公司线损: the counties' monthly loss rate over their measurable areas.
select county_org_no, county_name, month, supply_kwh, loss_kwh, loss_rate, areas, areas_high
from {{ ref('line_loss_county_monthly') }}
order by county_org_no, month
