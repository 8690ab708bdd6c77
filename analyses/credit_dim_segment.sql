-- 客户细分: the service strategy of each segment and how many customers it covers today.
select
    dim.segment_no,
    dim.segment_label_zh,
    dim.service_strategy_zh,
    count(customers.cons_no) as customers
from {{ ref('dim_segment') }} as dim
left join {{ ref('customer_segment') }} as customers on dim.segment_no = customers.segment_no
group by dim.segment_no, dim.segment_label_zh, dim.service_strategy_zh
order by dim.segment_no
