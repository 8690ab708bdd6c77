-- One row per customer segment (客户细分, 1 优质 … 5 差) with its service strategy (服务策略),
-- from the seed `segment`.
with segments as (
    select * from {{ ref('segment') }}
)

select
    cast(segment_no as {{ dbt.type_int() }}) as segment_no,
    cast(segment_label_zh as {{ dbt.type_string() }}) as segment_label_zh,
    cast(segment_label_en as {{ dbt.type_string() }}) as segment_label_en,
    cast(service_strategy_zh as {{ dbt.type_string() }}) as service_strategy_zh,
    cast(service_strategy_en as {{ dbt.type_string() }}) as service_strategy_en
from segments
