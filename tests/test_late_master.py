"""A customer billed before its master row arrives (SOURCE_EXTRACTS.md: a fact may name a customer
whose master arrives later; METRICS.md: no fact row is dropped for a missing master).

The monthly billing day bills new customers whose master rows come 3-20 days later (1 000 000
customers: 174 of them on 2025-02-03). The bill-based marts hold them from the first bill on; their
test against dim_customer was a plain `relationships` test, which failed, and the quality gate
blocked that night's publish. `known_customer` (macros/generic_tests.sql) accepts a customer that
bills name and no master knows yet, and still fails on a customer number nothing knows.

The landing is the profit marts' (tests/test_marts_profit.py), plus X 3100000999: one commercial
bill of 2025-01 (100 kWh: energy 70.00 + fund 3.00 = 73.00 yuan), issued 2025-02-03, due 2025-02-10, unpaid at the data date
2025-02-20, and no customer-master row at all.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import dbt, dbt_invoke, load
from landing_factory import write_partition
from test_marts_profit import HEADERS, commercial, write_landing

X = "3100000999"
MARTS = ("customer_value", "customer_profit_monthly", "arrears_top_customers")
# what the marts' tests compare them with too
DIMS = ("dim_org", "dim_elec_type", "dim_customer", "customer_payment_behaviour")


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("late_master")
    landing = tmp / "landing"
    write_landing(landing)
    bill, lines = commercial("BX1", X, "2025-01", 100, "2025-02-03")
    bill["due_date"] = "2025-02-10"
    write_partition(landing, "bill", "2025-02-03", [bill])
    write_partition(landing, "bill_item", "2025-02-03", lines, header=HEADERS["bill_item"])
    work_db = tmp / "w.duckdb"
    load(landing, work_db)
    dbt(tmp, work_db, "build", "--exclude-resource-type", "test", "unit_test",
        "--select", " ".join(f"+{m}" for m in MARTS + DIMS))
    return tmp, work_db


def _tests(tmp: Path, work_db: Path) -> dict[str, str]:
    """{test name: status} of the dbt tests of the three marts."""
    res = dbt_invoke(tmp, work_db, "test", "--select", *MARTS)
    assert res.exception is None, res.exception
    return {r.node.name: str(r.status) for r in res.result.results}


def test_a_customer_billed_before_its_master_is_in_the_marts_and_passes_the_tests(wh):
    tmp, work_db = wh
    con = duckdb.connect(str(work_db), read_only=True)
    try:
        # the bill is kept, under no customer-master version
        assert con.execute("select customer_sk, amount_yuan from core.fct_bill where bill_id = 'BX1'").fetchall() \
            == [(None, Decimal("73.00"))]
        assert con.execute("select count(*) from core.dim_customer where cons_no = ?", [X]).fetchone() == (0,)
        # …and in each bill-based mart: revenue 70.00 in January (the fund is not revenue), arrears
        # 73.00 ten days overdue
        assert con.execute("select revenue_yuan from marts.customer_value where cons_no = ?", [X]).fetchall() \
            == [(Decimal("70.00"),)]
        assert con.execute("select month, revenue_yuan from marts.customer_profit_monthly where cons_no = ?",
                           [X]).fetchall() == [(dt.date(2025, 1, 1), Decimal("70.00"))]
        assert con.execute("select arrears_yuan, oldest_days_overdue from marts.arrears_top_customers "
                           "where cons_no = ?", [X]).fetchall() == [(Decimal("73.00"), 10)]
    finally:
        con.close()
    status = _tests(tmp, work_db)
    known = {name: s for name, s in status.items() if name.startswith("known_customer_")}
    assert len(known) == 3, status  # one per mart
    assert set(status.values()) == {"pass"}, {n: s for n, s in status.items() if s != "pass"}


def test_a_customer_number_nothing_knows_still_fails(wh):
    tmp, work_db = wh
    con = duckdb.connect(str(work_db))
    try:
        con.execute("insert into marts.customer_value select * replace ('3199999999' as cons_no) "
                    "from marts.customer_value where cons_no = ?", [X])
    finally:
        con.close()
    status = _tests(tmp, work_db)
    known = {name: s for name, s in status.items() if name.startswith("known_customer_")}
    assert sorted(known.values()) == ["fail", "pass", "pass"], known
    assert [n for n, s in known.items() if s == "fail"][0].startswith("known_customer_customer_value_"), known
