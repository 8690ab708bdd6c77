"""Hand-made landing folders for tests: one partition at a time, with a correct manifest.

`write_partition(landing, "payment", "2024-03-05", rows)` writes
`<landing>/payment/2024-03-05/payment.csv` and `_manifest.json` (sha256 of the bytes as stored,
`rows` = records counted by Python's csv module, not lines). Options make the delivery wrong
in the ways SOURCE_EXTRACTS.md describes: `bad_sha`, `rows_delta`, `manifest=False`,
`encoding="gb18030"` (+ `crlf`), `fmt="csv.gz"` / `"parquet"`, or `raw_text=` for a file
written byte for byte (quoted newlines, odd quoting).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

# the extracts' columns, as SOURCE_EXTRACTS.md lists them (written out here on purpose: the
# fixtures describe the interface, they do not read the code under test)
COLUMNS = {
    "org": "org_no org_name parent_org_no org_level tg_id tg_name tg_capacity_kva",
    "cust": "cons_no cons_name cert_no mobile address elec_type voltage contract_kva industry_code org_no tg_id "
            "tariff_code is_key_account status open_date close_date updated_at",
    "payment": "pay_id cons_no bill_id pay_time channel amount penalty_amount reversal_of",
    "bill": "bill_id cons_no billing_month bill_type ref_bill_id issue_date due_date kwh amount tariff_code",
    "workorder": "order_id cons_no accept_time channel order_type category_l1 category_l2 org_no content "
                 "deadline_time finish_time is_repeat is_escalated satisfaction",
    "survey": "survey_id cons_no survey_date channel score_supply score_billing score_service score_channel "
              "score_overall comment",
    "supply": "tg_id billing_month supply_kwh is_estimated",
    "reading": "reading_id cons_no meter_id billing_month read_date tou_period start_reading end_reading multiplier "
               "meter_digits kwh max_demand_kw kvarh is_estimated",
}


def columns(extract: str) -> list[str]:
    return COLUMNS[extract].split()


def payment(pay_id: str, amount: str = "10.00", cons_no: str = "3100000001", channel: str = "WECHAT",
            pay_time: str = "2024-03-05 10:00:00", bill_id: str = "", penalty_amount: str = "",
            reversal_of: str = "") -> dict:
    return dict(pay_id=pay_id, cons_no=cons_no, bill_id=bill_id, pay_time=pay_time, channel=channel,
                amount=amount, penalty_amount=penalty_amount, reversal_of=reversal_of)


def customer(cons_no: str, name: str = "张三丰", updated_at: str = "2024-03-01 08:00:00", **over: str) -> dict:
    row = dict(cons_no=cons_no, cons_name=name, cert_no="330102199001011234", mobile="13800000000",
               address="城东县滨江路1号", elec_type="100", voltage="V220", contract_kva="8.00", industry_code="",
               org_no="334010103", tg_id="334010103001", tariff_code="R-V220", is_key_account="N",
               status="ACTIVE", open_date="2010-05-01", close_date="", updated_at=updated_at)
    row.update(over)
    return row


def csv_text(extract: str, rows: Iterable[Mapping[str, str] | Sequence[str]], header: Sequence[str] | None = None,
             crlf: bool = False) -> str:
    header = list(header or columns(extract))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(c, "") or "" for c in header] if isinstance(r, Mapping) else list(r))
    return buf.getvalue()


def count_records(text: str) -> int:
    return max(sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1, 0)


def write_partition(landing: Path, extract: str, business_date: str,
                    rows: Iterable[Mapping[str, str] | Sequence[str]] = (), *, raw_text: str | None = None,
                    fmt: str = "csv", encoding: str = "utf-8", crlf: bool = False, header: Sequence[str] | None = None,
                    bad_sha: bool = False, rows_delta: int = 0, manifest: bool = True) -> Path:
    """Write one partition folder; returns the data file's path."""
    part = Path(landing) / extract / business_date
    part.mkdir(parents=True, exist_ok=True)
    for old in part.iterdir():
        old.unlink()
    rows = list(rows)
    name = f"{extract}.{fmt}"
    path = part / name
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = list(header or columns(extract))
        data = {c: [(r.get(c) or None) for r in rows] for c in cols}
        pq.write_table(pa.table({c: pa.array(v, type=pa.string()) for c, v in data.items()}), path)
        n = len(rows)
    else:
        text = raw_text if raw_text is not None else csv_text(extract, rows, header, crlf)
        n = count_records(text)
        data_bytes = text.encode(encoding)
        if fmt == "csv.gz":
            data_bytes = gzip.compress(data_bytes, mtime=0)
        elif fmt != "csv":
            raise ValueError(fmt)
        path.write_bytes(data_bytes)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if bad_sha:
        digest = hashlib.sha256(b"something else").hexdigest()
    if manifest:
        (part / "_manifest.json").write_text(json.dumps({
            "extract": extract, "business_date": business_date, "schema_version": 1,
            "files": [{"name": name, "rows": n + rows_delta, "sha256": digest, "encoding": encoding}],
        }, ensure_ascii=False), encoding="utf-8")
    return path
