-- One row per station × customer in arrears at the data date (欠费排名): customers ranked within
-- their station (in force at the data date) by arrears, rank 1 = largest, ties broken by cons_no;
-- with the number of receivables in arrears, the oldest days overdue, the penalty accrued and the
-- customer's last dunning event (催费/停复电) up to the end of the data date. Every customer in
-- arrears is listed; filter on arrears_rank for a top N.
with snapshots as (
    select * from {{ ref('fct_arrears_snapshot') }}
    where is_in_arrears
),

data_date as (
    select as_of_date from {{ ref('int_data_date') }}
),

customers as (
    select customer_sk, cons_name from {{ ref('dim_customer') }}
),

dunning as (
    select * from {{ ref('fct_dunning') }}
),

in_arrears as (
    select
        snapshots.snapshot_date,
        snapshots.org_no,
        snapshots.cons_no,
        -- every row of one customer and date carries the same version
        max(snapshots.customer_sk) as customer_sk,
        max(snapshots.elec_type) as elec_type,
        count(*) as receivables,
        sum(snapshots.arrears_yuan) as arrears_yuan,
        sum(snapshots.penalty_accrued_yuan) as penalty_accrued_yuan,
        max(snapshots.days_overdue) as oldest_days_overdue,
        min(snapshots.due_date) as oldest_due_date
    from snapshots
    inner join data_date on snapshots.snapshot_date = data_date.as_of_date
    group by snapshots.snapshot_date, snapshots.org_no, snapshots.cons_no
),

last_dunning as (
    select cons_no, event_type, event_time
    from (
        select
            dunning.cons_no,
            dunning.event_type,
            dunning.event_time,
            row_number() over (
                partition by dunning.cons_no order by dunning.event_time desc, dunning.event_id desc
            ) as event_rank
        from dunning
        cross join data_date
        where dunning.event_date <= data_date.as_of_date
    ) as ranked
    where event_rank = 1
),

final as (
    select
        in_arrears.*,
        customers.cons_name,
        last_dunning.event_type as last_dunning_event_type,
        last_dunning.event_time as last_dunning_time,
        row_number() over (
            partition by in_arrears.org_no order by in_arrears.arrears_yuan desc, in_arrears.cons_no
        ) as arrears_rank
    from in_arrears
    left join customers on in_arrears.customer_sk = customers.customer_sk
    left join last_dunning on in_arrears.cons_no = last_dunning.cons_no
)

select
    cast(snapshot_date as date) as snapshot_date,
    org_no,
    cast(arrears_rank as {{ dbt.type_int() }}) as arrears_rank,
    cons_no,
    cons_name,
    elec_type,
    cast(receivables as {{ dbt.type_bigint() }}) as receivables,
    cast(arrears_yuan as decimal(18, 2)) as arrears_yuan,
    cast(penalty_accrued_yuan as decimal(18, 2)) as penalty_accrued_yuan,
    cast(oldest_days_overdue as {{ dbt.type_int() }}) as oldest_days_overdue,
    cast(oldest_due_date as date) as oldest_due_date,
    last_dunning_event_type,
    cast(last_dunning_time as {{ dbt.type_timestamp() }}) as last_dunning_time
from final
