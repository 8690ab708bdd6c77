-- One row per evaluation date (every month end up to the data date, and the data date) × segment
-- at the previous evaluation date × segment at this one: how many customers moved between the
-- combined segments (客户细分迁移), so marketing sees whether its strategies lift customers.
-- Segments at each date use the rules of customer_segment (value class over the 12 billing months
-- ending with the month before the date's month, as restated now; credit score as of the date).
-- movement: UP (to a better segment, a lower number), DOWN, SAME, NEW (not active at the previous
-- date: from_segment_no NULL), LEFT (no longer active: to_segment_no NULL). The first evaluation
-- date has no previous one and no rows.
with segments as (
    select * from {{ ref('int_credit_segments') }}
),

evaluation_dates as (
    select
        snapshot_date as evaluation_date,
        lag(snapshot_date) over (order by snapshot_date) as previous_date
    from {{ ref('int_snapshot_dates') }}
),

pairs as (
    select evaluation_date, previous_date
    from evaluation_dates
    where previous_date is not null
),

current_segments as (
    select pairs.evaluation_date, pairs.previous_date, segments.cons_no, segments.segment_no
    from pairs
    inner join segments on segments.evaluation_date = pairs.evaluation_date
),

previous_segments as (
    select pairs.evaluation_date, pairs.previous_date, segments.cons_no, segments.segment_no
    from pairs
    inner join segments on segments.evaluation_date = pairs.previous_date
),

moves as (
    select
        coalesce(current_segments.evaluation_date, previous_segments.evaluation_date) as evaluation_date,
        coalesce(current_segments.previous_date, previous_segments.previous_date) as previous_date,
        coalesce(current_segments.cons_no, previous_segments.cons_no) as cons_no,
        previous_segments.segment_no as from_segment_no,
        current_segments.segment_no as to_segment_no
    from current_segments
    full outer join previous_segments
        on current_segments.evaluation_date = previous_segments.evaluation_date
        and current_segments.cons_no = previous_segments.cons_no
),

final as (
    select
        evaluation_date,
        previous_date,
        from_segment_no,
        to_segment_no,
        case
            when from_segment_no is null then 'NEW'
            when to_segment_no is null then 'LEFT'
            when to_segment_no < from_segment_no then 'UP'
            when to_segment_no > from_segment_no then 'DOWN'
            else 'SAME'
        end as movement,
        count(*) as customers
    from moves
    group by evaluation_date, previous_date, from_segment_no, to_segment_no
)

select
    cast(evaluation_date as date) as snapshot_date,
    cast({{ dbt.date_trunc('month', 'evaluation_date') }} as date) as month,
    cast(previous_date as date) as previous_snapshot_date,
    cast(from_segment_no as {{ dbt.type_int() }}) as from_segment_no,
    cast(to_segment_no as {{ dbt.type_int() }}) as to_segment_no,
    movement,
    cast(customers as {{ dbt.type_bigint() }}) as customers
from final
