-- 线损: which transformer areas were HIGH or NEGATIVE loss in at least three of the last six
-- months (candidates for an inspection or a gateway-meter check), with the county's rate beside.
with areas as (
    select * from {{ ref('line_loss_monthly') }}
    where month > (select {{ dbt.dateadd('month', -6, 'max(month)') }} from {{ ref('line_loss_monthly') }})
),

flagged as (
    select
        tg_id,
        org_no,
        sum(case when status = 'HIGH' then 1 else 0 end) as months_high,
        sum(case when status = 'NEGATIVE' then 1 else 0 end) as months_negative,
        sum(loss_kwh) as loss_kwh,
        sum(supply_kwh) as supply_kwh
    from areas
    where status <> 'NO_SUPPLY'
    group by tg_id, org_no
)

select
    flagged.tg_id,
    flagged.org_no,
    orgs.county_org_no,
    flagged.months_high,
    flagged.months_negative,
    flagged.loss_kwh / nullif(flagged.supply_kwh, 0) as loss_rate_6m
from flagged
left join {{ ref('dim_org') }} as orgs on flagged.org_no = orgs.org_no
where flagged.months_high >= 3 or flagged.months_negative >= 3
order by loss_rate_6m desc
