"""Metering and billing: monthly readings, NORMAL bills with their items, ADJUST corrections."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import constants as C
from .arrow import codes, date, dec2, dec6, ids, integer
from .company import BASE_ID, SEASON, Population
from .tariff import CODES, FUNDS, T_BASIC_KIND, TariffBook

TOU_SHARE = {C.CI: np.array([0, 0, 0.30, 0.42, 0.28]), C.LI: np.array([0, 0.05, 0.27, 0.36, 0.32])}
ITEM_SLOTS = 12  # 0-2 residential tiers / ALL, 3-6 SHARP PEAK FLAT VALLEY, 7 BASIC, 8 PF_ADJ, 9-11 FUND
SLOT_ITEM = np.array([0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 3])
SLOT_PERIOD = np.array([0, 0, 0, 1, 2, 3, 4, -1, -1, -1, -1, -1])
SLOT_TIER = np.array([1, 2, 3, 1, 1, 1, 1, -1, -1, -1, -1, -1])
SLOT_FUND = np.array([-1] * 9 + [0, 1, 2])
PF_STANDARD = {C.LI: 90, C.CI: 85, C.AGRI: 80}
PF_CAP = {90: 7500, 85: 11000, 80: 13000}  # rebate caps, micro (0.75 %, 1.1 %, 1.3 %)


def rhu(num: np.ndarray, den: int) -> np.ndarray:
    """num / den rounded half-up (away from zero), integer arithmetic."""
    num = np.asarray(num, dtype=np.int64)
    q = (np.abs(num) * 2 + den) // (2 * den)
    return np.where(num < 0, -q, q)


def month_of(day: int) -> str:
    return str((np.datetime64("1970-01-01") + np.timedelta64(int(day), "D")).astype("datetime64[M]"))


def yyyymm(day: int) -> str:
    return month_of(day).replace("-", "")


@dataclass
class ReadBatch:
    month_start: int
    idx: np.ndarray  # customers billed for the month
    kwh: np.ndarray  # [n, 5] centi-kWh per period
    demand: np.ndarray  # centi-kW (two-part only)
    kvarh: np.ndarray  # centi-kvarh total
    tariff: np.ndarray
    elec: np.ndarray
    kva: np.ndarray
    station: np.ndarray
    tg: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.kwh.sum(axis=1)


def read_month(pop: Population, rng: np.random.Generator, k: int, ms: int, me: int,
               prev_ms: int) -> tuple[ReadBatch, pa.Table, dict]:
    """Month-end readings of every customer supplied in the month, and zero readings of last month's closures."""
    days = me - ms + 1
    moy = int(month_of(ms)[5:7]) - 1
    open_d, close_d, closed = pop.open_day, pop.close_day, pop.closed
    supplied = (open_d <= me) & (~closed | (close_d >= ms))
    zero = closed & (close_d < ms) & (close_d >= prev_ms)
    idx = np.flatnonzero(supplied)
    n = len(idx)
    elec = pop.elec[idx]
    lo = np.maximum(ms, open_d[idx])
    hi = np.where(closed[idx], np.minimum(close_d[idx], me), me)
    frac = (hi - lo + 1) / days
    sigma = np.where(elec == C.RES, 0.13, 0.10)
    kwh = (pop.base_kwh[idx] * SEASON[elec, moy] * (1.0 + pop.growth[idx]) ** (k / 12.0)
           * np.exp(rng.normal(0.0, 1.0, n) * sigma) * frac)
    share = np.zeros((n, 5))
    share[(elec == C.RES) | (elec == C.AGRI), 0] = 1.0
    for e, base in TOU_SHARE.items():
        m = elec == e
        s = base[None, :] * rng.uniform(0.8, 1.2, (m.sum(), 5))
        share[m] = s / s.sum(axis=1, keepdims=True)
    mult = pop.mult[idx]
    used = share > 0
    d_true = np.rint(kwh[:, None] * share * 100.0 / mult[:, None]).astype(np.int64)
    new_or_closing = (open_d[idx] >= ms) | closed[idx]
    est = (rng.random(n) < 0.006) & ~new_or_closing
    f = rng.uniform(0.7, 0.95, n)
    lag = pop.lag[idx]
    d_bill = np.where(est[:, None], np.floor(d_true * f[:, None]).astype(np.int64), d_true + lag)
    pop.lag[idx] = np.where(est[:, None], lag + d_true - d_bill, 0)
    top = (10 ** pop.digits[idx]).astype(np.int64) * 100
    start = pop.reg[idx]
    end = (start + d_bill) % top[:, None]
    rolled = used & (start + d_bill >= top[:, None])
    pop.reg[idx] = np.where(used, end, start)
    kwh_p = d_bill * mult[:, None] * used
    pf = np.clip(pop.pf[idx] + rng.normal(0, 0.01, n), 0.55, 0.995)
    tanphi = np.sqrt(1.0 / pf ** 2 - 1.0)
    kvarh_p = np.rint(kwh_p * tanphi[:, None]).astype(np.int64)
    two_part = elec == C.LI
    hours = days * 24
    demand = np.where(two_part, np.rint(kwh_p.sum(axis=1) / (hours * pop.lf[idx] * rng.uniform(0.9, 1.1, n))), 0)
    demand = demand.astype(np.int64)
    batch = ReadBatch(ms, idx, kwh_p, demand, kvarh_p.sum(axis=1), pop.tariff[idx].copy(), elec.copy(),
                      pop.kva[idx].copy(), pop.station[idx].copy(), pop.tg[idx].copy())
    # rows: one per customer and metered period
    zidx = np.flatnonzero(zero)
    zused = np.zeros((len(zidx), 5), bool)
    ze = pop.elec[zidx]
    zused[(ze == C.RES) | (ze == C.AGRI), 0] = True
    zused[ze == C.CI, 2:5] = True
    zused[ze == C.LI, 1:5] = True
    all_idx = np.concatenate([idx, zidx])
    all_used = np.concatenate([used, zused])
    r, p = np.nonzero(all_used)
    cust = all_idx[r]
    zstart = pop.reg[zidx]
    st = np.concatenate([start, zstart])[r, p]
    en = np.concatenate([end, zstart])[r, p]
    kw = np.concatenate([kwh_p, np.zeros_like(zstart)])[r, p]
    kv = np.concatenate([kvarh_p, np.zeros_like(zstart)])[r, p]
    dm = np.concatenate([demand, np.zeros(len(zidx), np.int64)])[r]
    is_two = np.concatenate([two_part, ze == C.LI])[r]
    is_est = np.concatenate([est, np.zeros(len(zidx), bool)])[r]
    ym = yyyymm(ms)
    m = len(r)
    table = pa.table({
        "reading_id": ids("R" + ym, cust + 1, 8, suffix=codes(p, C.TOU_LETTER)),
        "cons_no": ids("", BASE_ID + cust, 10),
        "meter_id": ids("M", BASE_ID + cust, 10),
        "billing_month": codes(np.zeros(m, np.int8), (month_of(ms),)),
        "read_date": date(np.full(m, me)),
        "tou_period": codes(p, C.TOU),
        "start_reading": dec2(st),
        "end_reading": dec2(en),
        "multiplier": integer(pop.mult[cust]),
        "meter_digits": integer(pop.digits[cust]),
        "kwh": dec2(kw),
        "max_demand_kw": dec2(dm, valid=is_two),
        "kvarh": dec2(kv),
        "is_estimated": codes(is_est.astype(np.int8), ("N", "Y")),
        "_bd": pa.array(np.full(m, me, np.int32)),
    })
    stats = {"estimated": int(est.sum()), "rollover": int(rolled.any(axis=1).sum()),
             "closed_zero": int(len(zidx)), "readings": m}
    return batch, table, stats


