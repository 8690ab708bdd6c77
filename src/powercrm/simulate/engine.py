"""The month loop of the synthetic source system, and its run record `_simulation.json`."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import constants as C
from .billing import BillHistory, issue_adjustments, issue_bills, month_of, read_month
from .collection import Counters, collect, migrate_channels, prepayments
from .company import Population, build_org, cust_table, make_customers, month_changes, rng_for
from .dirty import Planter
from .service import cost, outages, supply, surveys, violations, work_orders
from .tariff import build_book, snapshot
from .writer import Delivery, Landing, day_str

RUN_FILE = "_simulation.json"
GZIP_FROM_CUSTOMERS = 200_000


@dataclass
class Params:
    customers: int = 20000
    months: int = 24
    start: str = "2023-01"
    seed: int = 42
    dirty: float = 0.0
    format: str = "auto"
    extra_days: int = 0


def month_start(start: str, k: int) -> int:
    m = np.datetime64(start, "M") + np.timedelta64(k, "M")
    return int(m.astype("datetime64[D]").astype(np.int64))


def end_day(p: Params) -> int:
    """Data date: 23 days after the first of the month following the last billing month, plus continued days."""
    return month_start(p.start, p.months) + 23 + p.extra_days


def validate(p: Params) -> None:
    if p.customers < 50:
        raise ValueError("--customers must be at least 50")
    if p.months < 1:
        raise ValueError("--months must be at least 1")
    if p.format not in ("csv", "csv.gz", "auto"):
        raise ValueError("--format must be csv, csv.gz or auto")
    if not 0.0 <= p.dirty <= 0.2:
        raise ValueError("--dirty must be a rate between 0 and 0.2")
    try:
        np.datetime64(p.start, "M")
        if len(p.start) != 7:
            raise ValueError
    except ValueError as err:
        raise ValueError(f"--start must be YYYY-MM, got {p.start!r}") from err


def run(p: Params, out: Path, write_from_day: int | None = None, progress: bool = True) -> dict:
    validate(p)
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if write_from_day is None:
        for e in C.EXTRACTS:
            if (out / e).exists():
                shutil.rmtree(out / e)
    start_day = month_start(p.start, 0)
    last_day = end_day(p)
    start_year = int(p.start[:4])
    big_gzip = p.format == "auto" and p.customers >= GZIP_FROM_CUSTOMERS
    all_gzip = p.format == "csv.gz"
    book = build_book(start_year)
    org = build_org(p.seed, p.customers)

    def name_of(extract: str, dl: Delivery) -> str:
        gz = dl.gzip if dl.gzip is not None else (all_gzip or (big_gzip and extract in C.BIG_EXTRACTS))
        return f"{extract}.csv.gz" if gz else f"{extract}.csv"

    planter = Planter(p.seed, p.dirty, start_day, name_of, org.county_no[0]) if p.dirty > 0 else None
    landing = Landing(out, big_gzip, all_gzip, planter,
                      write_from_day if write_from_day is not None else -(10**9))
    landing.first_day = start_day
    # the company at the start
    pop = Population(p.seed)
    rng0 = rng_for(p.seed, 2, 0)
    open_days = start_day - rng0.integers(30, 20 * 365, p.customers)
    new, reg = make_customers(rng0, org, p.customers, [0.88, 0.10, 0.01, 0.01], open_days)
    est_bill = (new["base_kwh"] * 65).astype(np.int64)
    new["bal"] = np.where(new["prepay"], est_bill * rng0.uniform(1.0, 3.0, p.customers), 0).astype(np.int64)
    new["master_day"] = np.full(p.customers, start_day)
    pop.append(new, reg)
    landing.add("org", org.table(start_day))
    landing.add("tariff", _tariff(book, 0, start_day))
    everyone = np.arange(p.customers)
    upd = open_days * 86400 + 9 * 3600 + (everyone * 7919) % (8 * 3600)
    landing.add("cust", cust_table(pop, org, everyone, upd, np.full(p.customers, start_day)))
    counters = Counters()
    history: dict[int, BillHistory] = {}
    pending = None
    prev_supply = np.zeros(len(org.tg_id), np.int64)
    real = {"readings": 0, "estimated_readings": 0, "rollover_readings": 0, "closed_customer_readings": 0,
            "bills": 0, "adjust_bills": 0, "adjust_up": 0, "adjust_down": 0, "balance_payments": 0,
            "partial_payments": 0, "reversals": 0, "late_bills": 0, "disconnects": 0, "prepayments": 0,
            "new_accounts": 0, "late_master_customers": 0, "closures_and_changes": 0}
    last_billing = None
    k = 0
    while True:
        ms = month_start(p.start, k)
        if ms > last_day:
            break
        me = month_start(p.start, k + 1) - 1
        prev_ms = month_start(p.start, k - 1)

        def rng(stream: int, k=k) -> np.random.Generator:
            return rng_for(p.seed, 100 + k, stream)

        label = month_of(ms)
        if label.endswith("-12"):
            v_next = book.version_of(int(label[:4]) + 1)
            landing.add("tariff", _tariff(book, v_next, ms + 19))
        # bills of last month, issued on the 3rd
        if pending is not None:
            issue = ms + 2
            if issue <= last_day:
                last_billing = month_of(pending.month_start)
            v = book.version_of(int(month_of(pending.month_start)[:4]))
            bb, bills, items = issue_bills(book, pending, v, issue)
            landing.add("bill", bills)
            landing.add("bill_item", items)
            real["bills"] += bills.num_rows
            col = collect(pop, bb, rng(1), counters, org.tg_id, k)
            _add_collected(landing, col, real)
            history[pending.month_start] = BillHistory(pending.idx, pending.total, pending.tariff, pending.elec, v,
                                                       np.zeros(len(pending.idx), bool))
            for old in sorted(history)[:-7]:
                del history[old]
        # corrections (ADJUST) on the 15th
        adj = issue_adjustments(book, rng(2), history, ms + 14, 0, start_year)
        if adj is not None:
            abb, abills, aitems, na = adj
            landing.add("bill", abills)
            landing.add("bill_item", aitems)
            real["adjust_bills"] += na
            real["adjust_up"] += int((abb.amount > 0).sum())
            real["adjust_down"] += int((abb.amount <= 0).sum())
            down = abb.amount <= 0
            np.add.at(pop.arrays["bal"], abb.idx[down], -abb.amount[down])
            _add_collected(landing, collect(pop, abb, rng(12), counters, org.tg_id, k, normal=False), real)
        # customer master changes and new accounts
        ch = month_changes(pop, org, rng(3), ms, me, p.customers)
        if len(ch["touched"]):
            o = np.argsort(ch["touched_sec"], kind="stable")
            landing.add("cust", cust_table(pop, org, ch["touched"][o], ch["touched_sec"][o], ch["touched_day"][o]))
        if len(ch["new"]):
            landing.add("cust", cust_table(pop, org, ch["new"], ch["new_sec"], ch["new_master_day"]))
        real["new_accounts"] += len(ch["new"])
        real["late_master_customers"] += int((ch["new_master_day"] > me).sum())
        real["closures_and_changes"] += len(ch["touched"])
        migrate_channels(pop, rng(13))
        r4 = rng(4)
        deposit = ch["new"][r4.random(len(ch["new"])) < 0.4]
        pp = prepayments(pop, r4, ms, me, counters, deposit, pop.open_day[deposit])
        if pp is not None:
            real["prepayments"] += pp.num_rows
            landing.add("payment", pp)
        # service and network events of the month
        late_master = ch["new"][ch["new_master_day"] > me]
        wo, follow = work_orders(pop, org, rng(5), ms, me, counters, late_master)
        landing.add("workorder", wo)
        landing.add("survey", surveys(pop, rng(6), ms, me, follow, counters))
        landing.add("outage", outages(pop, org, rng(7), ms, me, counters))
        landing.add("violation", violations(pop, org, book, book.version_of(int(label[:4])), rng(8), ms, me, counters))
        # month-end readings, area supply and cost pools
        batch, rtable, rstats = read_month(pop, rng(9), k, ms, me, prev_ms)
        landing.add("reading", rtable)
        real["readings"] += rstats["readings"]
        real["estimated_readings"] += rstats["estimated"]
        real["rollover_readings"] += rstats["rollover"]
        real["closed_customer_readings"] += rstats["closed_zero"]
        stable, prev_supply = supply(org, batch, rng(10), me, prev_supply)
        landing.add("supply", stable)
        landing.add("cost", cost(org, batch, rng(11), me))
        pending = batch
        before = landing.stats["rows_total"]
        landing.flush(min(me, last_day))
        if progress:
            print(f"simulate {label}: {landing.stats['rows_total'] - before:,} rows written, "
                  f"{pop.n:,} customers, {time.time() - t0:.1f}s", file=sys.stderr, flush=True)
        k += 1
    landing.flush(last_day)
    if planter is not None:
        tail = landing.pending_rows("payment", last_day + 1)
        landing.write_partition("payment", last_day + 1, tail, final_manifest="none")
        landing.stats["partitions"]["payment"] -= 1
        landing.stats["rows"]["payment"] -= tail.num_rows
        landing.stats["rows_total"] -= tail.num_rows
    record = {
        "generator": "powercrm.simulate",
        "schema_version": C.SCHEMA_VERSION,
        "params": asdict(p),
        "first_business_date": day_str(start_day),
        "data_date": day_str(last_day),
        "last_billing_month": last_billing,
        "customers_at_data_date": int(pop.n),
        "partitions": dict(sorted(landing.stats["partitions"].items())),
        "rows": dict(sorted(landing.stats["rows"].items())),
        "rows_total": int(landing.stats["rows_total"]),
        "realistic": real,
        "dirty": planter.log if planter is not None else None,
    }
    elapsed = time.time() - t0
    (out / RUN_FILE).write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    if progress:
        print(f"simulate: {record['rows_total']:,} rows in {sum(record['partitions'].values()):,} partitions, "
              f"data date {record['data_date']}, {elapsed:.1f}s -> {out}", file=sys.stderr, flush=True)
    return record


def _tariff(book, version: int, bd: int) -> pa.Table:
    t = snapshot(book, version)
    return t.append_column("_bd", pa.array(np.full(t.num_rows, bd, np.int32)))


def _add_collected(landing: Landing, col, real: dict) -> None:
    landing.add("payment", col.payments)
    landing.add("dunning", col.dunning)
    landing.add("outage", col.outages)
    real["balance_payments"] += col.stats["balance_rows"]
    real["partial_payments"] += col.stats["partial"]
    real["reversals"] += col.stats["reversals"]
    real["late_bills"] += col.stats["late_bills"]
    real["disconnects"] += col.stats["disconnects"]


def simulate(out: Path, customers: int = 20000, months: int = 24, start: str = "2023-01", seed: int = 42,
             dirty: float = 0.0, fmt: str = "auto", progress: bool = True) -> dict:
    """Write a landing folder of `months` billing months for `customers` accounts; returns _simulation.json."""
    return run(Params(customers, months, start, seed, dirty, fmt, 0), Path(out), progress=progress)


def continue_simulation(out: Path, progress: bool = True) -> dict:
    """Add ONE business day to a simulated landing folder, deterministically, from its _simulation.json."""
    out = Path(out)
    f = out / RUN_FILE
    if not f.exists():
        raise FileNotFoundError(f"{f} not found: --continue needs a folder written by powercrm simulate")
    rec = json.loads(f.read_text(encoding="utf-8"))
    p = Params(**rec["params"])
    p.extra_days += 1
    return run(p, out, write_from_day=end_day(p), progress=progress)


__all__ = ["Params", "simulate", "continue_simulation", "run"]
