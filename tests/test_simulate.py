"""Tests of `powercrm simulate`, the synthetic marketing & billing source system.

Every expected figure is recomputed here from the files themselves (csv module, Decimal
arithmetic, the rules of SOURCE_EXTRACTS.md / METRICS.md), never taken from the simulator.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from powercrm.simulate import continue_simulation, simulate
from powercrm.simulate.engine import Params, run
from powercrm.simulate.profit import profit_shares

EXTRACTS = ("org", "cust", "tariff", "reading", "bill", "bill_item", "payment", "dunning", "violation", "supply",
            "workorder", "survey", "outage", "cost")
CODES = {
    "elec_type": {"100", "200", "300", "400"},
    "voltage": {"V220", "V380", "K10", "K35", "K110", "K220"},
    "tou_period": {"SHARP", "PEAK", "FLAT", "VALLEY", "ALL"},
    "pay_channel": {"COUNTER", "WEB95598", "APP", "WECHAT", "ALIPAY", "BANK_DEBIT", "KIOSK", "AGENT", "EWALLET",
                    "BALANCE"},
    "bill_item": {"ENERGY", "BASIC", "PF_ADJ", "FUND"},
    "order_type": {"REPAIR", "COMPLAINT", "REPORT", "OPINION", "SUGGESTION", "CONSULT", "PRAISE"},
    "outage_type": {"PLANNED", "FAULT", "ORDERLY", "ARREARS"},
    "event_type": {"SMS", "NOTICE", "DISCONNECT", "RECONNECT"},
    "category_l1": {"SUPPLY_QUALITY", "OUTAGE", "BILLING", "METERING", "READING_COLLECTION", "CONNECTION", "SERVICE",
                    "CHANNEL", "OTHER"},
}
# column -> code list, per extract (what a loader checks)
CODE_COLS = {
    "cust": {"elec_type": "elec_type", "voltage": "voltage"},
    "tariff": {"elec_type": "elec_type", "voltage": "voltage", "tou_period": "tou_period"},
    "reading": {"tou_period": "tou_period"},
    "bill_item": {"item": "bill_item"},
    "payment": {"channel": "pay_channel"},
    "dunning": {"event_type": "event_type"},
    "workorder": {"order_type": "order_type", "category_l1": "category_l1"},
    "outage": {"outage_type": "outage_type"},
}
KEYS = {"org": ("org_no", "tg_id"), "cust": ("cons_no", "updated_at"),
        "tariff": ("tariff_code", "component", "tou_period", "tier", "fund_name", "valid_from"),
        "reading": ("reading_id",), "bill": ("bill_id",), "bill_item": ("bill_id", "item_no"), "payment": ("pay_id",),
        "dunning": ("event_id",), "violation": ("case_id",), "supply": ("tg_id", "billing_month"),
        "workorder": ("order_id",), "survey": ("survey_id",), "outage": ("event_id",),
        "cost": ("org_no", "billing_month")}
NULLABLE_KEY = {("org", "tg_id"), ("tariff", "fund_name")}
NUMBERS = {"reading": ("start_reading", "end_reading", "multiplier", "meter_digits", "kwh", "max_demand_kw", "kvarh"),
           "bill": ("kwh", "amount"), "bill_item": ("item_no", "tier", "kwh", "price", "amount"),
           "payment": ("amount", "penalty_amount"), "supply": ("supply_kwh",), "cost": ("marketing_cost", "operating_cost"),
           "survey": ("score_supply", "score_billing", "score_service", "score_channel", "score_overall"),
           "cust": ("contract_kva",), "violation": ("recovered_kwh", "recovered_amount", "penalty_amount"),
           "outage": ("customers_affected",)}
DATES = {"reading": ("read_date",), "bill": ("issue_date", "due_date"), "payment": ("pay_time",),
         "survey": ("survey_date",), "workorder": ("accept_time", "deadline_time", "finish_time"),
         "cust": ("open_date", "close_date", "updated_at"), "dunning": ("event_time",), "violation": ("found_date",),
         "outage": ("start_time", "end_time")}
NUM_RE = re.compile(r"^-?\d+(\.\d+)?$")


# ------------------------------------------------------------------------------------ reading the folder
def norm(v: str) -> str:
    return unicodedata.normalize("NFKC", v).strip()


def parse_time(v: str) -> bool:
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            dt.datetime.strptime(v, fmt)
            return True
        except ValueError:
            pass
    return False


def partitions(root: Path, extract: str):
    base = root / extract
    yield from (sorted(base.iterdir()) if base.exists() else [])


def load_partition(part: Path):
    """(manifest or None, file path, header, rows, sha_ok)."""
    mf = part / "_manifest.json"
    files = [f for f in part.iterdir() if f.name != "_manifest.json"]
    assert len(files) == 1, part
    path = files[0]
    raw = path.read_bytes()
    man = json.loads(mf.read_text(encoding="utf-8")) if mf.exists() else None
    enc = man["files"][0]["encoding"] if man else "utf-8"
    data = gzip.decompress(raw) if path.name.endswith(".gz") else raw
    recs = list(csv.reader(io.StringIO(data.decode(enc), newline="")))
    sha_ok = man is not None and hashlib.sha256(raw).hexdigest() == man["files"][0]["sha256"]
    return man, path, recs[0], recs[1:], sha_ok


def load(root: Path) -> dict:
    """Every loadable partition (manifest present, sha256 matching) as lists of dicts with business_date."""
    out: dict[str, list[dict]] = {e: [] for e in EXTRACTS}
    for e in EXTRACTS:
        for part in partitions(root, e):
            man, _path, header, rows, ok = load_partition(part)
            if man is None or not ok:
                continue
            for r in rows:
                d = dict(zip(header, r, strict=True))
                d["_bd"] = part.name
                out[e].append(d)
    return out


def dec(v: str) -> Decimal:
    return Decimal(v)


def rhu(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, dict, dict]:
    out = tmp_path_factory.mktemp("clean")
    rec = simulate(out, customers=2000, months=14, start="2023-01", seed=7, progress=False)
    return out, rec, load(out)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("dirty")
    rec = simulate(out, customers=500, months=5, start="2023-03", seed=11, dirty=0.01, fmt="csv", progress=False)
    return out, rec


# ------------------------------------------------------------------------------------ interface
def test_every_extract_written_with_manifests_that_verify(clean):
    root, _rec, _data = clean
    for e in EXTRACTS:
        parts = list(partitions(root, e))
        assert parts, f"{e} has no partition"
        total = 0
        for part in parts:
            man, path, header, rows, ok = load_partition(part)
            assert man is not None, f"{part} has no manifest in a clean run"
            assert list(man) == ["extract", "business_date", "schema_version", "files"]
            assert man["extract"] == e and man["business_date"] == part.name and man["schema_version"] == 1
            f = man["files"][0]
            assert f["name"] == path.name and f["encoding"] == "utf-8" and ok
            assert f["rows"] == len(rows), f"{path}: manifest rows {f['rows']} != records {len(rows)}"
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", part.name)
            total += len(rows)
        assert total > 0, f"{e} is empty"


def test_manifest_rows_are_records_not_lines_and_duckdb_reads_them(clean):
    root, _rec, _data = clean
    multiline = 0
    for part in partitions(root, "workorder"):
        man, path, _h, rows, _ok = load_partition(part)
        lines = path.read_bytes().count(b"\n") - 1
        if lines != man["files"][0]["rows"]:
            multiline += 1
        n = duckdb.sql(f"select count(*) from read_csv('{path}', all_varchar=true, header=true)").fetchall()[0][0]
        assert n == man["files"][0]["rows"]
    assert multiline >= 1, "expected at least one work order whose content spans two lines"


def test_keys_unique_codes_valid_values_parse(clean):
    _root, _rec, data = clean
    for e, rows in data.items():
        seen = Counter()
        for r in rows:
            for k in KEYS[e]:
                if (e, k) not in NULLABLE_KEY:
                    assert r[k] != "", f"{e}: empty key {k}"
            key = tuple(r[k] for k in KEYS[e])
            if e in ("workorder", "outage"):
                key = key + (r["_bd"],)  # redelivered whole in a later partition
            if e in ("org", "tariff"):
                key = key + (r["_bd"],)  # full snapshots
            seen[key] += 1
            for col, lst in CODE_COLS.get(e, {}).items():
                if r[col] != "":
                    assert r[col] in CODES[lst], f"{e}.{col}={r[col]!r}"
            for col in NUMBERS.get(e, ()):
                assert r[col] == "" or NUM_RE.match(r[col]), f"{e}.{col}={r[col]!r}"
            for col in DATES.get(e, ()):
                assert r[col] == "" or parse_time(r[col]), f"{e}.{col}={r[col]!r}"
        dup = [k for k, c in seen.items() if c > 1]
        assert not dup, f"{e}: duplicate keys {dup[:3]}"


def test_formats_match_the_interface(clean):
    _root, _rec, data = clean
    assert all(re.fullmatch(r"\d{10}", r["cons_no"]) for r in data["cust"])
    assert all(re.fullmatch(r"-?\d+\.\d{2}", r["amount"]) for r in data["bill_item"])
    assert all(re.fullmatch(r"-?\d+\.\d{6}", r["price"]) for r in data["bill_item"])
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", r["pay_time"]) for r in data["payment"])
    assert all(re.fullmatch(r"\d{4}-\d{2}", r["billing_month"]) for r in data["bill"])
    res = [r for r in data["cust"] if r["elec_type"] == "100"]
    assert all(re.fullmatch(r"\d{17}[\dX]", r["cert_no"]) for r in res)
    assert all(re.fullmatch(r"1\d{10}", r["mobile"]) for r in data["cust"])
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", r["cons_name"]) for r in res)


# ------------------------------------------------------------------------------------ consistency
def test_bills_equal_items_and_items_equal_tariff_price_times_quantity(clean):
    _root, _rec, data = clean
    snap = max(r["_bd"] for r in data["tariff"])
    tariff = [r for r in data["tariff"] if r["_bd"] == snap]

    def price(code, comp, period, tier, fund, day):
        hits = [r for r in tariff if r["tariff_code"] == code and r["component"] == comp and r["tou_period"] == period
                and r["tier"] == tier and r["fund_name"] == fund and r["valid_from"] <= day
                and (r["valid_to"] == "" or r["valid_to"] >= day)]
        assert len(hits) == 1, (code, comp, period, tier, fund, day, hits)
        return dec(hits[0]["price"])

    cache: dict = {}
    items = defaultdict(list)
    for it in data["bill_item"]:
        items[it["bill_id"]].append(it)
    bills = {b["bill_id"]: b for b in data["bill"]}
    assert set(items) == set(bills)
    for bid, b in bills.items():
        its = sorted(items[bid], key=lambda x: int(x["item_no"]))
        assert [int(x["item_no"]) for x in its] == list(range(1, len(its) + 1))
        assert sum(dec(x["amount"]) for x in its) == dec(b["amount"]), bid
        month = b["billing_month"] + "-01"
        base = Decimal(0)
        for x in its:
            if x["item"] == "PF_ADJ":
                continue
            comp = x["item"]
            if comp == "BASIC":
                comp = "BASIC_KVA" if any(r["component"] == "BASIC_KVA" and r["tariff_code"] == b["tariff_code"]
                                          for r in tariff) else "BASIC_KW"
            key = (b["tariff_code"], comp, x["tou_period"] or "ALL", x["tier"] or "1", x["fund_name"], month)
            if key not in cache:
                cache[key] = price(*key)
            assert dec(x["price"]) == cache[key], (bid, x)
            assert dec(x["amount"]) == rhu(dec(x["kwh"]) * dec(x["price"])), (bid, x)
            if x["item"] in ("ENERGY", "BASIC"):
                base += dec(x["amount"])
        for x in its:
            if x["item"] == "PF_ADJ":
                assert x["kwh"] == ""
                assert dec(x["amount"]) == rhu(dec(x["price"]) * base), (bid, x)
        if b["bill_type"] == "NORMAL":
            energy = sum(dec(x["kwh"]) for x in its if x["item"] == "ENERGY")
            assert energy == dec(b["kwh"]), bid


def test_residential_tiers_and_price_composition(clean):
    _root, _rec, data = clean
    first = min(r["_bd"] for r in data["tariff"])
    t0 = [r for r in data["tariff"] if r["_bd"] == first]
    res = {(r["tier"], r["tier_floor_kwh"], r["price"]) for r in t0 if r["tariff_code"] == "R-V220" and r["component"] == "ENERGY"}
    assert res == {("1", "0.00", "0.538000"), ("2", "230.00", "0.588000"), ("3", "400.00", "0.838000")}
    for code in {r["tariff_code"] for r in t0}:
        comps = {r["component"] for r in t0 if r["tariff_code"] == code}
        assert {"PURCHASE", "LOSS", "SYSTEM", "ENERGY", "FUND"} <= comps, code
    ck10 = {r["component"] + r["tou_period"]: dec(r["price"]) for r in t0 if r["tariff_code"] == "C-K10"}
    assert ck10["ENERGYFLAT"] == ck10["PURCHASEALL"] + ck10["LOSSALL"] + ck10["TDALL"] + ck10["SYSTEMALL"]
    assert ck10["ENERGYPEAK"] > ck10["ENERGYFLAT"] > ck10["ENERGYVALLEY"]
    li = {r["tou_period"] for r in t0 if r["tariff_code"] == "I-K10" and r["component"] == "ENERGY"}
    assert li == {"SHARP", "PEAK", "FLAT", "VALLEY"}
    # a new yearly snapshot closes the old purchase price the day before the new one starts
    assert len({r["_bd"] for r in data["tariff"]}) >= 2
    last = [r for r in data["tariff"] if r["_bd"] == max(r["_bd"] for r in data["tariff"])]
    closed = [r for r in last if r["component"] == "PURCHASE" and r["valid_to"] != ""]
    assert closed and all(
        any(o["tariff_code"] == c["tariff_code"] and o["component"] == "PURCHASE"
            and dt.date.fromisoformat(o["valid_from"]) == dt.date.fromisoformat(c["valid_to"]) + dt.timedelta(days=1)
            for o in last) for c in closed)


def test_bill_kwh_equals_metered_kwh_with_multiplier_and_rollover(clean):
    _root, _rec, data = clean
    metered = defaultdict(Decimal)
    rolled = est = 0
    for r in data["reading"]:
        start, end, mult, digits = dec(r["start_reading"]), dec(r["end_reading"]), int(r["multiplier"]), int(r["meter_digits"])
        diff = end - start
        if end < start:
            diff += Decimal(10) ** digits
            rolled += 1
        assert diff * mult == dec(r["kwh"]), r["reading_id"]
        assert Decimal(0) <= start < Decimal(10) ** digits and end < Decimal(10) ** digits
        metered[(r["cons_no"], r["billing_month"])] += dec(r["kwh"])
        est += r["is_estimated"] == "Y"
    assert rolled >= 1 and est >= 1
    normal = [b for b in data["bill"] if b["bill_type"] == "NORMAL"]
    for b in normal:
        assert dec(b["kwh"]) == metered[(b["cons_no"], b["billing_month"])], b["bill_id"]
    two_part = {r["cons_no"] for r in data["reading"] if r["max_demand_kw"] != ""}
    li = {r["cons_no"] for r in data["cust"] if r["elec_type"] == "300"}
    assert two_part and two_part <= li


def test_payments_never_exceed_what_is_owed_and_follow_the_rules(clean):
    _root, _rec, data = clean
    bills = {b["bill_id"]: b for b in data["bill"]}
    pays = {p["pay_id"]: p for p in data["payment"]}
    paid = defaultdict(Decimal)
    for p in data["payment"]:
        if p["bill_id"]:
            assert p["bill_id"] in bills, p
            paid[p["bill_id"]] += dec(p["amount"])
        if p["reversal_of"]:
            o = pays[p["reversal_of"]]
            assert dec(p["amount"]) == -dec(o["amount"]) < 0
            assert (p["bill_id"], p["channel"], p["cons_no"]) == (o["bill_id"], o["channel"], o["cons_no"])
    for bid, amt in paid.items():
        assert amt <= dec(bills[bid]["amount"]), bid
    kinds = Counter()
    for p in data["payment"]:
        kinds["prepay"] += p["bill_id"] == ""
        kinds["balance"] += p["channel"] == "BALANCE"
        kinds["reversal"] += p["reversal_of"] != ""
        kinds["penalty"] += p["penalty_amount"] not in ("", "0.00")
    partial = Counter(p["bill_id"] for p in data["payment"] if p["bill_id"] and not p["reversal_of"] and p["channel"] != "BALANCE")
    kinds["partial"] = sum(1 for c in partial.values() if c >= 2)
    assert all(kinds[k] >= 1 for k in ("prepay", "balance", "reversal", "penalty", "partial")), kinds
    # penalty per METRICS.md on the amount paid late
    res = {c["cons_no"] for c in data["cust"] if c["elec_type"] == "100"}
    checked = 0
    for p in data["payment"]:
        if not p["bill_id"] or p["channel"] == "BALANCE" or p["reversal_of"]:
            continue
        due = dt.date.fromisoformat(bills[p["bill_id"]]["due_date"])
        day = dt.date.fromisoformat(p["pay_time"][:10])
        late = (day - due).days
        if late <= 0:
            assert p["penalty_amount"] == "", p
            continue
        if p["cons_no"] in res:
            rate = Decimal("0.001") * late
        else:
            d1 = min(late, (dt.date(due.year, 12, 31) - due).days)
            rate = Decimal("0.002") * d1 + Decimal("0.003") * (late - d1)
        pen = max(rhu(dec(p["amount"]) * rate), Decimal("1.00"))  # any positive penalty is at least 1 yuan
        assert dec(p["penalty_amount"]) == pen, p
        checked += 1
    assert checked > 10


def test_channels_move_online_and_dunning_ladder(clean):
    _root, _rec, data = clean
    online = {"WEB95598", "APP", "WECHAT", "ALIPAY", "EWALLET"}
    months = sorted({p["pay_time"][:7] for p in data["payment"]})
    share = []
    for m in (months[1], months[-2]):
        rows = [p for p in data["payment"] if p["pay_time"][:7] == m and p["channel"] != "BALANCE"]
        share.append(sum(p["channel"] in online for p in rows) / len(rows))
    assert share[1] > share[0] + 0.05 and share[0] > 0.4
    ev = defaultdict(list)
    for e in data["dunning"]:
        ev[e["cons_no"]].append((e["event_time"], e["event_type"]))
    types = Counter(e["event_type"] for e in data["dunning"])
    assert types["SMS"] > types["NOTICE"] > types["DISCONNECT"] >= 1
    pays = defaultdict(list)
    for p in data["payment"]:
        pays[p["bill_id"]].append(p["pay_time"])
    for e in data["dunning"]:
        if e["event_type"] == "DISCONNECT":
            due = dt.date.fromisoformat(next(b["due_date"] for b in data["bill"] if b["bill_id"] == e["bill_id"]))
            assert (dt.date.fromisoformat(e["event_time"][:10]) - due).days >= 28
    arrears = [o for o in data["outage"] if o["outage_type"] == "ARREARS"]
    assert arrears and all(o["cons_no"] for o in arrears)


def test_adjust_bills_reference_normal_bills(clean):
    _root, _rec, data = clean
    bills = {b["bill_id"]: b for b in data["bill"]}
    adj = [b for b in data["bill"] if b["bill_type"] == "ADJUST"]
    normal = [b for b in data["bill"] if b["bill_type"] == "NORMAL"]
    assert 0.004 < len(adj) / len(normal) < 0.02
    assert any(dec(b["amount"]) < 0 and dec(b["kwh"]) < 0 for b in adj)
    assert any(dec(b["amount"]) > 0 for b in adj)
    for b in adj:
        ref = bills[b["ref_bill_id"]]
        assert ref["bill_type"] == "NORMAL" and ref["billing_month"] == b["billing_month"] and ref["cons_no"] == b["cons_no"]
        assert b["issue_date"] > ref["issue_date"]


def test_customer_mix_master_deltas_and_late_masters(clean):
    root, _rec, data = clean
    first = min(r["_bd"] for r in data["cust"])
    initial = [r for r in data["cust"] if r["_bd"] == first]
    mix = Counter(r["elec_type"] for r in initial)
    n = len(initial)
    assert 0.85 < mix["100"] / n < 0.91 and 0.08 < mix["200"] / n < 0.12 and 0.004 < mix["300"] / n < 0.02
    assert mix["400"] >= 1
    later = [r for r in data["cust"] if r["_bd"] > first]
    assert any(r["status"] == "CLOSED" and r["close_date"] for r in later)
    assert len({r["cons_no"] for r in later} - {r["cons_no"] for r in initial}) >= 1  # new accounts
    before = {(r["cons_no"]): (r["tariff_code"], r["contract_kva"]) for r in initial}
    assert any(r["cons_no"] in before and (r["tariff_code"], r["contract_kva"]) != before[r["cons_no"]] for r in later)
    assert any(r["tg_id"] == "" and r["elec_type"] == "300" for r in data["cust"])  # dedicated lines
    first_master = {}
    for r in data["cust"]:
        first_master[r["cons_no"]] = min(first_master.get(r["cons_no"], "9999"), r["_bd"])
    for e in ("payment", "reading", "workorder"):
        early = [x for x in data[e] if x["cons_no"] and x["_bd"] < first_master.get(x["cons_no"], "9999")]
        assert early, f"some {e} rows must name a customer whose master row arrives later"
    closed = {r["cons_no"]: r["close_date"] for r in data["cust"] if r["status"] == "CLOSED"}
    assert any(r["cons_no"] in closed and r["billing_month"] + "-01" > closed[r["cons_no"]] for r in data["reading"])
    orgs = [r for r in data["org"] if r["tg_id"] == ""]
    assert Counter(r["org_level"] for r in orgs)["1"] == 1
    st = {r["org_no"] for r in orgs if r["org_level"] == "3"}
    assert all(r["org_no"] in st for r in data["org"] if r["tg_id"])


def test_supply_line_loss_and_cost(clean):
    _root, _rec, data = clean
    area = {}
    for r in sorted(data["cust"], key=lambda r: r["updated_at"]):
        area[r["cons_no"]] = r["tg_id"]
    sales = defaultdict(Decimal)
    for b in data["bill"]:
        if b["bill_type"] == "NORMAL" and area.get(b["cons_no"]):
            sales[(area[b["cons_no"]], b["billing_month"])] += dec(b["kwh"])
    rates = []
    for s in data["supply"]:
        sup = dec(s["supply_kwh"])
        sl = sales.get((s["tg_id"], s["billing_month"]))
        if sl and sup > 0:
            rates.append(float((sup - sl) / sup))
    assert len(rates) > 50
    ok = sum(r >= 0 for r in rates) / len(rates)
    normal = sum(0.0 <= r <= 0.1 for r in rates) / len(rates)
    assert ok > 0.8 and normal > 0.6
    assert any(r > 0.1 for r in rates) and any(r < 0 for r in rates)
    stations = {r["org_no"] for r in data["org"] if r["org_level"] == "3" and r["tg_id"] == ""}
    assert {c["org_no"] for c in data["cost"]} == stations


def test_service_events(clean):
    _root, _rec, data = clean
    orders = defaultdict(list)
    for w in data["workorder"]:
        orders[w["order_id"]].append(w)
    redelivered = [v for v in orders.values() if len(v) > 1]
    assert redelivered
    for v in redelivered:
        v.sort(key=lambda r: r["_bd"])
        assert v[0]["finish_time"] == "" and v[-1]["finish_time"] != ""
    types = Counter(v[-1]["order_type"] for v in orders.values())
    assert types["REPAIR"] > types["COMPLAINT"] >= 1 and types["CONSULT"] > 0
    complaints = [v[-1] for v in orders.values() if v[-1]["order_type"] == "COMPLAINT"]
    assert all(c["category_l1"] in CODES["category_l1"] and c["category_l2"] for c in complaints)
    assert any(re.search(r"1\d{10}", w["content"]) for w in data["workorder"])
    scores = [s["score_overall"] for s in data["survey"]]
    assert "" in scores and any(s != "" for s in scores)
    assert {o["outage_type"] for o in data["outage"]} >= {"PLANNED", "FAULT", "ARREARS"}
    assert {v["case_type"] for v in data["violation"]} == {"THEFT", "BREACH"}


def test_data_date_and_cadence(clean):
    root, rec, data = clean
    dates = sorted({p.name for e in EXTRACTS for p in partitions(root, e)})
    assert rec["data_date"] == dates[-1] == "2024-03-24"
    issue = max(b["issue_date"] for b in data["bill"] if b["bill_type"] == "NORMAL")
    gap = (dt.date.fromisoformat(dates[-1]) - dt.date.fromisoformat(issue)).days
    assert 14 <= gap <= 31
    assert max(b["billing_month"] for b in data["bill"]) == "2024-02"
    pay_days = [p.name for p in partitions(root, "payment")]
    assert len(pay_days) == (dt.date(2024, 3, 24) - dt.date(2023, 1, 1)).days + 1  # daily
    assert [p.name[8:] for p in partitions(root, "reading")] == [
        str((dt.date(2023, m, 1) + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1))[8:]
        for m in range(1, 13)] + ["31", "29"]
    assert len(list(partitions(root, "org"))) == 1


def test_abc_calibration_shares(clean):
    root, _rec, _data = clean
    s = profit_shares(root)
    assert s["customers"] > 1900
    assert 0.65 <= s["top20_share"] <= 0.92, s
    assert s["bottom70_share"] < 0.25, s
    assert 0.04 <= s["loss_share"] <= 0.20, s


# ------------------------------------------------------------------------------------ determinism, continue
def test_same_arguments_give_byte_identical_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(a, customers=300, months=3, seed=3, dirty=0.02, progress=False)
    # the second run in another process with another string-hash seed
    code = f"from powercrm.simulate import simulate; simulate({str(b)!r}, customers=300, months=3, seed=3, " \
           "dirty=0.02, progress=False)"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    fb = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert fa == fb and len(fa) > 500
    for rel in fa:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    c = tmp_path / "c"
    simulate(c, customers=300, months=2, seed=4, dirty=0.02, progress=False)
    assert (a / "bill").exists() and any(
        (a / r).read_bytes() != (c / r).read_bytes() for r in fa if (c / r).exists() and r.parts[0] == "bill")


def test_continue_adds_exactly_one_business_day(tmp_path):
    base = tmp_path / "base"
    rec = simulate(base, customers=300, months=2, seed=5, dirty=0.02, progress=False)
    before = {p.relative_to(base): p.read_bytes() for p in base.rglob("*") if p.is_file()}
    cont = tmp_path / "cont"
    shutil.copytree(base, cont)
    rec2 = continue_simulation(cont, progress=False)
    nxt = str(dt.date.fromisoformat(rec["data_date"]) + dt.timedelta(days=1))
    assert rec2["data_date"] == nxt
    after = {p.relative_to(cont): p.read_bytes() for p in cont.rglob("*") if p.is_file()}
    changed = {r for r in after if before.get(r) != after[r]}
    days = {r.parts[1] for r in changed if len(r.parts) == 3}
    assert days == {nxt, str(dt.date.fromisoformat(nxt) + dt.timedelta(days=1))}
    assert set(before) - set(after) == set()
    new_parts = {r.parts[0] for r in changed if len(r.parts) == 3 and r.parts[1] == nxt and r.name == "_manifest.json"}
    assert {"payment", "workorder", "survey", "dunning"} <= new_parts
    # the only partition without manifest is the day after the new data date
    missing = [p for e in EXTRACTS for p in partitions(cont, e) if not (p / "_manifest.json").exists()]
    assert [p.name for p in missing] == [str(dt.date.fromisoformat(nxt) + dt.timedelta(days=1))]
    # continuing = having simulated one day longer in the first place
    longer = tmp_path / "longer"
    run(Params(300, 2, "2023-01", 5, 0.02, "auto", 1), longer, progress=False)
    ref = {p.relative_to(longer): p.read_bytes() for p in longer.rglob("*") if p.is_file()}
    assert ref.keys() == after.keys()
    assert all(ref[r] == after[r] for r in ref)
    continue_simulation(cont, progress=False)
    assert json.loads((cont / "_simulation.json").read_text())["params"]["extra_days"] == 2


# ------------------------------------------------------------------------------------ dirty data
def recount(root: Path) -> dict:
    """Recount every planted case from the files, with the loader's rules."""
    out = {"quarantine": defaultdict(dict), "dup": {}, "fullwidth": 0, "padded": 0, "rejected": [], "no_manifest": [],
           "gb18030": [], "gzip": [], "slash": 0}
    for e in EXTRACTS:
        for part in partitions(root, e):
            man, path, header, rows, ok = load_partition(part)
            rel = f"{e}/{part.name}/{path.name}"
            if man is None:
                out["no_manifest"].append(rel)
                continue
            if not ok:
                out["rejected"].append(rel)
                continue
            if man["files"][0]["encoding"] == "gb18030":
                out["gb18030"].append(rel)
            if path.name.endswith(".gz"):
                out["gzip"].append(rel)
            idx = {c: i for i, c in enumerate(header)}
            reasons: dict[int, str] = {}
            by_key = defaultdict(list)
            seen = Counter()
            dups = []
            for no, r in enumerate(rows, start=1):
                t = tuple(r)
                seen[t] += 1
                if seen[t] > 1:
                    dups.append(no)
                    continue
                key = tuple(r[idx[k]] for k in KEYS[e])
                if any(r[idx[k]] == "" for k in KEYS[e] if (e, k) not in NULLABLE_KEY):
                    reasons[no] = "missing key"
                    continue
                bad = None
                for c in NUMBERS.get(e, ()):
                    if r[idx[c]] != "" and not NUM_RE.match(r[idx[c]]):
                        bad = "unparseable number"
                for c in DATES.get(e, ()):
                    if r[idx[c]] != "" and not parse_time(r[idx[c]]):
                        bad = bad or "unparseable date"
                    if "/" in r[idx[c]]:
                        out["slash"] += 1
                for c, lst in CODE_COLS.get(e, {}).items():
                    v = r[idx[c]]
                    if v != "" and norm(v) not in CODES[lst]:
                        bad = bad or "unknown code"
                    if v != norm(v):
                        if v.strip() != v:
                            out["padded"] += 1
                        else:
                            out["fullwidth"] += 1
                if bad:
                    reasons[no] = bad
                    continue
                by_key[key].append((no, t))
            for _key, lst in by_key.items():
                if len({t for _n, t in lst}) > 1:
                    for no, _t in lst:
                        reasons[no] = "conflicting duplicate"
            if reasons:
                recs = defaultdict(list)
                for no, why in sorted(reasons.items()):
                    recs[why].append(no)
                out["quarantine"][rel] = dict(recs)
            if dups:
                out["dup"][rel] = dups
    return out


