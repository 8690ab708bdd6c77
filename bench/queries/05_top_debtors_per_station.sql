-- 欠费排名: the ten largest debtors of every supply station at the data date.
select
    o.county_name,
    o.station_name,
    t.arrears_rank,
    t.cons_no,
    t.cons_name,
    t.elec_type,
    t.arrears_yuan,
    t.penalty_accrued_yuan,
    t.oldest_days_overdue,
    t.last_dunning_event_type,
    t.last_dunning_time
from marts.arrears_top_customers t
join core.dim_org o on o.org_no = t.org_no
where t.arrears_rank <= 10
order by o.county_org_no, t.org_no, t.arrears_rank
