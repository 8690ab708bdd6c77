"""Collection: payments (balance transfers, partial, late with penalty, reversals), prepayments,
and the dunning ladder SMS -> NOTICE -> DISCONNECT -> RECONNECT with its arrears outage."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from . import constants as C
from .arrow import codes, dec2, ids, ts
from .billing import BillBatch, rhu
from .company import BASE_ID, Population

ONLINE = np.array([C.CH_WEB, C.CH_APP, C.CH_WECHAT, C.CH_ALIPAY, C.CH_EWALLET])


@dataclass
class Counters:
    pay: int = 0
    event: int = 0
    outage: int = 0
    case: int = 0
    adjust: dict = field(default_factory=dict)


def year_end(day: np.ndarray) -> np.ndarray:
    d = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
    nxt = (d.astype("datetime64[Y]") + np.timedelta64(1, "Y")).astype("datetime64[D]")
    return nxt.astype(np.int64) - 1


def penalty(amount: np.ndarray, pay_day: np.ndarray, due_day: np.ndarray, is_res: np.ndarray) -> np.ndarray:
    """Late-payment penalty (METRICS.md): 0.1 %/day residential; 0.2 %/day to 31 Dec of the due year,
    0.3 %/day after, for others; half-up to 0.01; any positive penalty is at least 1 yuan."""
    late = np.maximum(np.asarray(pay_day) - np.asarray(due_day), 0)
    d1 = np.minimum(late, year_end(due_day) - due_day)
    d2 = late - d1
    per_mille = np.where(is_res, late, 2 * d1 + 3 * d2)
    amount = np.asarray(amount, np.int64)
    pen = rhu(amount * per_mille, 1000)
    return np.where((late > 0) & (amount > 0), np.maximum(pen, 100), pen)


def pay_seconds(rng: np.random.Generator, day: np.ndarray, channel: np.ndarray) -> np.ndarray:
    n = len(day)
    offline = np.isin(channel, C.OFFLINE_CHANNELS)
    lo = np.where(offline, 9 * 3600, np.where(channel == C.CH_BANK, 2 * 3600, 7 * 3600))
    hi = np.where(offline, 17 * 3600, np.where(channel == C.CH_BANK, 5 * 3600, 23 * 3600))
    return np.asarray(day, np.int64) * 86400 + lo + (rng.random(n) * (hi - lo)).astype(np.int64)


def _group(cust, bill_row, sec, channel, amount, pen, rev_of=None):
    n = len(cust)
    return {"cust": np.asarray(cust, np.int64), "bill_row": np.asarray(bill_row, np.int64),
            "sec": np.asarray(sec, np.int64), "channel": np.asarray(channel, np.int64),
            "amount": np.asarray(amount, np.int64), "pen": np.asarray(pen, np.int64),
            "rev_of": np.full(n, -1, np.int64) if rev_of is None else np.asarray(rev_of, np.int64)}


def payment_table(groups: list[dict], bill_ids: pa.Array | None, counters: Counters) -> pa.Table | None:
    """Concatenate payment groups; ids are assigned in order (reversal rows point to earlier ids)."""
    g = {k: np.concatenate([x[k] for x in groups]) for k in groups[0]}
    n = len(g["cust"])
    if n == 0:
        return None
    pay_no = counters.pay + np.arange(n) + 1
    counters.pay += n
    has_bill = g["bill_row"] >= 0
    bill_col = (bill_ids.take(pa.array(np.maximum(g["bill_row"], 0))) if bill_ids is not None
                else pa.nulls(n, pa.string()))
    if not has_bill.all():
        bill_col = pa.compute.if_else(pa.array(has_bill), bill_col, pa.scalar(None, pa.string()))
    rev = g["rev_of"]
    rev_no = np.where(rev >= 0, pay_no[np.maximum(rev, 0)], 0)
    return pa.table({
        "pay_id": ids("P", pay_no, 10),
        "cons_no": ids("", BASE_ID + g["cust"], 10),
        "bill_id": bill_col,
        "pay_time": ts(g["sec"]),
        "channel": codes(g["channel"], C.PAY_CHANNELS),
        "amount": dec2(g["amount"]),
        "penalty_amount": dec2(g["pen"], valid=g["pen"] != 0),
        "reversal_of": ids("P", rev_no, 10, valid=rev >= 0),
        "_bd": pa.array((g["sec"] // 86400).astype(np.int32)),
    })


@dataclass
class Collected:
    payments: pa.Table | None
    dunning: pa.Table | None
    outages: pa.Table | None
    stats: dict


def collect(pop: Population, bb: BillBatch, rng: np.random.Generator, counters: Counters, org_tg_id: np.ndarray,
            month_index: int, normal: bool = True) -> Collected:
    c = bb.idx
    amount = bb.amount
    n = len(c)
    rows = np.arange(n)
    pos = amount > 0
    if normal:
        pop.arrays["last_bill"][c] = np.maximum(amount, 0)
    # 1. prepaid balance pays first (BALANCE transfer, not money received)
    bal = pop.bal[c]
    use = np.where(pos, np.minimum(np.maximum(bal, 0), amount), 0)
    np.subtract.at(pop.arrays["bal"], c, use)
    ub = use > 0
    groups = [_group(c[ub], rows[ub], bb.issue_day * 86400 + 7200 + (c[ub] % 3600), np.full(ub.sum(), C.CH_BALANCE),
                     use[ub], np.zeros(ub.sum()))]
    rest = amount - use
    need = rest > 0
    # 2. when the rest is paid
    cls = pop.cls[c]
    habit = pop.habit[c].astype(np.int64)
    due_off = bb.due_day - bb.issue_day
    u = rng.random((n, 4))
    prompt = np.minimum(np.floor(rng.exponential(4.0, n)), due_off)
    ontime = np.floor(u[:, 1] * (due_off + 1))
    off = np.select(
        [cls == 0, cls == 1, cls == 2, cls == 3],
        [prompt,
         np.where(u[:, 0] < 0.85, ontime, due_off + 1 + rng.geometric(1 / 8, n)),
         np.where(u[:, 0] < 0.5, np.minimum(3 + ontime, due_off), due_off + 1 + np.floor(rng.exponential(14, n))),
         np.where(u[:, 0] < 0.12, ontime, np.where(u[:, 0] < 0.9, due_off + 10 + np.floor(rng.exponential(30, n)),
                                                  due_off + 150 + np.floor(u[:, 2] * 250)))]).astype(np.int64)
    debit = (habit == C.CH_BANK) & (cls <= 1)
    off = np.where(debit, 1 + (u[:, 2] * 3).astype(np.int64), off)
    # online payments take share from counters over time
    channel = habit.copy()
    drift = (~debit) & (u[:, 3] < 0.12)
    channel[drift] = ONLINE[rng.integers(0, len(ONLINE), drift.sum())]
    pay_day = bb.issue_day + off
    sec = pay_seconds(rng, pay_day, channel)
    # partial payments: a first part some days earlier, the rest on the final day
    p_part = np.select([cls == 3, cls == 2], [0.35, 0.15], 0.04)
    part = need & (rng.random(n) < p_part) & (rest >= 2000) & ~debit
    frac = rng.uniform(0.3, 0.7, n)
    a1 = np.clip(np.rint(rest * frac / 100) * 100, 100, rest - 100).astype(np.int64)
    d1 = bb.issue_day + np.floor(off * rng.uniform(0.0, 0.8, n)).astype(np.int64)
    s1 = pay_seconds(rng, d1, channel)
    a_main = np.where(part, rest - a1, rest)
    is_res = bb.is_res
    pen1 = penalty(a1, d1, bb.due_day, is_res)
    pen_main = penalty(a_main, pay_day, bb.due_day, is_res)
    groups.append(_group(c[part], rows[part], s1[part], channel[part], a1[part], pen1[part]))
    groups.append(_group(c[need], rows[need], sec[need], channel[need], a_main[need], pen_main[need]))
    base_main = sum(len(g["cust"]) for g in groups[:-1])
    # 3. reversals (冲正) of some main payments, paid again later the same or next day
    rev = need & ~debit & (rng.random(n) < 0.004)
    main_pos = np.cumsum(need) - 1
    r_idx = np.flatnonzero(rev)
    rsec = sec[r_idx] + rng.integers(300, 3600, len(r_idx))
    groups.append(_group(c[r_idx], r_idx, rsec, channel[r_idx], -a_main[r_idx], -pen_main[r_idx],
                         rev_of=base_main + main_pos[r_idx]))
    again = rsec + rng.integers(3600, 30 * 3600, len(r_idx))
    again_pen = penalty(a_main[r_idx], again // 86400, bb.due_day[r_idx], is_res[r_idx])
    groups.append(_group(c[r_idx], r_idx, again, channel[r_idx], a_main[r_idx], again_pen))
    payments = payment_table(groups, bb.bill_id, counters)
    final_sec = sec.copy()
    final_sec[r_idx] = again
    # 4. dunning ladder for bills paid after their due date
    final_day = final_sec // 86400
    late = need & (final_day > bb.due_day)
    ev_c, ev_row, ev_type, ev_sec = [], [], [], []
    sms_day = bb.due_day + 1 + (u[:, 0] * 3).astype(np.int64)
    m = late & (final_day > sms_day)
    ev_c.append(c[m]), ev_row.append(rows[m]), ev_type.append(np.zeros(m.sum(), np.int64))
    ev_sec.append(sms_day[m] * 86400 + 10 * 3600 + rng.integers(0, 3600, m.sum()))
    notice_day = bb.due_day + 10 + (u[:, 1] * 6).astype(np.int64)
    m = late & (final_day > notice_day)
    ev_c.append(c[m]), ev_row.append(rows[m]), ev_type.append(np.ones(m.sum(), np.int64))
    ev_sec.append(notice_day[m] * 86400 + rng.integers(9 * 3600, 17 * 3600, m.sum()))
    disc_day = bb.due_day + 30 + (u[:, 2] * 6).astype(np.int64)
    m = late & (final_day > disc_day) & (cls == 3) & ~pop.key[c] & (pop.elec[c] != C.LI) & (u[:, 3] < 0.6)
    m &= pop.disc_until[c] < disc_day
    if not normal:
        m &= False
    d_idx = np.flatnonzero(m)
    d_sec = disc_day[d_idx] * 86400 + rng.integers(9 * 3600, 16 * 3600, len(d_idx))
    r_sec = final_sec[d_idx] + rng.integers(3600, 20 * 3600, len(d_idx))
    pop.arrays["disc_until"][c[d_idx]] = r_sec // 86400
    ev_c += [c[d_idx], c[d_idx]]
    ev_row += [d_idx, d_idx]
    ev_type += [np.full(len(d_idx), 2), np.full(len(d_idx), 3)]
    ev_sec += [d_sec, r_sec]
    ec = np.concatenate(ev_c)
    dunning = None
    if len(ec):
        er = np.concatenate(ev_row)
        es = np.concatenate(ev_sec)
        ne = len(ec)
        ev_no = counters.event + np.arange(ne) + 1
        counters.event += ne
        dunning = pa.table({
            "event_id": ids("E", ev_no, 10),
            "cons_no": ids("", BASE_ID + ec, 10),
            "bill_id": bb.bill_id.take(pa.array(er)),
            "event_type": codes(np.concatenate(ev_type), C.DUNNING_TYPES),
            "event_time": ts(es),
            "operator": codes(rng.integers(0, len(C.OPERATORS), ne), C.OPERATORS),
            "_bd": pa.array((es // 86400).astype(np.int32)),
        })
    outages = arrears_outages(pop, c[d_idx], d_sec, r_sec, counters, org_tg_id)
    stats = {"balance_rows": int(ub.sum()), "partial": int(part.sum()), "reversals": int(len(r_idx)),
             "late_bills": int(late.sum()), "disconnects": int(len(d_idx))}
    return Collected(payments, dunning, outages, stats)


def outage_rows(event_no, otype, tg_id, cons, start, end, affected, notified) -> pa.Table | None:
    """Outage rows; an outage that ends on a later day is delivered open first, then again closed."""
    n = len(event_no)
    if n == 0:
        return None
    sd, ed = start // 86400, end // 86400
    later = ed > sd
    j = np.concatenate([np.arange(n), np.flatnonzero(later)])
    open_row = np.concatenate([later, np.zeros(later.sum(), bool)])
    bd = np.where(open_row, sd[j], ed[j])
    bd[: n][~later] = sd[~later]
    tg_arr = pa.array(tg_id, pa.string()).take(pa.array(j))
    cons_arr = pa.array(cons, pa.string()).take(pa.array(j))
    return pa.table({
        "event_id": ids("O", np.asarray(event_no)[j], 8),
        "outage_type": codes(np.asarray(otype)[j], C.OUTAGE_TYPES),
        "tg_id": tg_arr,
        "cons_no": cons_arr,
        "start_time": ts(start[j]),
        "end_time": ts(end[j], valid=~open_row),
        "customers_affected": pa.array(np.asarray(affected, np.int64)[j]),
        "notified_in_advance": codes(np.asarray(notified, np.int64)[j], ("N", "Y")),
        "_bd": pa.array(bd.astype(np.int32)),
    })


def arrears_outages(pop: Population, cust: np.ndarray, start: np.ndarray, end: np.ndarray, counters: Counters,
                    org_tg_id: np.ndarray) -> pa.Table | None:
    n = len(cust)
    if n == 0:
        return None
    no = counters.outage + np.arange(n) + 1
    counters.outage += n
    tg = pop.tg[cust]
    tg_id = np.where(tg >= 0, org_tg_id[np.maximum(tg, 0)], None)
    cons = [f"{BASE_ID + i}" for i in cust]
    return outage_rows(no, np.full(n, 3), tg_id, cons, start, end, np.ones(n), np.ones(n, np.int64))


def prepayments(pop: Population, rng: np.random.Generator, ms: int, me: int, counters: Counters,
                extra_cust: np.ndarray | None = None, extra_day: np.ndarray | None = None) -> pa.Table | None:
    """Prepayments (bill_id NULL) by prepaying customers whose balance runs low, and deposits at opening."""
    active = ~pop.closed & (pop.open_day < ms)
    want = active & pop.prepay & (pop.last_bill > 0) & (pop.bal < pop.last_bill * 3 // 2)
    c = np.flatnonzero(want)
    amt = (np.ceil(pop.last_bill[c] * rng.uniform(2.0, 4.0, len(c)) / 10000) * 10000).astype(np.int64)
    day = ms + 4 + rng.integers(0, max(1, min(24, me - ms - 3)), len(c))
    if extra_cust is not None and len(extra_cust):
        e_amt = np.where(pop.elec[extra_cust] == C.RES, rng.choice([10000, 20000, 30000, 50000], len(extra_cust)),
                         rng.choice([100000, 200000, 500000, 1000000], len(extra_cust)))
        c = np.concatenate([c, extra_cust])
        amt = np.concatenate([amt, e_amt])
        day = np.concatenate([day, extra_day])
    if len(c) == 0:
        return None
    np.add.at(pop.arrays["bal"], c, amt)
    ch = pop.habit[c].astype(np.int64)
    ch = np.where(ch == C.CH_BANK, C.CH_APP, ch)
    sec = pay_seconds(rng, day, ch)
    return payment_table([_group(c, np.full(len(c), -1), sec, ch, amt, np.zeros(len(c)))], None, counters)


def migrate_channels(pop: Population, rng: np.random.Generator, rate: float = 0.03) -> int:
    """Each month some counter / kiosk / agent payers switch to an online channel for good."""
    habit = pop.habit
    off = np.isin(habit, C.OFFLINE_CHANNELS) & (rng.random(len(habit)) < rate)
    i = np.flatnonzero(off)
    pop.arrays["habit"][i] = ONLINE[rng.integers(0, len(ONLINE), len(i))]
    return len(i)
