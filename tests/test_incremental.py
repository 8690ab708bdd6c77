"""The incremental models give exactly the rows a full refresh gives.

A landing folder is loaded over several nights: the first without some partitions; the second
with them (late dates among them, and a customer-master delta): the keyed batches of the
incremental path, a reversal of an old payment among them; the third with a redelivered payment
partition (one value changed, one row dropped), a corrected old bill and station cost: the
redelivery rebuilds the payment-dependent models whole; the fourth with nothing new; the fifth
with a new data date that brings only a late disconnection and a late theft case; the sixth
moves the data date off a month end. After the second and the last night the incremental tables
are compared, row for row, with a full refresh of the same data.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import dbt

from powercrm.ingest.loader import load_landing

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE = REPO.parent / "shared" / "conformance" / "landing"
FACTS = {
    "core.fct_bill_line": "bill_id, item_no",
    "core.fct_payment": "pay_id",
    "core.fct_consumption": "cons_no, billing_month",
    "core.fct_bill": "bill_id",
    "core.fct_arrears_snapshot": "snapshot_date, bill_id",
    "staging.stg_marketing__bills": "bill_id",
    "staging.stg_marketing__payments": "pay_id",
    "staging.stg_marketing__readings": "reading_id",
    "intermediate.int_payments": "pay_id",
    "intermediate.int_receivables": "bill_id",
    "intermediate.int_receivable_balances": "bill_id, valid_from",
    "intermediate.int_sales_customer_months": "cons_no, month",
    "intermediate.int_customer_months": "cons_no, month",
    "marts.customer_profit_monthly": "cons_no, month",
    "marts.sales_volume_monthly": "month, org_no, elec_type, voltage, industry_section",
    "marts.unit_price_monthly": "month, org_no, elec_type, voltage",
    "intermediate.int_credit_scores": "evaluation_date, cons_no",
    "intermediate.int_profit_value_classes": "evaluation_date, cons_no",
    "intermediate.int_credit_segments": "evaluation_date, cons_no",
}
HELD_BACK = ["payment/2025-04-27", "payment/2025-04-10", "bill/2025-04-03", "bill_item/2025-04-03",
             "reading/2025-03-31", "cust/2025-01-15"]

pytestmark = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared/conformance is not beside the checkout")


def _dbt(work_db: Path, tmp: Path, *extra: str) -> None:
    dbt(tmp, work_db, "run", "--select", " ".join(f"+{f.split('.')[1]}" for f in FACTS), *extra)


def _rewrite(part: Path, name: str, text: str) -> None:
    data = text.encode("utf-8")
    (part / name).write_bytes(data)
    manifest = json.loads((part / "_manifest.json").read_text())
    rows = len(text.strip().splitlines()) - 1
    manifest["files"] = [{"name": name, "rows": rows, "sha256": hashlib.sha256(data).hexdigest(), "encoding": "utf-8"}]
    (part / "_manifest.json").write_text(json.dumps(manifest))


def _new_partition(landing: Path, extract: str, business_date: str, text: str) -> None:
    """A partition of `extract` that was not delivered before, with one file holding `text`."""
    part = landing / extract / business_date
    part.mkdir()
    (part / "_manifest.json").write_text(json.dumps({"extract": extract, "business_date": business_date,
                                                     "schema_version": 1, "files": []}))
    _rewrite(part, f"{extract}.csv", text)


def _snapshot(work_db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        snapshot = {}
        for table, key in FACTS.items():
            # build bookkeeping differs by design: rows not re-derived keep their stamps
            columns = [d[0] for d in con.execute(f"select * from {table} limit 0").description]
            bookkeeping = [c for c in columns if c in ("_loaded_at", "_as_of_date")]
            snapshot[table] = con.execute(
                f"select * {'exclude (' + ', '.join(bookkeeping) + ')' if bookkeeping else ''} from {table} order by {key}").fetchall()
        return snapshot
    finally:
        con.close()


def _load(work_db: Path, landing: Path, run_id: str):
    con = duckdb.connect(str(work_db))
    try:
        return load_landing(con, landing, run_id)
    finally:
        con.close()


def _assert_equals_full_refresh(work_db: Path, tmp: Path, incremental: dict[str, list[tuple]]) -> None:
    """A full refresh of a copy of `work_db` gives the same rows as the incremental build."""
    tmp.mkdir()
    copy = tmp / "full.duckdb"
    shutil.copy(work_db, copy)
    _dbt(copy, tmp, "--full-refresh")
    full = _snapshot(copy)
    for table in FACTS:
        assert incremental[table] == full[table], f"{table}: incremental build differs from a full refresh"


def test_incremental_equals_full_refresh(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(CONFORMANCE, landing)
    held = tmp_path / "held"
    for p in HELD_BACK:
        shutil.move(str(landing / p), str(held / p))
    work_db = tmp_path / "w.duckdb"
    compiled = tmp_path / "target" / "compiled" / "powercrm" / "models"
    # a payment dated after the first night's data date (2025-04-30): it counts only once a later
    # partition moves the data date past it (night 2), though its own partition does not change
    header = "pay_id,cons_no,bill_id,pay_time,channel,amount,penalty_amount,reversal_of"
    _new_partition(landing, "payment", "2025-04-28", header + "\nPF00000001,3100000002,B20250200000002,2025-05-02 10:00:00,APP,10.00,0.00,\n")

    con = duckdb.connect(str(work_db))
    load_landing(con, landing, "night1")
    con.close()
    _dbt(work_db, tmp_path)
    first = _snapshot(work_db)

    # night 2: the held-back partitions arrive (late dates among them, a customer-master delta);
    # nothing is redelivered: every incremental model takes its keyed batch
    for p in HELD_BACK:
        shutil.move(str(held / p), str(landing / p))
    # a later partition moves the data date past the future-dated payment and corrects an old
    # payment to another bill (its first bill loses it)
    _new_partition(landing, "payment", "2025-05-03", header + "\nP000000017,3100000002,B20250200000002,2024-02-10 15:35:49,WECHAT,368.76,,\n")
    # and a new partition reverses a payment delivered long ago
    old = landing / "payment" / "2024-02-10" / "payment.csv"
    victim = old.read_text(encoding="utf-8").splitlines()[1].split(",")
    reversal = ["RV0000001", victim[1], victim[2], "2025-04-29 09:00:00", victim[4], "-" + victim[5], "", victim[0]]
    _new_partition(landing, "payment", "2025-04-29", header + "\n" + ",".join(reversal) + "\n")
    summary = _load(work_db, landing, "night2")
    assert len(summary.by_status("LOADED")) == len(HELD_BACK) + 2
    # the held-back bill partition bills 153 of 154 customers: a bulk delivery, which rebuilds
    # int_credit_scores, int_credit_segments and fct_arrears_snapshot whole (macros/incremental.sql,
    # is_bulk_delivery). The night is built twice: on a copy as it comes, and here with a share no
    # delivery reaches, on the keyed batch path
    bulk_db = tmp_path / "night2_bulk.duckdb"
    for suffix in ("", ".wal"):
        if Path(str(work_db) + suffix).exists():
            shutil.copy(str(work_db) + suffix, str(bulk_db) + suffix)
    _dbt(bulk_db, tmp_path / "night2_bulk")
    for model in ("intermediate/int_credit_scores", "intermediate/int_credit_segments", "marts/core/fct_arrears_snapshot"):
        bulk_sql = (tmp_path / "night2_bulk" / "target" / "compiled" / "powercrm" / "models" /
                    f"{model}.sql").read_text(encoding="utf-8")
        assert "__batch" not in bulk_sql and "__dates" not in bulk_sql, f"{model}: not rebuilt whole"
    _dbt(work_db, tmp_path, "--vars", "{bulk_delivery_share: 2}")
    night2 = _snapshot(work_db)
    assert night2 != first
    assert _snapshot(bulk_db) == night2  # the whole rebuild and the batch give the same rows
    for model in ("intermediate/int_receivables.sql", "intermediate/int_receivable_balances.sql",
                  "marts/core/fct_bill.sql", "intermediate/int_sales_customer_months.sql",
                  "marts/profit/customer_profit_monthly.sql", "intermediate/int_credit_scores.sql",
                  "intermediate/int_credit_segments.sql", "intermediate/int_customer_months.sql",
                  "marts/sales/sales_volume_monthly.sql", "marts/price/unit_price_monthly.sql",
                  "marts/core/fct_arrears_snapshot.sql"):
        assert "__batch" in (compiled / model).read_text(encoding="utf-8"), f"{model}: not a keyed batch"
    for model in ("stg_marketing__bills.sql", "stg_marketing__payments.sql", "stg_marketing__readings.sql"):
        sql = (compiled / "staging" / "marketing" / model).read_text(encoding="utf-8")
        assert "union all" in sql, f"{model}: not a batch of the changed partitions"
    # the changed business dates reach the raw scan as a literal list (docs/benchmarks.md, fix 2)
    bill_line_sql = (compiled / "marts/core/fct_bill_line.sql").read_text(encoding="utf-8")
    assert "_business_date in (cast('2025-04-03' as date))" in bill_line_sql
    # the billing day's new bills bring their lines tonight: no earlier bill_item partition is read
    assert "union all" not in bill_line_sql
    payment_sql = (compiled / "marts/core/fct_payment.sql").read_text(encoding="utf-8")
    assert "_business_date in (cast('2025-04-10' as date), cast('2025-04-27' as date), " \
        "cast('2025-04-29' as date), cast('2025-05-03' as date))" in payment_sql
    # the version the correction replaced is kept for the receivables' batch: its first bill
    # (B20240100000002) is re-derived without cleaning every delivered payment again
    con = duckdb.connect(str(work_db), read_only=True)
    superseded = con.execute("select bill_id from staging.stg_marketing__payments__superseded "
                             "where pay_id = 'P000000017'").fetchall()
    con.close()
    assert superseded == [("B20240100000002",)]
    _assert_equals_full_refresh(work_db, tmp_path / "night2_full", night2)

    # night 3: an old payment partition is redelivered (one value changed, one row dropped)
    part = landing / "payment" / "2024-05-10"
    lines = (part / "payment.csv").read_text(encoding="utf-8").splitlines()
    rows = lines[1:]
    dropped = rows[1].split(",")[0]
    changed = rows[0].split(",")
    changed[5] = "1.23"
    new_rows = [",".join(changed)] + rows[2:]
    _rewrite(part, "payment.csv", "\n".join([header, *new_rows]) + "\n")

    # and an old bill (2024-02) is corrected in a new partition: its month and, a year later,
    # the year-on-year rate of 2025-02 change (no other change reaches these months tonight);
    # another one's header alone moves it from 2024-05 to 2024-06: its lines, delivered on
    # 2024-06-03 and not again, take the new month (fct_bill_line reads that partition again, and
    # only the partitions holding lines of tonight's headers), and 2024-05, which only the version
    # it replaces names (stg_marketing__bills__superseded), is re-derived without the bill
    _new_partition(landing, "bill", "2025-05-03", "bill_id,cons_no,billing_month,bill_type,ref_bill_id,issue_date,due_date,kwh,"
             "amount,tariff_code\nB20240200000003,3100000003,2024-02,NORMAL,,2024-03-03,2024-03-23,2927.59,1992.86,"
             "A-V380\nB20240500000004,3100000004,2024-06,NORMAL,,2024-06-03,2024-06-23,1996.55,1013.05,A-V380\n")
    _new_partition(landing, "bill_item", "2025-05-03", "bill_id,item_no,item,tou_period,tier,fund_name,kwh,price,amount\n"
             "B20240200000003,1,ENERGY,ALL,1,,2927.59,0.672400,1968.51\n"
             "B20240200000003,2,FUND,,,大中型水库移民后期扶持基金,2927.59,0.008317,24.35\n")
    # and a station's costs of 2024-06 are corrected: the month's cost shares change
    _new_partition(landing, "cost", "2025-05-03", "org_no,billing_month,marketing_cost,operating_cost\n334010102,2024-06,6000.00,41000.00\n")
    summary = _load(work_db, landing, "night3")
    assert len(summary.by_status("LOADED")) == 4
    _dbt(work_db, tmp_path)
    incremental = _snapshot(work_db)
    assert incremental != night2
    # the redelivery rebuilds the payment-dependent models whole: no batch table
    assert "__batch" not in (compiled / "intermediate/int_receivables.sql").read_text(encoding="utf-8")
    payment_sql = (compiled / "marts/core/fct_payment.sql").read_text(encoding="utf-8")
    assert "_business_date in (cast('2024-05-10' as date))" in payment_sql
    bill_line_sql = (compiled / "marts/core/fct_bill_line.sql").read_text(encoding="utf-8")
    assert "union all" in bill_line_sql
    assert "_business_date in (cast('2024-03-03' as date), cast('2024-06-03' as date))" in bill_line_sql

    con = duckdb.connect(str(work_db), read_only=True)
    pay_ids = {r[0] for r in con.execute("select pay_id from core.fct_payment").fetchall()}
    stg_pay_ids = {r[0] for r in con.execute("select pay_id from staging.stg_marketing__payments").fetchall()}
    reversed_flag = con.execute("select is_reversed from core.fct_payment where pay_id = ?", [victim[0]]).fetchone()[0]
    amount = con.execute("select amount_yuan from core.fct_payment where pay_id = ?", [changed[0]]).fetchone()[0]
    batches = con.execute("select count(*) from information_schema.tables "
                          "where table_name like '%\\_\\_batch' escape '\\' or table_name like '%\\_\\_dates' escape '\\'").fetchone()[0]
    con.close()
    assert dropped not in pay_ids and dropped not in stg_pay_ids  # a redelivery replaces the partition whole
    assert reversed_flag is True  # an old payment reversed by a new partition flips
    assert str(amount) == "1.23"
    assert batches == 0  # the post-hooks drop the batch tables

    # night 4: nothing new; the batch filters render `false` and the tables stay as they are
    summary = _load(work_db, landing, "night4")
    assert summary.by_status("LOADED") == []
    _dbt(work_db, tmp_path)
    night4_sql = (compiled / "marts/core/fct_bill_line.sql").read_text(encoding="utf-8")
    assert "where false" in night4_sql and "union all" not in night4_sql
    assert _snapshot(work_db) == incremental

    # night 4b: only a late station-cost partition (a first delivery dated before the data date):
    # station 334010101's costs of 2025-03 become huge, so its customers' profit drops to ≤ 0 in
    # the value windows holding 2025-03 (evaluation dates 2025-04-30 and 2025-05-03) and their
    # value class to C. The value classes re-rank those dates; no credit-score input changed, so
    # int_credit_segments must take the re-ranked dates from the value classes
    _new_partition(landing, "cost", "2025-04-15", "org_no,billing_month,marketing_cost,operating_cost\n"
                   "334010101,2025-03,9000000.00,9000000.00\n")
    summary = _load(work_db, landing, "night4b")
    assert len(summary.by_status("LOADED")) == 1
    _dbt(work_db, tmp_path)
    night4b = _snapshot(work_db)
    moved = {(d, c) for d, c, *_ in night4b["intermediate.int_credit_segments"]} - {
        (d, c) for d, c, *_ in incremental["intermediate.int_credit_segments"]}
    assert not moved  # the same customers and dates; only their classes change
    assert night4b["intermediate.int_credit_segments"] != incremental["intermediate.int_credit_segments"]
    _assert_equals_full_refresh(work_db, tmp_path / "night4b_full", night4b)

    # night 5: a later business day, 2025-05-31, brings only a disconnection and a theft case,
    # both dated in April (delivered late): the data date moves on, so every customer is scored
    # at it and the previous data date (2025-05-03, no month end) goes; the two customers are
    # re-scored at every date, so their 2025-04-30 scores count the events too
    con = duckdb.connect(str(work_db), read_only=True)
    scored_before = con.execute("select count(*) from intermediate.int_credit_scores "
                                "where evaluation_date = date '2025-05-03'").fetchone()[0]
    con.close()
    assert scored_before > 0
    _new_partition(landing, "dunning", "2025-05-31", "event_id,cons_no,bill_id,event_type,event_time,operator\n"
                   "E900000001,3100000008,B20250300000008,DISCONNECT,2025-04-29 09:30:00,催费员甲\n")
    _new_partition(landing, "violation", "2025-05-31", "case_id,cons_no,case_type,found_date,recovered_kwh,"
                   "recovered_amount,penalty_amount\nV900001,3100000021,THEFT,2025-04-20,120,80.00,240.00\n")
    summary = _load(work_db, landing, "night5")
    assert len(summary.by_status("LOADED")) == 2
    _dbt(work_db, tmp_path)
    for model in ("intermediate/int_credit_scores.sql", "intermediate/int_profit_value_classes.sql"):
        assert "__dates" in (compiled / model).read_text(encoding="utf-8"), f"{model}: not an evaluation-date batch"
    night5 = _snapshot(work_db)
    dates = sorted({row[0].isoformat() for row in night5["intermediate.int_credit_scores"]})
    assert "2025-05-03" not in dates and dates[-2:] == ["2025-04-30", "2025-05-31"]
    con = duckdb.connect(str(work_db), read_only=True)
    disconnect, theft = con.execute(
        "select max(case when cons_no = '3100000008' then disconnects_12m end), "
        "max(case when cons_no = '3100000021' then thefts_24m end) "
        "from intermediate.int_credit_scores where evaluation_date = date '2025-04-30'").fetchone()
    con.close()
    assert disconnect >= 1 and theft >= 1

    # night 6: 2025-06-01 brings one reminder only; 2025-05-31 stays (a month end) but is no
    # longer the data date: the value classes re-rank it although no profit month changed
    _new_partition(landing, "dunning", "2025-06-01", "event_id,cons_no,bill_id,event_type,event_time,operator\n"
                   "E900000002,3100000008,B20250300000008,SMS,2025-06-01 09:30:00,催费员甲\n")
    con = duckdb.connect(str(work_db))
    assert len(load_landing(con, landing, "night6").by_status("LOADED")) == 1
    con.close()
    _dbt(work_db, tmp_path)
    night6 = _snapshot(work_db)
    assert night6 != night5
    con = duckdb.connect(str(work_db), read_only=True)
    flagged = con.execute("select distinct evaluation_date from intermediate.int_profit_value_classes "
                          "where is_data_date").fetchall()
    con.close()
    assert [d.isoformat() for (d,) in flagged] == ["2025-06-01"]
    _assert_equals_full_refresh(work_db, tmp_path / "final_full", night6)