def pf_rate(kwh: np.ndarray, kvarh: np.ndarray, standard: np.ndarray) -> np.ndarray:
    """Power-factor adjustment rate in micro-units (positive = surcharge, negative = rebate)."""
    pf = kwh / np.sqrt(np.maximum(kwh.astype(float) ** 2 + kvarh.astype(float) ** 2, 1.0))
    p = np.floor(pf * 100 + 0.5).astype(np.int64)
    short = standard - p
    over = np.clip(-short, 0, None)
    short = np.clip(short, 0, None)
    surcharge = 5000 * np.minimum(short, 5) + 10000 * np.clip(short - 5, 0, None)
    cap = np.select([standard == 90, standard == 85], [PF_CAP[90], PF_CAP[85]], PF_CAP[80])
    rebate = np.minimum(over * 1500, cap)
    return np.where(short > 0, surcharge, -rebate)


@dataclass
class BillBatch:
    idx: np.ndarray
    bill_id: pa.Array
    amount: np.ndarray
    issue_day: int
    due_day: np.ndarray
    is_res: np.ndarray


def price_items(book: TariffBook, version: int, tariff: np.ndarray, elec: np.ndarray, kwh: np.ndarray,
                kva: np.ndarray, demand: np.ndarray, kvarh: np.ndarray, with_basic_pf: bool = True):
    """Quantities, prices, amounts and presence of the 12 item slots of each bill."""
    n = len(tariff)
    q = np.zeros((n, ITEM_SLOTS), np.int64)
    price = np.zeros((n, ITEM_SLOTS), np.int64)
    total = kwh.sum(axis=1)
    res = elec == C.RES
    q[res, 0] = np.minimum(total[res], 23000)
    q[res, 1] = np.clip(total[res] - 23000, 0, 17000)
    q[res, 2] = np.clip(total[res] - 40000, 0, None)
    agri = elec == C.AGRI
    q[agri, 0] = total[agri]
    tou = ~res & ~agri
    q[tou, 3:7] = kwh[tou, 1:5]
    price[:, 0:7] = book.energy[version, tariff, :]
    present = np.zeros((n, ITEM_SLOTS), bool)
    present[res | agri, 0] = True
    present[res, 1] = q[res, 1] > 0
    present[res, 2] = q[res, 2] > 0
    present[:, 3:7] = tou[:, None] & (price[:, 3:7] > 0)
    amt = rhu(q * price, 1_000_000)
    energy_sum = (amt[:, 0:7] * present[:, 0:7]).sum(axis=1)
    if with_basic_pf:
        kind = T_BASIC_KIND[tariff]
        b = kind > 0
        q[b, 7] = np.where(kind[b] == 1, kva[b], demand[b])
        price[b, 7] = book.basic[version, tariff[b]]
        present[:, 7] = b
        amt[:, 7] = rhu(q[:, 7] * price[:, 7], 1_000_000)
        std = np.select([elec == C.LI, elec == C.CI, elec == C.AGRI], [90, 85, 80], 0)
        has_pf = (elec == C.LI) | ((std > 0) & (kva >= 10000))
        rate = pf_rate(total, kvarh, std)
        price[:, 8] = np.where(has_pf, rate, 0)
        present[:, 8] = has_pf
        amt[:, 8] = rhu(price[:, 8] * (energy_sum + amt[:, 7] * b), 1_000_000)
    funds = book.fund[version, tariff, :]
    q[:, 9:12] = total[:, None]
    price[:, 9:12] = funds
    present[:, 9:12] = funds > 0
    amt[:, 9:12] = rhu(q[:, 9:12] * price[:, 9:12], 1_000_000)
    amt = amt * present
    return q, price, amt, present


