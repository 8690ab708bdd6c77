-- Question (投诉热点): which ten transformer areas have the most complaints per 10 000 customers
-- over the last 12 months, and how does their station compare?
with hotspots as (
    select * from {{ ref('complaint_hotspot') }}
)

select
    areas.hotspot_rank,
    areas.tg_id,
    areas.org_no,
    areas.complaints,
    areas.active_customers,
    areas.complaints_per_10k_customers,
    stations.complaints_per_10k_customers as station_complaints_per_10k_customers,
    stations.hotspot_rank as station_rank
from hotspots as areas
left join hotspots as stations
    on stations.unit_level = 'STATION'
    and stations.org_no = areas.org_no
where areas.unit_level = 'TRANSFORMER_AREA'
    and areas.hotspot_rank <= 10
order by areas.hotspot_rank
