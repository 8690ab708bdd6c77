-- One row per unusable source record: extract, partition (business_date), file, record number
-- (the first row after the header is 1; a quoted field may span lines, so this is not the line
-- number), the reason, and the raw record as CSV text with personal data masked (names, ID
-- numbers, mobiles, addresses and free text: first character, then `*`).
select
    extract,
    business_date,
    file,
    record_no,
    reason,
    raw_text,
    loaded_at
from {{ source('meta', 'quarantine') }}
