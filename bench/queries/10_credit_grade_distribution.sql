-- 信用评级 distribution at the data date by category: customers, average score and components, arrears.
select
    c.elec_type,
    c.credit_grade,
    count(*) as customers,
    count(*) / sum(count(*)) over (partition by c.elec_type) as customer_share,
    avg(c.credit_score) as avg_credit_score,
    avg(c.punctuality_points) as avg_punctuality_points,
    avg(c.arrears_points) as avg_arrears_points,
    sum(c.arrears_yuan) as arrears_yuan,
    sum(c.disconnects_12m) as disconnects_12m
from marts.customer_credit c
group by c.elec_type, c.credit_grade
order by c.elec_type, c.credit_grade