def test_dirty_counts_match_the_files(dirty):
    root, rec = dirty
    log = rec["dirty"]
    assert json.loads((root / "_simulation.json").read_text(encoding="utf-8"))["dirty"] == log
    got = recount(root)
    want_q = {p["file"]: p["records"] for p in log["quarantine"]["partitions"]}
    assert {k: dict(v) for k, v in got["quarantine"].items()} == want_q
    reasons = Counter()
    for recs in want_q.values():
        for why, nos in recs.items():
            reasons[why] += len(nos)
    assert set(reasons) == {"unparseable number", "unparseable date", "unknown code", "missing key",
                            "conflicting duplicate"}
    assert sum(reasons.values()) == log["quarantine"]["total"]
    assert got["dup"] == {p["file"]: p["records"] for p in log["exact_duplicates"]["partitions"]}
    assert got["fullwidth"] == log["normalised_codes"]["fullwidth"] >= 1
    assert got["padded"] == log["normalised_codes"]["padded"] >= 1
    assert got["rejected"] == [r["file"] for r in log["rejected"]] and len(got["rejected"]) == 1
    assert got["no_manifest"] == [r["file"] for r in log["without_manifest"]]
    assert got["no_manifest"] and got["no_manifest"][0].split("/")[1] > rec["data_date"]
    assert sorted(got["gb18030"]) == sorted(r["file"] for r in log["gb18030"]) and got["gb18030"]
    assert sorted(got["gzip"]) == sorted(r["file"] for r in log["gzip"]) and got["gzip"]
    assert got["slash"] > 0 and log["slash_timestamps"]["rows"] > 0
    assert log["redelivered"]
    for r in log["redelivered"]:
        man = json.loads((root / r["extract"] / r["business_date"] / "_manifest.json").read_text())
        assert man["files"][0]["rows"] == r["final_rows"] != r["first_rows"]
        assert man["files"][0]["sha256"] != r["first_sha256"]


