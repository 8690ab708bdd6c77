-- One row: the data date (as_of_date) = the latest business_date of any partition actually
-- loaded. Rejected partitions and partitions without a manifest never reach meta.partitions
-- as LOADED, so they do not move it.
select max(business_date) as as_of_date
from {{ ref('stg_meta__partitions') }}
