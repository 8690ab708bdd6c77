"""The incremental big facts give exactly the rows a full refresh gives.

A landing folder is loaded in two nights: the first without some partitions, the second with
them, plus a redelivered payment partition (one value changed, one row dropped), a reversal of
an old payment, and a customer-master delta. After the incremental build the three facts are
compared, row for row, with a full refresh of the same data.
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
    "fct_bill_line": "bill_id, item_no",
    "fct_payment": "pay_id",
    "fct_consumption": "cons_no, billing_month",
}
HELD_BACK = ["payment/2025-04-27", "payment/2025-04-10", "bill/2025-04-03", "bill_item/2025-04-03",
             "reading/2025-03-31", "cust/2025-01-15"]

pytestmark = pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="../shared/conformance is not beside the checkout")


def _dbt(work_db: Path, tmp: Path, *extra: str) -> None:
    dbt(tmp, work_db, "run", "--select", " ".join(f"+{f}" for f in FACTS), *extra)


def _rewrite(part: Path, name: str, text: str) -> None:
    data = text.encode("utf-8")
    (part / name).write_bytes(data)
    manifest = json.loads((part / "_manifest.json").read_text())
    rows = len(text.strip().splitlines()) - 1
    manifest["files"] = [{"name": name, "rows": rows, "sha256": hashlib.sha256(data).hexdigest(), "encoding": "utf-8"}]
    (part / "_manifest.json").write_text(json.dumps(manifest))


def _snapshot(work_db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        return {t: con.execute(f"select * exclude (_loaded_at) from core.{t} order by {k}").fetchall()
                for t, k in FACTS.items()}
    finally:
        con.close()


def test_incremental_equals_full_refresh(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(CONFORMANCE, landing)
    held = tmp_path / "held"
    for p in HELD_BACK:
        shutil.move(str(landing / p), str(held / p))
    work_db = tmp_path / "w.duckdb"

    con = duckdb.connect(str(work_db))
    load_landing(con, landing, "night1")
    con.close()
    _dbt(work_db, tmp_path)
    first = _snapshot(work_db)

    # night 2: the held-back partitions arrive, an old payment partition is redelivered
    for p in HELD_BACK:
        shutil.move(str(held / p), str(landing / p))
    part = landing / "payment" / "2024-05-10"
    lines = (part / "payment.csv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    dropped = rows[1].split(",")[0]
    changed = rows[0].split(",")
    changed[5] = "1.23"
    new_rows = [",".join(changed)] + rows[2:]
    # a reversal, in the new partition, of a payment delivered long ago
    old = landing / "payment" / "2024-02-10" / "payment.csv"
    victim = old.read_text(encoding="utf-8").splitlines()[1].split(",")
    _rewrite(part, "payment.csv", "\n".join([header, *new_rows]) + "\n")
    rev_part = landing / "payment" / "2025-04-29"
    rev_part.mkdir()
    (rev_part / "_manifest.json").write_text(json.dumps({"extract": "payment", "business_date": "2025-04-29",
                                                         "schema_version": 1, "files": []}))
    reversal = ["RV0000001", victim[1], victim[2], "2025-04-29 09:00:00", victim[4], "-" + victim[5], "", victim[0]]
    _rewrite(rev_part, "payment.csv", header + "\n" + ",".join(reversal) + "\n")

    con = duckdb.connect(str(work_db))
    summary = load_landing(con, landing, "night2")
    con.close()
    assert len(summary.by_status("LOADED")) == len(HELD_BACK) + 2
    _dbt(work_db, tmp_path)
    incremental = _snapshot(work_db)
    assert incremental != first

    con = duckdb.connect(str(work_db), read_only=True)
    pay_ids = {r[0] for r in con.execute("select pay_id from core.fct_payment").fetchall()}
    reversed_flag = con.execute("select is_reversed from core.fct_payment where pay_id = ?", [victim[0]]).fetchone()[0]
    amount = con.execute("select amount_yuan from core.fct_payment where pay_id = ?", [changed[0]]).fetchone()[0]
    con.close()
    assert dropped not in pay_ids  # a redelivery replaces the partition whole
    assert reversed_flag is True  # an old payment reversed by a new partition flips
    assert str(amount) == "1.23"

    # the changed business dates reach the raw scan as a literal list (docs/benchmarks.md, fix 2)
    compiled = tmp_path / "target" / "compiled" / "powercrm" / "models" / "marts" / "core"
    night2_sql = (compiled / "fct_bill_line.sql").read_text(encoding="utf-8")
    assert "_business_date in (cast('2025-04-03' as date))" in night2_sql
    assert "union all" in night2_sql  # a bill partition changed: lines of re-delivered headers too
    payment_sql = (compiled / "fct_payment.sql").read_text(encoding="utf-8")
    assert "_business_date in (cast('2024-05-10' as date), cast('2025-04-10' as date), " \
        "cast('2025-04-27' as date), cast('2025-04-29' as date))" in payment_sql

    # night 3: nothing new; the batch filters render `false` and the facts stay as they are
    con = duckdb.connect(str(work_db))
    summary = load_landing(con, landing, "night3")
    con.close()
    assert summary.by_status("LOADED") == []
    _dbt(work_db, tmp_path)
    night3_sql = (compiled / "fct_bill_line.sql").read_text(encoding="utf-8")
    assert "where false" in night3_sql and "union all" not in night3_sql
    assert _snapshot(work_db) == incremental

    _dbt(work_db, tmp_path, "--full-refresh")
    full = _snapshot(work_db)
    for table in FACTS:
        assert incremental[table] == full[table], f"{table}: incremental build differs from a full refresh"
