-- One row per partition load attempt: LOADED, REJECTED (with the reason naming the file and
-- what disagreed) or UNCHANGED (manifest identical to the delivery in force, nothing re-read).
-- For a LOADED partition rows_in = rows_loaded + rows_quarantined; exact duplicate rows are
-- loaded here and removed in staging.
select
    run_id,
    extract,
    business_date,
    manifest_sha256,
    files,
    rows_in,
    rows_loaded,
    rows_quarantined,
    status,
    message,
    loaded_at,
    seconds
from {{ source('meta', 'load_log') }}
