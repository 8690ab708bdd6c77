-- 供电所线损: each station's loss rate trend, and how many of its measurable areas are HIGH.
select
    org_no,
    month,
    loss_rate,
    areas,
    areas_high,
    areas_negative
from {{ ref('line_loss_station_monthly') }}
order by org_no, month
