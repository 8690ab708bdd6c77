"""A whole build keeps the latest delivery of every key by ranking only the keys and dropping the
rows ranked second or later by the raw row id (macros/cleaning.sql, latest_per_key_whole): the
bill lines, the bills, the payments and the readings.

The cases written by hand here, each with the rows a whole build must hold:
- a key delivered again in a later partition: the later row wins;
- a key twice in one file, identical: one row;
- a key in two files of one partition, identical, at the same record number: the order
  (business date, record number) ties, and exactly one row must remain (an anti join by
  anything but a unique row id would drop both or keep both).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import build_warehouse
from landing_factory import csv_text, payment, write_partition

ITEM_COLS = "bill_id item_no item tou_period tier fund_name kwh price amount".split()
BILL_COLS = "bill_id cons_no billing_month bill_type ref_bill_id issue_date due_date kwh amount tariff_code".split()


def item(bill_id: str, item_no: str, kwh: str, amount: str) -> dict:
    return dict(bill_id=bill_id, item_no=item_no, item="ENERGY", tou_period="ALL", tier="1", fund_name="",
                kwh=kwh, price="0.538000", amount=amount)


def bill(bill_id: str, amount: str, cons_no: str = "3100000001", month: str = "2024-02") -> dict:
    return dict(bill_id=bill_id, cons_no=cons_no, billing_month=month, bill_type="NORMAL", ref_bill_id="",
                issue_date="2024-03-03", due_date="2024-04-02", kwh="100.00", amount=amount, tariff_code="R-V220")


def write_two_files(landing: Path, extract: str, day: str, header: list[str], first: list[dict],
                    second: list[dict]) -> None:
    """One partition delivered as two files (SOURCE_EXTRACTS.md allows several per partition)."""
    part = landing / extract / day
    part.mkdir(parents=True, exist_ok=True)
    files = []
    for name, rows in (("part-1.csv", first), ("part-2.csv", second)):
        data = csv_text(extract, rows, header).encode()
        (part / name).write_bytes(data)
        files.append({"name": name, "rows": len(rows), "sha256": hashlib.sha256(data).hexdigest(),
                      "encoding": "utf-8"})
    (part / "_manifest.json").write_text(json.dumps({
        "extract": extract, "business_date": day, "schema_version": 1, "files": files}))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("latest")
    landing = tmp / "landing"
    # bill lines: L1 redelivered later with a new amount; L2 twice in one file; L3 in both files of a
    # partition at record 1 (a tie); L4 once
    write_two_files(landing, "bill_item", "2024-03-03", ITEM_COLS,
                    [item("B1", "3", "5.00", "2.69"), item("B1", "1", "100.00", "53.80"), item("B1", "2", "10.00", "5.38"),
                     item("B1", "2", "10.00", "5.38")],
                    [item("B1", "3", "5.00", "2.69"), item("B2", "1", "20.00", "10.76")])
    write_partition(landing, "bill_item", "2024-03-20", [item("B1", "1", "90.00", "48.42")], header=ITEM_COLS)
    # bills: B1 redelivered with a new amount; B2 in both files at record 1 (a tie)
    write_two_files(landing, "bill", "2024-03-03", BILL_COLS,
                    [bill("B2", "10.76"), bill("B1", "61.87")], [bill("B2", "10.76")])
    write_partition(landing, "bill", "2024-03-20", [bill("B1", "56.49")], header=BILL_COLS)
    # payments: P1 in both files at record 1 (a tie); P2 redelivered with a new amount
    write_two_files(landing, "payment", "2024-03-05", [*payment("x").keys()],
                    [payment("P1", "10.76"), payment("P2", "20.00")], [payment("P1", "10.76")])
    write_partition(landing, "payment", "2024-03-06", [payment("P2", "25.00")])
    db = build_warehouse(tmp, landing, ["fct_bill_line", "stg_marketing__bill_items", "stg_marketing__bills",
                                        "stg_marketing__payments"],
                         command="run")
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_bill_lines_one_row_per_key_the_latest_wins(work):
    rows = work.execute("select bill_id, item_no, quantity, amount_yuan, business_date from core.fct_bill_line "
                        "order by 1, 2").fetchall()
    got = [(b, i, float(q), float(a), str(d)) for b, i, q, a, d in rows]
    assert got == [
        ("B1", 1, 90.0, 48.42, "2024-03-20"),
        ("B1", 2, 10.0, 5.38, "2024-03-03"),
        ("B1", 3, 5.0, 2.69, "2024-03-03"),
        ("B2", 1, 20.0, 10.76, "2024-03-03"),
    ]


def test_the_bill_items_view_holds_the_same_lines(work):
    got = work.execute("select bill_id, item_no, quantity, amount_yuan, _business_date "
                       "from staging.stg_marketing__bill_items order by 1, 2").fetchall()
    want = work.execute("select bill_id, item_no, quantity, amount_yuan, business_date "
                        "from core.fct_bill_line order by 1, 2").fetchall()
    assert len(got) == 4 and got == want


def test_bills_one_row_per_key_the_latest_wins(work):
    got = [(b, float(a)) for b, a in work.execute(
        "select bill_id, amount_yuan from staging.stg_marketing__bills order by 1").fetchall()]
    assert got == [("B1", 56.49), ("B2", 10.76)]


def test_payments_one_row_per_key_the_latest_wins(work):
    got = [(p, float(a)) for p, a in work.execute(
        "select pay_id, amount_yuan from staging.stg_marketing__payments order by 1").fetchall()]
    assert got == [("P1", 10.76), ("P2", 25.0)]


def test_the_tie_is_in_raw(work):
    """The fixture does hold the tie it is about: two raw rows with the same key, business date and
    record number (else the tests above would not test it)."""
    ties = work.execute(
        "select count(*) from (select bill_id, item_no, _business_date, _record_no from raw.bill_item "
        "group by all having count(*) > 1)").fetchone()[0]
    assert ties == 1
