"""Service and network: 95598 work orders, surveys, outages, theft/breach cases, area supply, cost pools."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import constants as C
from . import pii
from .arrow import codes, date, dec2, ids, ts
from .billing import ReadBatch, month_of, rhu, yyyymm
from .collection import Counters, outage_rows
from .company import BASE_ID, INDUSTRY_SECTION, Org, Population
from .tariff import TariffBook

ORDER_TYPES = list(C.WO_RATES)
DEADLINE_H = {"REPAIR": 24, "COMPLAINT": 96, "REPORT": 120, "OPINION": 120, "SUGGESTION": 168, "CONSULT": 24,
              "PRAISE": 168}
L1 = list(C.COMPLAINT_CATEGORIES)
L2 = [x for v in C.COMPLAINT_CATEGORIES.values() for x in v]
L2_START = np.cumsum([0] + [len(v) for v in C.COMPLAINT_CATEGORIES.values()])[:-1]
L2_LEN = np.array([len(v) for v in C.COMPLAINT_CATEGORIES.values()])


def active_in(pop: Population, ms: int, me: int) -> np.ndarray:
    return np.flatnonzero((pop.open_day <= me) & (~pop.closed | (pop.close_day >= ms)))


def customer_names(pop: Population, cust: np.ndarray) -> pa.Array:
    is_res = pop.elec[cust] == C.RES
    sections = INDUSTRY_SECTION[np.maximum(pop.industry[cust], 0)]
    return pc.if_else(pa.array(is_res), pii.person_names(pop.seed, cust),
                      pii.business_names(pop.seed, cust, sections))


def work_orders(pop: Population, org: Org, rng: np.random.Generator, ms: int, me: int, counters: Counters,
                new_cust: np.ndarray | None = None) -> tuple[pa.Table | None, dict]:
    """95598 orders of the month; `new_cust` (new accounts) each call to ask about their connection."""
    days = me - ms + 1
    moy = int(month_of(ms)[5:7])
    act = active_in(pop, ms, me)
    if len(act) == 0:
        return None, {}
    season = 1.35 if moy in (7, 8) else 1.15 if moy in (1, 12) else 1.0
    counts = [rng.poisson(C.WO_RATES[t] * len(act) / 10000 * (season if t == "REPAIR" else 1.0)) for t in ORDER_TYPES]
    otype = np.repeat(np.arange(len(ORDER_TYPES)), counts)
    n = len(otype)
    new_cust = np.zeros(0, np.int64) if new_cust is None else np.asarray(new_cust, np.int64)
    if n + len(new_cust) == 0:
        return None, {}
    accept = (ms + rng.integers(0, days, n)) * 86400 + rng.integers(7 * 3600, 22 * 3600, n)
    cust = act[rng.integers(0, len(act), n)]
    otype = np.concatenate([otype, np.full(len(new_cust), ORDER_TYPES.index("CONSULT"))])
    cust = np.concatenate([cust, new_cust])
    accept = np.concatenate([accept, pop.open_day[new_cust] * 86400 + rng.integers(9 * 3600, 17 * 3600, len(new_cust))])
    n = len(otype)
    order = np.argsort(accept, kind="stable")
    otype, accept, cust = otype[order], accept[order], cust[order]
    names = np.array(ORDER_TYPES)[otype]
    anonymous = np.isin(names, ["REPAIR", "CONSULT", "REPORT"]) & (rng.random(n) < 0.1)
    has_cat = np.isin(names, ["COMPLAINT", "OPINION"])
    w = np.array([C.CATEGORY_WEIGHTS[k] for k in L1], dtype=float)
    l1 = rng.choice(len(L1), size=n, p=w / w.sum())
    l2 = L2_START[l1] + (rng.random(n) * L2_LEN[l1]).astype(np.int64)
    station = np.where(anonymous, rng.integers(0, len(org.station_no), n), pop.station[cust])
    org_no = org.station_no[station].astype(object)
    county_level = (names == "COMPLAINT") & (rng.random(n) < 0.08)
    org_no[county_level] = np.array(org.county_no, dtype=object)[org.station_county[station[county_level]]]
    deadline = accept + np.array([DEADLINE_H[t] for t in names]) * 3600
    span = deadline - accept
    u = rng.random(n)
    finish = np.select(
        [names == "REPAIR", names == "CONSULT", names == "COMPLAINT"],
        [accept + 1800 + rng.exponential(3 * 3600, n) * np.where(u < 0.03, 10, 1),
         accept + rng.integers(120, 4 * 3600, n),
         accept + span * rng.uniform(0.15, 1.25, n)],
        accept + span * rng.uniform(0.1, 1.1, n)).astype(np.int64)
    late = finish > deadline
    p_unsat = np.where(names == "COMPLAINT", 0.12, 0.03) + np.where(late, 0.15, 0.0)
    p_neutral = np.where(names == "COMPLAINT", 0.18, 0.09)
    r = rng.random(n)
    sat = np.where(r < p_unsat, 2, np.where(r < p_unsat + p_neutral, 1, 0))
    rated = (rng.random(n) < 0.78) & ~anonymous
    repeat = rng.random(n) < np.where(names == "COMPLAINT", 0.06, 0.02)
    escalated = (names == "COMPLAINT") & (rng.random(n) < 0.025)
    ym = yyyymm(ms)
    seq0 = counters.adjust.get(("W", ym), 0)
    counters.adjust[("W", ym)] = seq0 + n
    order_ids = ids("W" + ym, seq0 + np.arange(n) + 1, 6)
    # content as the agent typed it: caller, matter, phone; a few with a line break
    cname = customer_names(pop, cust)
    oname = pii.person_names(pop.seed + 7, np.arange(n) + seq0 + 10**9)
    caller = pc.if_else(pa.array(anonymous), oname, cname)
    mob = pc.if_else(pa.array(anonymous), pii.mobiles(pop.seed + 7, np.arange(n) + seq0 + 10**9),
                     pii.mobiles(pop.seed, cust, pop.mobile_ver[cust]))
    issue = np.empty(n, dtype=object)
    for t in sorted(set(names)):
        m = names == t
        pool = C.ISSUES_BY_TYPE[t]
        issue[m] = np.array(pool, dtype=object)[rng.integers(0, len(pool), m.sum())]
    content = pc.binary_join_element_wise("客户", caller, "来电反映", pa.array(issue, pa.string()), "，联系电话", mob, "。", "")
    multiline = (rng.random(n) < 0.005) | ((np.arange(n) == 0) & (moy == 2))
    if multiline.any():
        content = pc.if_else(pa.array(multiline), pc.binary_join_element_wise(content, "\n补充：请尽快处理。", ""),
                             content)
    fin_day, acc_day = finish // 86400, accept // 86400
    two = fin_day > acc_day
    j = np.concatenate([np.arange(n), np.flatnonzero(two)])
    is_open = np.concatenate([two, np.zeros(two.sum(), bool)])
    bd = np.where(is_open, acc_day[j], fin_day[j])
    cons = ids("", BASE_ID + cust, 10, valid=~anonymous)
    t = pa.table({
        "order_id": order_ids.take(pa.array(j)),
        "cons_no": cons.take(pa.array(j)),
        "accept_time": ts(accept[j]),
        "channel": codes(rng.choice(4, size=n, p=[0.6, 0.05, 0.2, 0.15])[j], C.WO_CHANNELS),
        "order_type": codes(otype[j], ORDER_TYPES),
        "category_l1": codes(l1[j], L1, valid=has_cat[j]),
        "category_l2": codes(l2[j], L2, valid=has_cat[j]),
        "org_no": pa.array(org_no[j], pa.string()),
        "content": content.take(pa.array(j)),
        "deadline_time": ts(deadline[j]),
        "finish_time": ts(finish[j], valid=~is_open),
        "is_repeat": codes(repeat[j].astype(np.int8), ("N", "Y")),
        "is_escalated": codes(escalated[j].astype(np.int8), ("N", "Y")),
        "satisfaction": codes(sat[j], C.SATISFACTION, valid=rated[j] & ~is_open),
        "_bd": pa.array(bd.astype(np.int32)),
    })
    follow = {"cust": cust[~anonymous], "finish_day": fin_day[~anonymous], "unsat": (sat == 2)[~anonymous] & rated[~anonymous]}
    return t, follow


def surveys(pop: Population, rng: np.random.Generator, ms: int, me: int, follow: dict, counters: Counters) -> pa.Table | None:
    days = me - ms + 1
    act = active_in(pop, ms, me)
    fc = follow.get("cust", np.zeros(0, np.int64))
    pick = rng.random(len(fc)) < 0.5
    f_cust = fc[pick]
    f_day = follow["finish_day"][pick] + rng.integers(1, 4, pick.sum()) if len(fc) else np.zeros(0, np.int64)
    f_unsat = follow["unsat"][pick] if len(fc) else np.zeros(0, bool)
    n_s = int(rng.poisson(15 * len(act) / 10000)) if len(act) else 0
    s_cust = act[rng.integers(0, len(act), n_s)] if n_s else np.zeros(0, np.int64)
    s_day = ms + rng.integers(0, days, n_s)
    cust = np.concatenate([f_cust, s_cust]).astype(np.int64)
    day = np.concatenate([f_day, s_day]).astype(np.int64)
    unsat = np.concatenate([f_unsat, np.zeros(n_s, bool)])
    n = len(cust)
    if n == 0:
        return None
    order = np.argsort(day, kind="stable")
    cust, day, unsat = cust[order], day[order], unsat[order]
    latent = pop.happy[cust] + rng.normal(0, 0.6, n) - 2.0 * unsat
    scores = np.clip(np.rint(latent[:, None] + rng.normal(0, 0.8, (n, 5))), 1, 10).astype(np.int64)
    answered = rng.random((n, 5)) >= np.array([0.08, 0.1, 0.08, 0.12, 0.03])
    ym = yyyymm(ms)
    seq0 = counters.adjust.get(("S", ym), 0)
    counters.adjust[("S", ym)] = seq0 + n
    comment = rng.integers(0, len(C.SURVEY_COMMENTS), n)
    cols = {"survey_id": ids("S" + ym, seq0 + np.arange(n) + 1, 6), "cons_no": ids("", BASE_ID + cust, 10),
            "survey_date": date(day), "channel": codes(rng.choice(3, size=n, p=[0.5, 0.35, 0.15]), C.SURVEY_CHANNELS)}
    for k, name in enumerate(("score_supply", "score_billing", "score_service", "score_channel", "score_overall")):
        cols[name] = pa.array(scores[:, k], mask=~answered[:, k])
    cols["comment"] = codes(comment, C.SURVEY_COMMENTS, valid=rng.random(n) < 0.4)
    cols["_bd"] = pa.array(day.astype(np.int32))
    return pa.table(cols)


def outages(pop: Population, org: Org, rng: np.random.Generator, ms: int, me: int, counters: Counters) -> pa.Table | None:
    days = me - ms + 1
    moy = int(month_of(ms)[5:7])
    act = active_in(pop, ms, me)
    tg = pop.tg[act]
    per_area = np.bincount(tg[tg >= 0], minlength=len(org.tg_id))
    na = len(org.tg_id)
    peak = moy in (1, 7, 8, 12)
    p = np.array([0.025, 0.04 * (1.3 if peak else 1.0), 0.05 if peak else 0.0])
    hit = rng.random((na, 3)) < p[None, :]
    area, kind = np.nonzero(hit)
    dedicated = act[(pop.tg[act] < 0)]
    ded = dedicated[rng.random(len(dedicated)) < 0.02]
    n = len(area) + len(ded)
    if n == 0:
        return None
    otype = np.concatenate([kind, np.ones(len(ded), np.int64)])
    day = ms + rng.integers(0, days, n)
    start_h = np.select([otype == 0, otype == 2], [rng.integers(7, 10, n), rng.choice([10, 17, 18], n)],
                        rng.integers(0, 24, n))
    dur_h = np.select([otype == 0, otype == 2], [rng.uniform(4, 10, n), rng.uniform(2, 4, n)], rng.uniform(0.5, 6, n))
    start = day * 86400 + start_h * 3600
    end = start + (dur_h * 3600).astype(np.int64)
    tg_id = np.concatenate([org.tg_id[area], np.full(len(ded), None, dtype=object)])
    cons = np.concatenate([np.full(len(area), None, dtype=object),
                           np.array([str(BASE_ID + i) for i in ded], dtype=object)])
    affected = np.concatenate([per_area[area], np.ones(len(ded), np.int64)])
    notified = np.where(otype == 0, 1, np.where(otype == 2, rng.random(n) < 0.6, 0)).astype(np.int64)
    order = np.argsort(start, kind="stable")
    no = counters.outage + np.arange(n) + 1
    counters.outage += n
    return outage_rows(no, otype[order], tg_id[order], cons[order], start[order], end[order], affected[order],
                       notified[order])


def violations(pop: Population, org: Org, book: TariffBook, version: int, rng: np.random.Generator, ms: int, me: int,
               counters: Counters) -> pa.Table | None:
    days = me - ms + 1
    act = active_in(pop, ms, me)
    if len(act) == 0:
        return None
    n_theft = int(rng.poisson(0.35 * len(act) / 10000))
    high = act[(pop.tg[act] >= 0) & (org.tg_loss[np.maximum(pop.tg[act], 0)] > 0.1)]
    in_high = rng.random(n_theft) < 0.75
    theft = np.where(in_high & (len(high) > 0), high[rng.integers(0, max(len(high), 1), n_theft)] if len(high) else 0,
                     act[rng.integers(0, len(act), n_theft)])
    biz = act[pop.elec[act] != C.RES]
    n_breach = int(rng.poisson(0.5 * len(act) / 10000)) if len(biz) else 0
    breach = biz[rng.integers(0, len(biz), n_breach)] if n_breach else np.zeros(0, np.int64)
    cust = np.concatenate([theft, breach]).astype(np.int64)
    n = len(cust)
    if n == 0:
        return None
    ctype = np.concatenate([np.zeros(n_theft, np.int64), np.ones(n_breach, np.int64)])
    is_res = pop.elec[cust] == C.RES
    kwh = np.where(ctype == 0, np.where(is_res, rng.integers(300, 3000, n), rng.integers(2000, 30000, n)), 0) * 100
    price = book.energy[version, pop.tariff[cust], np.where(np.isin(pop.elec[cust], [C.CI, C.LI]), 5, 0)]
    recovered = rhu(kwh * price, 1_000_000)
    pen = np.where(ctype == 0, 3 * recovered, rng.choice([500, 800, 1000, 2000, 5000], n) * 100)
    day = ms + rng.integers(0, days, n)
    order = np.argsort(day, kind="stable")
    no = counters.case + np.arange(n) + 1
    counters.case += n
    return pa.table({
        "case_id": ids("V", no, 8), "cons_no": ids("", BASE_ID + cust[order], 10),
        "case_type": codes(ctype[order], ("THEFT", "BREACH")), "found_date": date(day[order]),
        "recovered_kwh": dec2(kwh[order]), "recovered_amount": dec2(recovered[order]), "penalty_amount": dec2(pen[order]),
        "_bd": pa.array(day[order].astype(np.int32)),
    })


def supply(org: Org, batch: ReadBatch, rng: np.random.Generator, me: int, prev: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    na = len(org.tg_id)
    tg = batch.tg
    m = tg >= 0
    sales = np.bincount(tg[m], weights=batch.total[m].astype(float), minlength=na)
    noise = np.where(org.tg_loss > 0.1, rng.normal(0, 0.02, na), rng.normal(0, 0.008, na))
    loss = np.clip(org.tg_loss + noise, -0.12, 0.6)
    sup = np.rint(sales / (1.0 - loss)).astype(np.int64)
    empty = sales <= 0
    sup[empty] = (rng.uniform(50, 400, na) * 100).astype(np.int64)[empty]
    est = (rng.random(na) < 0.01) & (prev > 0)
    sup[est] = np.rint(prev[est] * rng.uniform(0.85, 1.1, est.sum())).astype(np.int64)
    t = pa.table({"tg_id": pa.array(org.tg_id, pa.string()),
                  "billing_month": codes(np.zeros(na, np.int8), (month_of(batch.month_start),)),
                  "supply_kwh": dec2(sup), "is_estimated": codes(est.astype(np.int8), ("N", "Y")),
                  "_bd": pa.array(np.full(na, me, np.int32))})
    return t, sup


MARKETING_PER_CUSTOMER = 350  # cents a month
OPERATING_PER_KWH = 0.015  # yuan per kWh


def cost(org: Org, batch: ReadBatch, rng: np.random.Generator, me: int) -> pa.Table:
    ns = len(org.station_no)
    billed = np.bincount(batch.station, minlength=ns)
    kwh = np.bincount(batch.station, weights=batch.total.astype(float), minlength=ns)
    mk = np.rint(billed * MARKETING_PER_CUSTOMER * rng.uniform(0.85, 1.15, ns)).astype(np.int64)
    op = np.rint(kwh * OPERATING_PER_KWH * rng.uniform(0.85, 1.15, ns)).astype(np.int64)
    return pa.table({"org_no": pa.array(org.station_no, pa.string()),
                     "billing_month": codes(np.zeros(ns, np.int8), (month_of(batch.month_start),)),
                     "marketing_cost": dec2(mk), "operating_cost": dec2(op), "_bd": pa.array(np.full(ns, me, np.int32))})