def item_table(bill_ids: pa.Array, q, price, amt, present, bd: int) -> pa.Table:
    r, s = np.nonzero(present)
    m = len(r)
    first = np.searchsorted(r, r, side="left")
    item_no = np.arange(m) - first + 1
    period = SLOT_PERIOD[s]
    tier = SLOT_TIER[s]
    fund = SLOT_FUND[s]
    return pa.table({
        "bill_id": bill_ids.take(pa.array(r)),
        "item_no": integer(item_no),
        "item": codes(SLOT_ITEM[s], C.BILL_ITEMS),
        "tou_period": codes(np.maximum(period, 0), C.TOU, valid=period >= 0),
        "tier": integer(np.maximum(tier, 0), valid=tier >= 0),
        "fund_name": codes(np.maximum(fund, 0), FUNDS, valid=fund >= 0),
        "kwh": dec2(q[r, s], valid=s != 8),
        "price": dec6(price[r, s]),
        "amount": dec2(amt[r, s]),
        "_bd": pa.array(np.full(m, bd, np.int32)),
    })


def issue_bills(book: TariffBook, batch: ReadBatch, version: int, issue_day: int) -> tuple[BillBatch, pa.Table, pa.Table]:
    q, price, amt, present = price_items(book, version, batch.tariff, batch.elec, batch.kwh, batch.kva,
                                         batch.demand, batch.kvarh)
    amount = amt.sum(axis=1)
    n = len(batch.idx)
    ym = yyyymm(batch.month_start)
    bill_ids = ids("B" + ym, batch.idx + 1, 8)
    is_res = batch.elec == C.RES
    due = issue_day + np.where(is_res, 20, 15)
    bills = pa.table({
        "bill_id": bill_ids,
        "cons_no": ids("", BASE_ID + batch.idx, 10),
        "billing_month": codes(np.zeros(n, np.int8), (month_of(batch.month_start),)),
        "bill_type": codes(np.zeros(n, np.int8), ("NORMAL",)),
        "ref_bill_id": pa.nulls(n, pa.string()),
        "issue_date": date(np.full(n, issue_day)),
        "due_date": date(due),
        "kwh": dec2(batch.total),
        "amount": dec2(amount),
        "tariff_code": codes(batch.tariff, CODES),
        "_bd": pa.array(np.full(n, issue_day, np.int32)),
    })
    items = item_table(bill_ids, q, price, amt, present, issue_day)
    return BillBatch(batch.idx, bill_ids, amount, issue_day, due, is_res), bills, items


