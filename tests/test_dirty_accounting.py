"""Every dirty case the simulator plants (`_simulation.json`) is accounted for by the loader:
quarantined with the right record number and reason kind, rejected, left for later, or
loaded (full-width / padded codes, GB18030, gzip, exact duplicates, redeliveries)."""

from __future__ import annotations

import json
from collections import Counter

import duckdb
import pytest

from powercrm.ingest.loader import load_landing
from powercrm.simulate import simulate

REASON_KINDS = ("unparseable number", "unparseable date", "unknown code", "missing key", "conflicting duplicate")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dirty")
    landing = tmp / "landing"
    simulate(landing, customers=400, months=13, start="2023-01", seed=3, dirty=0.01)
    planted = json.loads((landing / "_simulation.json").read_text(encoding="utf-8"))
    con = duckdb.connect(str(tmp / "w.duckdb"))
    summary = load_landing(con, landing, "dirty")
    yield planted, summary, con
    con.close()


def _kind(reason: str) -> str:
    return next(k for k in REASON_KINDS if reason.startswith(k))


def test_every_planted_unusable_row_is_quarantined_with_its_record_number(loaded):
    planted, _, con = loaded
    want = Counter()
    for part in planted["dirty"]["quarantine"]["partitions"]:
        for kind, records in part["records"].items():
            for rec in records:
                want[(part["file"], rec, kind)] += 1
    got = Counter((f, r, _kind(reason)) for f, r, reason in
                  con.execute("select file, record_no, reason from meta.quarantine").fetchall())
    assert sum(want.values()) == planted["dirty"]["quarantine"]["total"] > 0
    assert got == want


def test_rejected_and_unfinished_partitions(loaded):
    planted, summary, _ = loaded
    assert sorted(r.partition.label for r in summary.rejected) == sorted(
        f"{p['extract']}/{p['business_date']}" for p in planted["dirty"]["rejected"])
    assert sorted(summary.without_manifest) == sorted(
        f"{p['extract']}/{p['business_date']}" for p in planted["dirty"]["without_manifest"])


def test_every_loaded_partition_accounts_for_its_rows(loaded):
    planted, summary, con = loaded
    bad = con.execute("select count(*) from meta.partitions where rows_in <> rows_loaded + rows_quarantined").fetchone()
    assert bad == (0,)
    raw_total = sum(con.execute(f"select count(*) from raw.{e}").fetchone()[0] for e in planted["rows"])
    quarantined = con.execute("select count(*) from meta.quarantine").fetchone()[0]
    rejected_rows = sum(p["rows"] for p in planted["dirty"]["rejected"])
    # rows the simulator says it delivered (finished partitions, final deliveries) = loaded +
    # quarantined + in rejected partitions; nothing of an unfinished partition is loaded
    assert raw_total + quarantined + rejected_rows == planted["rows_total"]
    for p in planted["dirty"]["without_manifest"]:
        assert con.execute(f"select count(*) from raw.{p['extract']} where _file = ?", [p["file"]]).fetchone() == (0,)


def test_special_deliveries_load(loaded):
    planted, _, con = loaded
    status = dict(((e, str(d)), s) for e, d, s in con.execute(
        "select extract, business_date, status from meta.partitions").fetchall())
    for p in planted["dirty"]["gb18030"] + planted["dirty"]["gzip"]:
        assert status[(p["extract"], p["business_date"])] == "LOADED", p
    for p in planted["dirty"]["redelivered"]:
        rows = con.execute("select rows_in from meta.partitions where extract = ? and business_date = ?",
                           [p["extract"], p["business_date"]]).fetchone()[0]
        assert rows == p["final_rows"]  # the correction replaced the first delivery


def test_exact_duplicates_are_loaded(loaded):
    planted, _, con = loaded
    for p in planted["dirty"]["exact_duplicates"]["partitions"][:10]:
        for rec in p["records"]:
            row = con.execute(f"select * exclude (_record_no, _loaded_at) from raw.{p['extract']} "
                              f"where _file = ? and _record_no = ?", [p["file"], rec]).fetchone()
            assert row is not None, (p["file"], rec)
            rows = con.execute(f"select * exclude (_record_no, _loaded_at) from raw.{p['extract']} "
                               f"where _file = ?", [p["file"]]).fetchall()
            assert rows.count(row) >= 2  # loaded twice; staging keeps one