def test_dirty_extracts_still_readable_by_duckdb(dirty):
    root, _rec = dirty
    gb = next(p for e in EXTRACTS for p in partitions(root, e)
              if (p / "_manifest.json").exists()
              and json.loads((p / "_manifest.json").read_text())["files"][0]["encoding"] == "gb18030")
    man, path, header, rows, ok = load_partition(gb)
    assert ok and len(rows) == man["files"][0]["rows"] and any(re.search(r"[\u4e00-\u9fff]", c) for r in rows for c in r)
    slash = [p for p in partitions(root, "workorder") if b"/" in next(p.glob("workorder.csv*")).read_bytes()]
    assert slash


# ------------------------------------------------------------------------------------ CLI
def test_cli_subcommand_and_bad_arguments(tmp_path, capsys):
    from powercrm.simulate.cli import add_parser

    parser = argparse.ArgumentParser(prog="powercrm")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["simulate", "--out", str(tmp_path / "x"), "--start", "2023-13"])
    assert args.customers == 20000 and args.months == 24 and args.seed == 42 and args.dirty == 0 and args.fmt == "auto"
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "--start" in err and err.count("\n") == 1
    args = parser.parse_args(["simulate", "--out", str(tmp_path / "y"), "--customers", "10"])
    assert args.func(args) == 2
    args = parser.parse_args(["simulate", "--continue", str(tmp_path / "nothing")])
    assert args.func(args) == 2
    args = parser.parse_args(["simulate", "--out", str(tmp_path / "ok"), "--customers", "100", "--months", "1",
                              "--quiet", "--format", "csv.gz"])
    assert args.func(args) == 0
    assert next((tmp_path / "ok" / "bill").iterdir()).joinpath("bill.csv.gz").exists()