def issue_adjustments(book: TariffBook, rng: np.random.Generator, history: dict, issue_day: int, counter: int,
                      start_year: int):
    """ADJUST bills (退补) on about 1 % of recent NORMAL bills, half of them downward."""
    months = sorted(history)
    if len(months) < 2:
        return None
    latest = history[months[-1]]
    n_adj = int(rng.binomial(len(latest.idx), 0.01))
    if n_adj == 0:
        return None
    pick_month = rng.choice(months[:-1] if len(months) > 1 else months, size=n_adj)
    rows = []
    for mkey in np.unique(pick_month):
        h = history[mkey]
        want = int((pick_month == mkey).sum())
        avail = np.flatnonzero(~h.adjusted & (h.total >= 1000))
        if len(avail) == 0:
            continue
        take = rng.choice(avail, size=min(want, len(avail)), replace=False)
        h.adjusted[take] = True
        rows.append((mkey, h, np.sort(take)))
    if not rows:
        return None
    parts = []
    for mkey, h, take in rows:
        tot = h.total[take]
        mag = np.maximum(1, np.rint(tot / 100 * rng.uniform(0.05, 0.3, len(take)))).astype(np.int64) * 100
        down = rng.random(len(take)) < 0.5
        delta = np.where(down, -mag, mag)
        parts.append((mkey, h, take, delta))
    out_idx, out_ref, out_tariff, out_elec, out_delta, out_month, out_version = [], [], [], [], [], [], []
    for mkey, h, take, delta in parts:
        out_idx.append(h.idx[take])
        out_ref.append(h.idx[take] + 1)
        out_tariff.append(h.tariff[take])
        out_elec.append(h.elec[take])
        out_delta.append(delta)
        out_month.append(np.full(len(take), mkey))
        out_version.append(np.full(len(take), h.version))
    idx = np.concatenate(out_idx)
    tariff = np.concatenate(out_tariff)
    elec = np.concatenate(out_elec)
    delta = np.concatenate(out_delta)
    mstart = np.concatenate(out_month)
    version = np.concatenate(out_version)
    n = len(idx)
    # energy at the flat / first-tier price of the corrected month's tariff version
    tou = (elec == C.CI) | (elec == C.LI)
    q = np.zeros((n, ITEM_SLOTS), np.int64)
    price = np.zeros((n, ITEM_SLOTS), np.int64)
    present = np.zeros((n, ITEM_SLOTS), bool)
    q[~tou, 0] = delta[~tou]
    q[tou, 5] = delta[tou]
    price[:, 0] = book.energy[version, tariff, 0]
    price[:, 5] = book.energy[version, tariff, 5]
    present[~tou, 0] = True
    present[tou, 5] = True
    q[:, 9:12] = delta[:, None]
    price[:, 9:12] = book.fund[version, tariff, :]
    present[:, 9:12] = price[:, 9:12] > 0
    amt = rhu(q * price, 1_000_000) * present
    amount = amt.sum(axis=1)
    order = np.lexsort((idx, mstart))
    idx, tariff, elec, delta, mstart, amount = idx[order], tariff[order], elec[order], delta[order], mstart[order], amount[order]
    q, price, amt, present = q[order], price[order], amt[order], present[order]
    ym = yyyymm(issue_day)
    bill_ids = ids("A" + ym, counter + np.arange(n) + 1, 8)
    ref_ids = pa.array([f"B{yyyymm(int(m))}{i + 1:08d}" for m, i in zip(mstart, idx, strict=True)], pa.string())
    is_res = elec == C.RES
    due = issue_day + 20
    labels = sorted({month_of(int(m)) for m in mstart})
    bills = pa.table({
        "bill_id": bill_ids,
        "cons_no": ids("", BASE_ID + idx, 10),
        "billing_month": codes(np.searchsorted(labels, [month_of(int(m)) for m in mstart]), labels),
        "bill_type": codes(np.zeros(n, np.int8), ("ADJUST",)),
        "ref_bill_id": ref_ids,
        "issue_date": date(np.full(n, issue_day)),
        "due_date": date(np.full(n, due)),
        "kwh": dec2(delta),
        "amount": dec2(amount),
        "tariff_code": codes(tariff, CODES),
        "_bd": pa.array(np.full(n, issue_day, np.int32)),
    })
    items = item_table(bill_ids, q, price, amt, present, issue_day)
    bb = BillBatch(idx, bill_ids, amount, issue_day, np.full(n, due), is_res)
    return bb, bills, items, n


@dataclass
class BillHistory:
    idx: np.ndarray
    total: np.ndarray
    tariff: np.ndarray
    elec: np.ndarray
    version: int
    adjusted: np.ndarray
