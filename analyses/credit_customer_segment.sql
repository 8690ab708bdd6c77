-- 客户细分: how many customers does each service strategy reach, by station?
select
    segments.org_no,
    segments.segment_no,
    segments.segment_label_zh,
    segments.service_strategy_zh,
    count(*) as customers
from {{ ref('customer_segment') }} as segments
group by segments.org_no, segments.segment_no, segments.segment_label_zh, segments.service_strategy_zh
order by segments.org_no, segments.segment_no
