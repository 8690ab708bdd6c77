"""The supply company: org tree, transformer areas and the customer population with its deltas."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import constants as C
from . import pii
from .arrow import codes, date, dec2, ids, ts
from .tariff import CODES, T_ELEC, T_VOLT

INDUSTRY_CODES = tuple(dict.fromkeys(c for c, _ in C.CI_INDUSTRIES + C.LI_INDUSTRIES + C.AGRI_INDUSTRIES))
INDUSTRY_SECTION = np.array([c[0] for c in INDUSTRY_CODES], dtype=object)
INDUSTRY_GROWTH = np.array([C.SECTION_GROWTH.get(c[0], 0.03) for c in INDUSTRY_CODES])
STD_KVA = np.array([10, 16, 20, 25, 32, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000,
                    1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000, 20000])
SEASON = np.array([
    [1.30, 1.20, 1.00, 0.85, 0.85, 1.05, 1.45, 1.50, 1.10, 0.85, 0.90, 1.15],  # residential
    [1.00, 0.85, 1.00, 0.95, 1.00, 1.08, 1.20, 1.22, 1.05, 0.98, 0.97, 1.02],  # C&I
    [0.98, 0.80, 1.00, 1.02, 1.03, 1.03, 1.06, 1.06, 1.03, 1.01, 1.00, 0.98],  # large industry
    [0.50, 0.50, 0.80, 1.00, 1.30, 1.60, 1.90, 1.80, 1.20, 0.80, 0.50, 0.50],  # agricultural
])
# habitual payment channel mix at the start (online grows over time), residential / business
CHANNEL_MIX = {
    "res": [0.15, 0.04, 0.18, 0.22, 0.15, 0.08, 0.05, 0.07, 0.06],
    "biz": [0.22, 0.08, 0.18, 0.06, 0.04, 0.30, 0.02, 0.02, 0.08],
}
BASE_ID = 3_100_000_001


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, *keys]))


def weighted(rng: np.random.Generator, pairs, n: int) -> np.ndarray:
    w = np.array([p[1] for p in pairs], dtype=float)
    return rng.choice(len(pairs), size=n, p=w / w.sum())


def std_kva(raw: np.ndarray) -> np.ndarray:
    i = np.searchsorted(STD_KVA, np.maximum(raw, STD_KVA[0]))
    return STD_KVA[np.minimum(i, len(STD_KVA) - 1)]


@dataclass
class Org:
    company_no: str
    county_no: list[str]
    county_name: list[str]
    station_no: np.ndarray  # object
    station_name: np.ndarray
    station_county: np.ndarray
    station_town: np.ndarray  # object (town name)
    tg_id: np.ndarray  # object
    tg_station: np.ndarray
    tg_kva: np.ndarray  # int kVA
    tg_loss: np.ndarray  # base loss rate
    station_tgs: list[np.ndarray] = field(default_factory=list)

    def table(self, bd: int) -> pa.Table:
        nc, ns, nt = len(self.county_no), len(self.station_no), len(self.tg_id)
        org_no = [self.company_no] + self.county_no + list(self.station_no) + list(self.tg_station_no())
        names = ([f"{C.CITY}供电公司"] + [f"{n}县供电分公司" for n in self.county_name] + list(self.station_name)
                 + [None] * nt)
        parent = [None] + [self.company_no] * nc + [self.county_no[c] for c in self.station_county] + [None] * nt
        level = [1] + [2] * nc + [3] * ns + [3] * nt
        tg = [None] * (1 + nc + ns) + list(self.tg_id)
        tg_name = [None] * (1 + nc + ns) + [f"{self.station_town[s]}{i % 1000:03d}号台区"
                                            for i, s in zip(range(1, nt + 1), self.tg_station, strict=True)]
        kva = np.concatenate([np.zeros(1 + nc + ns, np.int64), self.tg_kva.astype(np.int64) * 100])
        valid = np.concatenate([np.zeros(1 + nc + ns, bool), np.ones(nt, bool)])
        n = len(org_no)
        return pa.table({"org_no": pa.array(org_no, pa.string()), "org_name": pa.array(names, pa.string()),
                         "parent_org_no": pa.array(parent, pa.string()), "org_level": pa.array(level, pa.int64()),
                         "tg_id": pa.array(tg, pa.string()), "tg_name": pa.array(tg_name, pa.string()),
                         "tg_capacity_kva": dec2(kva, valid), "_bd": pa.array(np.full(n, bd, np.int32))})

    def tg_station_no(self) -> np.ndarray:
        return self.station_no[self.tg_station]


def build_org(seed: int, customers: int, station_share: np.ndarray | None = None) -> Org:
    rng = rng_for(seed, 1, 0)
    n_st = int(np.clip(round(customers / 2500), 3, 400))
    n_co = int(np.clip(int(np.ceil(n_st / 7)), 2, len(C.COUNTIES)))
    company = "33501"
    county_no = [f"{company}{c + 1:02d}" for c in range(n_co)]
    county_name = [C.COUNTIES[c] for c in range(n_co)]
    st_county = np.sort(np.arange(n_st) % n_co)
    st_no, st_name, st_town = [], [], []
    for c in range(n_co):
        members = np.flatnonzero(st_county == c)
        for j, _s in enumerate(members):
            town = C.TOWNS[(j + 3 * c) % len(C.TOWNS)]
            st_no.append(f"{county_no[c]}{j + 1:02d}")
            st_name.append(f"{county_name[c]}{town}供电所")
            st_town.append(town)
    weights = rng.lognormal(0.0, 0.35, n_st)
    weights /= weights.sum()
    tg_station, tg_kva = [], []
    for s in range(n_st):
        n_areas = max(2, int(round(customers * weights[s] * 0.9 / 130)))
        tg_station += [s] * n_areas
        tg_kva += list(rng.choice([200, 315, 400, 500, 630, 800], size=n_areas, p=[.1, .25, .25, .2, .15, .05]))
    tg_station = np.array(tg_station)
    tg_id = np.empty(len(tg_station), dtype=object)
    for s in range(n_st):
        m = np.flatnonzero(tg_station == s)
        tg_id[m] = [f"{st_no[s]}{i + 1:03d}" for i in range(len(m))]
    kind = rng.choice(3, size=len(tg_station), p=[0.90, 0.07, 0.03])
    for want, at in ((1, 1), (2, 2)):  # at least one high-loss and one negative-loss area
        if not (kind == want).any():
            kind[at % len(kind)] = want
    loss = np.where(kind == 0, np.clip(rng.normal(0.05, 0.013, len(kind)), 0.022, 0.078),
                    np.where(kind == 1, rng.uniform(0.11, 0.22, len(kind)), rng.uniform(-0.06, -0.015, len(kind))))
    org = Org(company, county_no, county_name, np.array(st_no, dtype=object), np.array(st_name, dtype=object),
              st_county, np.array(st_town, dtype=object), tg_id, tg_station, np.array(tg_kva), loss)
    org.station_tgs = [np.flatnonzero(tg_station == s) for s in range(n_st)]
    org.station_weight = weights  # type: ignore[attr-defined]
    return org


ARRAYS = ("elec", "volt", "tariff", "kva", "industry", "station", "tg", "key", "closed", "open_day", "close_day",
          "base_kwh", "growth", "pf", "lf", "mult", "digits", "cls", "habit", "prepay", "bal", "last_bill",
          "disc_until", "mobile_ver", "happy", "master_day")


@dataclass
class Population:
    seed: int
    n: int = 0
    arrays: dict = field(default_factory=dict)
    reg: np.ndarray | None = None  # register values (register cents), [customer, period]
    lag: np.ndarray | None = None  # true minus billed register advance after estimates

    def __getattr__(self, name):  # arrays by attribute
        arrays = self.__dict__.get("arrays")
        if arrays is not None and name in arrays:
            return arrays[name][: self.__dict__["n"]]
        raise AttributeError(name)

    def append(self, new: dict, reg: np.ndarray) -> np.ndarray:
        m = len(new["elec"])
        start = self.n
        for k in ARRAYS:
            v = np.asarray(new[k])
            if k not in self.arrays:
                self.arrays[k] = v.copy()
            else:
                self.arrays[k] = np.concatenate([self.arrays[k][: self.n], v])
        self.reg = reg.copy() if self.reg is None else np.concatenate([self.reg[: self.n], reg])
        self.lag = np.zeros_like(self.reg) if self.lag is None else np.concatenate(
            [self.lag[: self.n], np.zeros_like(reg)])
        self.n += m
        return np.arange(start, start + m)

    def set(self, name: str, idx: np.ndarray, values) -> None:
        self.arrays[name][idx] = values


def make_customers(rng: np.random.Generator, org: Org, n: int, elec_p, open_days: np.ndarray) -> tuple[dict, np.ndarray]:
    """Attributes of n new customers (vectorised)."""
    elec = rng.choice(4, size=n, p=elec_p)
    u = rng.random((n, 8))
    volt = np.full(n, C.V220)
    kva = np.zeros(n)
    base = np.zeros(n)
    industry = np.full(n, -1)
    is_res, is_ci, is_li, is_ag = (elec == C.RES), (elec == C.CI), (elec == C.LI), (elec == C.AGRI)
    # residential: some vacant homes, the rest lognormal around 240 kWh a month
    vacant = is_res & (u[:, 0] < 0.115)
    base[is_res] = rng.lognormal(np.log(235), 0.55, n)[is_res]
    base[vacant] = rng.uniform(0.0, 14.0, n)[vacant]
    volt[is_res & (u[:, 1] < 0.07)] = C.V380
    kva[is_res] = np.where(volt[is_res] == C.V220, rng.choice([4, 6, 8, 10, 12], size=n)[is_res],
                           rng.choice([10, 15, 20], size=n)[is_res])
    # commercial & industrial (single-part): heavy-tailed volumes
    base[is_ci] = rng.lognormal(np.log(1100), 1.25, n)[is_ci]
    kva[is_ci] = std_kva(base[is_ci] / rng.uniform(120, 300, n)[is_ci])
    volt[is_ci] = np.where(kva[is_ci] >= 160, C.K10, C.V380)
    # large industry (two-part)
    li_kva = rng.choice(STD_KVA[14:30], size=n, p=_li_kva_p())
    kva[is_li] = li_kva[is_li]
    volt[is_li] = np.where(kva[is_li] >= 10000, np.where(u[is_li, 2] < 0.3, C.K110, C.K35),
                           np.where(kva[is_li] >= 5000, C.K35, C.K10))
    base[is_li] = kva[is_li] * rng.lognormal(np.log(40), 0.4, n)[is_li]
    # agricultural
    kva[is_ag] = rng.choice([20, 30, 50, 80, 100, 160, 200], size=n, p=[.2, .2, .2, .15, .1, .1, .05])[is_ag]
    volt[is_ag] = np.where(kva[is_ag] >= 160, C.K10, C.V380)
    base[is_ag] = kva[is_ag] * rng.lognormal(np.log(24), 0.6, n)[is_ag]
    industry[is_ci] = [INDUSTRY_CODES.index(C.CI_INDUSTRIES[i][0]) for i in weighted(rng, C.CI_INDUSTRIES, n)[is_ci]]
    industry[is_li] = [INDUSTRY_CODES.index(C.LI_INDUSTRIES[i][0]) for i in weighted(rng, C.LI_INDUSTRIES, n)[is_li]]
    industry[is_ag] = [INDUSTRY_CODES.index(C.AGRI_INDUSTRIES[i][0])
                       for i in weighted(rng, C.AGRI_INDUSTRIES, n)[is_ag]]
    tariff = tariff_of(elec, volt)
    station = rng.choice(len(org.station_no), size=n, p=org.station_weight)
    dedicated = is_li & ((volt >= C.K35) | (u[:, 3] < 0.4))
    tg = np.full(n, -1)
    for s in np.unique(station):
        m = (station == s) & ~dedicated
        tgs = org.station_tgs[s]
        tg[m] = tgs[rng.integers(0, len(tgs), m.sum())]
    key = (is_li & (u[:, 4] < 0.6)) | (is_ci & (kva >= 400) & (u[:, 4] < 0.5))
    growth = np.where(industry >= 0, INDUSTRY_GROWTH[np.maximum(industry, 0)], 0.025) + rng.normal(0, 0.03, n)
    pf = np.where(is_res, rng.uniform(0.93, 0.99, n), np.where(is_ag, rng.uniform(0.76, 0.92, n),
                                                                 rng.uniform(0.82, 0.975, n)))
    lf = np.where(is_li, rng.uniform(0.45, 0.75, n), rng.uniform(0.25, 0.6, n))
    mult = np.ones(n, dtype=np.int64)
    mult[is_ci & (kva >= 100)] = rng.choice([20, 30, 40, 50], size=n)[is_ci & (kva >= 100)]
    mult[is_li] = rng.choice([40, 60, 80, 100, 200], size=n)[is_li]
    mult[is_ag & (kva >= 100)] = 30
    digits = np.where(is_res, np.where(u[:, 5] < 0.6, 5, 6), np.where(is_li, 8, 6)).astype(np.int64)
    cls = rng.choice(4, size=n, p=[0.755, 0.165, 0.062, 0.018])
    cls[~is_res & (cls == 3) & (u[:, 6] < 0.5)] = 1
    res_habit = rng.choice(9, size=n, p=CHANNEL_MIX["res"])
    biz_habit = rng.choice(9, size=n, p=CHANNEL_MIX["biz"])
    habit = np.where(is_res, res_habit, biz_habit)
    prepay = u[:, 7] < np.select([is_res, is_ci, is_li], [0.09, 0.22, 0.15], 0.05)
    # registers: uniform, some close to the top so that they roll over during the run
    n_per = 5
    top = (10.0 ** digits) * 100
    reg = (rng.random((n, n_per)) * top[:, None]).astype(np.int64)
    near = rng.random((n, n_per)) < 0.03
    monthly = np.maximum(base / np.maximum(mult, 1) * 100, 100)[:, None] * rng.uniform(0.2, 2.5, (n, n_per))
    reg = np.where(near, (top[:, None] - monthly).astype(np.int64), reg)
    reg = np.clip(reg, 0, top[:, None].astype(np.int64) - 1)
    happy = rng.normal(8.6, 0.9, n)
    new = {"elec": elec.astype(np.int8), "volt": volt.astype(np.int8), "tariff": tariff.astype(np.int8),
           "kva": kva.astype(np.int64) * 100, "industry": industry.astype(np.int16), "station": station.astype(np.int32),
           "tg": tg.astype(np.int32), "key": key, "closed": np.zeros(n, bool), "open_day": open_days.astype(np.int64),
           "close_day": np.full(n, -1, np.int64), "base_kwh": base, "growth": growth, "pf": pf, "lf": lf,
           "mult": mult, "digits": digits, "cls": cls.astype(np.int8), "habit": habit.astype(np.int8),
           "prepay": prepay, "bal": np.zeros(n, np.int64), "last_bill": np.zeros(n, np.int64),
           "disc_until": np.full(n, -1, np.int64), "mobile_ver": np.zeros(n, np.int64), "happy": happy,
           "master_day": np.zeros(n, np.int64)}
    return new, reg


def _li_kva_p() -> np.ndarray:
    p = np.array([30, 22, 15, 10, 7, 5, 3, 2.5, 1.5, 1.2, 0.9, 0.6, 0.5, 0.4, 0.25, 0.15], dtype=float)
    return p / p.sum()


def tariff_of(elec: np.ndarray, volt: np.ndarray) -> np.ndarray:
    out = np.zeros(len(elec), dtype=np.int64)
    for t in range(len(CODES)):
        out[(elec == T_ELEC[t]) & (volt == T_VOLT[t])] = t
    # voltages without their own tariff fall back to the nearest one of the category
    for e, v, code in ((C.RES, C.K10, "R-V380"), (C.CI, C.K35, "C-K10"), (C.CI, C.K110, "C-K10"),
                       (C.AGRI, C.K35, "A-K10"), (C.LI, C.V380, "I-K10"), (C.CI, C.V220, "C-V380")):
        out[(elec == e) & (volt == v)] = CODES.index(code)
    return out


def cust_table(pop: Population, org: Org, idx: np.ndarray, updated_sec: np.ndarray, bd: np.ndarray) -> pa.Table:
    """Customer-master rows for customers idx in their current state."""
    seed = pop.seed
    idx = np.asarray(idx, dtype=np.int64)
    elec = pop.elec[idx]
    is_res = elec == C.RES
    station = pop.station[idx]
    county = org.station_county[station]
    county_name = pa.array(np.array(org.county_name, dtype=object)[county], pa.string())
    town = pa.array(org.station_town[station], pa.string())
    ind = pop.industry[idx]
    sections = INDUSTRY_SECTION[np.maximum(ind, 0)]
    region = 330700 + county * 10 + (idx % 7)
    names = pc.if_else(pa.array(is_res), pii.person_names(seed, idx), pii.business_names(seed, idx, sections))
    cert = pc.if_else(pa.array(is_res), pii.resident_ids(seed, idx, region), pii.credit_codes(seed, idx, region))
    urban = is_res & (pii.hashes(seed, idx, 11) % np.uint64(10) < np.uint64(6))
    tg = pop.tg[idx]
    closed = pop.closed[idx]
    ind_codes = np.array(INDUSTRY_CODES, dtype=object)
    return pa.table({
        "cons_no": ids("", BASE_ID + idx, 10),
        "cons_name": names,
        "cert_no": cert,
        "mobile": pii.mobiles(seed, idx, pop.mobile_ver[idx]),
        "address": pii.addresses(seed, idx, county_name, town, urban),
        "elec_type": codes(elec, C.ELEC_TYPES),
        "voltage": codes(pop.volt[idx], C.VOLTAGES),
        "contract_kva": dec2(pop.kva[idx]),
        "industry_code": pa.array(np.where(ind >= 0, ind_codes[np.maximum(ind, 0)], None), pa.string()),
        "org_no": pa.array(org.station_no[station], pa.string()),
        "tg_id": pa.array(np.where(tg >= 0, org.tg_id[np.maximum(tg, 0)], None), pa.string()),
        "tariff_code": codes(pop.tariff[idx], CODES),
        "is_key_account": codes(pop.key[idx].astype(np.int64), ("N", "Y")),
        "status": codes(closed.astype(np.int64), ("ACTIVE", "CLOSED")),
        "open_date": date(pop.open_day[idx]),
        "close_date": date(np.maximum(pop.close_day[idx], 0), valid=closed),
        "updated_at": ts(updated_sec),
        "_bd": pa.array(np.asarray(bd, dtype=np.int32)),
    })


def month_changes(pop: Population, org: Org, rng: np.random.Generator, ms: int, me: int,
                  n_initial: int) -> dict:
    """Closures, capacity/tariff changes, moves and contact changes in one month, plus new accounts.

    Returns the customer indices touched with the second of their change, and the new accounts.
    """
    days = me - ms + 1
    n = pop.n
    active = ~pop.closed & (pop.open_day < ms)
    elec = pop.elec
    u = rng.random(n)
    p_close = np.select([elec == C.RES, elec == C.CI, elec == C.LI], [0.0010, 0.0030, 0.0012], 0.002)
    close = active & (u < p_close)
    p_change = np.where(close, 0, 0.0045)
    change = active & ~close & (rng.random(n) < p_change)
    kind = rng.random(n)
    day = ms + rng.integers(0, days, n)
    sec = day * 86400 + rng.integers(8 * 3600, 18 * 3600, n)
    touched = np.flatnonzero(close | change)
    # closures
    ci = np.flatnonzero(close)
    pop.set("closed", ci, True)
    pop.set("close_day", ci, day[ci])
    # changes: 0 capacity, 1 residential voltage, 2 move, 3 contact, 4 key-account flag
    biz = elec != C.RES
    cap = change & biz & (kind < 0.45)
    res_up = change & ~biz & (kind < 0.08)
    move = change & (pop.tg >= 0) & (kind >= 0.45) & (kind < 0.55)
    keyflip = change & biz & (kind >= 0.55) & (kind < 0.62)
    contact = change & ~cap & ~res_up & ~move & ~keyflip
    i = np.flatnonzero(cap)
    if len(i):
        factor = rng.choice([1.25, 1.6, 2.0, 0.8], size=len(i), p=[.35, .3, .15, .2])
        new_kva = std_kva(pop.kva[i] / 100 * factor)
        pop.set("base_kwh", i, pop.base_kwh[i] * (new_kva / np.maximum(pop.kva[i] / 100, 1)) ** 0.8)
        pop.set("kva", i, new_kva.astype(np.int64) * 100)
        e = pop.elec[i].copy()
        to_li = (e == C.CI) & (new_kva >= 315) & (rng.random(len(i)) < 0.5)
        e[to_li] = C.LI
        v = pop.volt[i].copy()
        v[(e == C.CI)] = np.where(new_kva[e == C.CI] >= 160, C.K10, C.V380)
        v[to_li] = C.K10
        pop.set("elec", i, e)
        pop.set("volt", i, v)
        pop.set("tariff", i, tariff_of(e, v))
        mult = pop.mult[i].copy()
        mult[to_li] = 50
        pop.set("mult", i, mult)
        dg = pop.digits[i].copy()
        dg[to_li] = 8
        pop.set("digits", i, dg)
        pop.reg[i[to_li]] = 0
    i = np.flatnonzero(res_up)
    if len(i):
        pop.set("volt", i, C.V380)
        pop.set("kva", i, 1500)
        pop.set("tariff", i, tariff_of(pop.elec[i], pop.volt[i]))
    i = np.flatnonzero(move)
    for s in np.unique(pop.station[i]):
        j = i[pop.station[i] == s]
        tgs = org.station_tgs[s]
        pop.set("tg", j, tgs[rng.integers(0, len(tgs), len(j))])
    i = np.flatnonzero(keyflip)
    pop.set("key", i, ~pop.key[i])
    i = np.flatnonzero(contact)
    pop.set("mobile_ver", i, pop.mobile_ver[i] + 1)
    # new accounts
    n_new = int(rng.poisson(n_initial * 0.0022))
    open_days = ms + rng.integers(0, days, n_new)
    new, reg = make_customers(rng, org, n_new, [0.80, 0.16, 0.01, 0.03], open_days)
    new["bal"] = np.zeros(n_new, np.int64)
    late = rng.random(n_new) < 0.08
    master = open_days.copy()
    master[late] = me + rng.integers(3, 21, late.sum())
    new["master_day"] = master
    new_idx = pop.append(new, reg)
    open_sec = open_days * 86400 + rng.integers(8 * 3600, 18 * 3600, n_new)
    return {"touched": touched, "touched_sec": sec[touched], "touched_day": day[touched],
            "new": new_idx, "new_sec": open_sec, "new_master_day": master}
