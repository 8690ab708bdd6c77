-- 信用评级: how many customers per grade and station, and which component costs them most points?
select
    org_no,
    credit_grade,
    count(*) as customers,
    avg(credit_score) as avg_credit_score,
    avg(40 - punctuality_points) as avg_punctuality_lost,
    avg(20 - arrears_points) as avg_arrears_lost,
    avg(20 - compliance_points) as avg_compliance_lost,
    avg(10 - dunning_points) as avg_dunning_lost,
    avg(10 - tenure_points) as avg_tenure_lost
from {{ ref('customer_credit') }}
group by org_no, credit_grade
order by org_no, credit_grade
