-- One row per partition in force (its latest LOADED delivery), from the loader's bookkeeping.
select
    extract,
    business_date,
    manifest_sha256,
    status,
    rows_in,
    rows_loaded,
    rows_quarantined,
    loaded_at
from {{ source('meta', 'partitions') }}
where status = 'LOADED'
