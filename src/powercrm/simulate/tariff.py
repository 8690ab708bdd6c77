"""The tariff table: codes, components and yearly price versions (电价表)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import constants as C
from .arrow import date, dec2, dec6

# code, elec type, voltage, T&D price (micro-yuan/kWh), basic charge kind (0 none, 1 kVA, 2 kW)
TARIFFS = (
    ("R-V220", C.RES, C.V220, 160_000, 0),
    ("R-V380", C.RES, C.V380, 150_000, 0),
    ("C-V380", C.CI, C.V380, 205_000, 0),
    ("C-K10", C.CI, C.K10, 185_000, 0),
    ("I-K10", C.LI, C.K10, 135_000, 2),
    ("I-K35", C.LI, C.K35, 115_000, 1),
    ("I-K110", C.LI, C.K110, 95_000, 1),
    ("A-V380", C.AGRI, C.V380, 120_000, 0),
    ("A-K10", C.AGRI, C.K10, 105_000, 0),
)
CODES = tuple(t[0] for t in TARIFFS)
T_ELEC = np.array([t[1] for t in TARIFFS])
T_VOLT = np.array([t[2] for t in TARIFFS])
T_TD = np.array([t[3] for t in TARIFFS], dtype=np.int64)
T_BASIC_KIND = np.array([t[4] for t in TARIFFS])
BASIC_PRICE = {1: 26_000_000, 2: 41_600_000}  # yuan per kVA / per kW a month, in micro-yuan

# energy slots: residential tiers on period ALL, then time-of-use periods
SLOT_PERIOD = (0, 0, 0, 1, 2, 3, 4)  # index into C.TOU
SLOT_TIER = (1, 2, 3, 1, 1, 1, 1)
TIER_FLOOR_KWH = (0, 230, 400)
RES_PRICE = {C.V220: (538_000, 588_000, 838_000), C.V380: (528_000, 578_000, 828_000)}
TOU_MULT = {1: 1.9, 2: 1.6, 3: 1.0, 4: 0.45}
PERIODS_BY_ELEC = {C.RES: (0,), C.CI: (2, 3, 4), C.LI: (1, 2, 3, 4), C.AGRI: (0,)}

FUNDS = ("可再生能源电价附加", "国家重大水利工程建设基金", "大中型水库移民后期扶持基金")
FUND_PRICE = {C.RES: (1_000, 1_800, 6_200), C.CI: (19_000, 1_800, 6_200), C.LI: (19_000, 1_800, 6_200),
              C.AGRI: (0, 0, 6_200)}
# purchase price factor of each yearly version (agency purchase price moves with the market)
PURCHASE_FACTOR = (1.0, 0.984, 1.012, 0.978, 1.006, 0.991, 1.018, 0.987)
BASE_PURCHASE = {C.RES: 300_000, C.AGRI: 330_000, C.CI: 445_000, C.LI: 445_000}
SYSTEM_PRICE = {C.RES: 15_000, C.AGRI: 15_000, C.CI: 20_000, C.LI: 20_000}
N_VERSIONS = 64


def _r4(micro: float) -> int:
    """Round a micro-yuan price to 4 decimals (100 micro), half up."""
    return int(np.floor(micro / 100.0 + 0.5)) * 100


@dataclass
class TariffBook:
    start_year: int
    energy: np.ndarray  # [version, tariff, slot] micro-yuan per kWh (0 = not offered)
    basic: np.ndarray  # [version, tariff]
    fund: np.ndarray  # [version, tariff, fund]
    purchase: np.ndarray  # [version, tariff]
    loss: np.ndarray
    system: np.ndarray
    td: np.ndarray

    @property
    def cost(self) -> np.ndarray:
        """PURCHASE + LOSS + SYSTEM: what the company pays per kWh."""
        return self.purchase + self.loss + self.system

    def version_of(self, year: int) -> int:
        return int(min(max(0, year - self.start_year), N_VERSIONS - 1))

    def valid_from(self, version: int) -> dt.date:
        if version == 0:
            return dt.date(self.start_year - 1, 7, 1)
        return dt.date(self.start_year + version, 1, 1)


def build_book(start_year: int) -> TariffBook:
    nt = len(TARIFFS)
    energy = np.zeros((N_VERSIONS, nt, 7), dtype=np.int64)
    basic = np.zeros((N_VERSIONS, nt), dtype=np.int64)
    fund = np.zeros((N_VERSIONS, nt, 3), dtype=np.int64)
    purchase = np.zeros((N_VERSIONS, nt), dtype=np.int64)
    loss = np.zeros_like(purchase)
    system = np.zeros_like(purchase)
    for v in range(N_VERSIONS):
        f = PURCHASE_FACTOR[v % len(PURCHASE_FACTOR)] * (1.0 + 0.004 * (v // len(PURCHASE_FACTOR)))
        for t, (_code, elec, volt, td, bkind) in enumerate(TARIFFS):
            p = _r4(BASE_PURCHASE[elec] * f)
            lo = _r4(p * 0.035)
            s = SYSTEM_PRICE[elec]
            purchase[v, t], loss[v, t], system[v, t] = p, lo, s
            fund[v, t] = FUND_PRICE[elec]
            if bkind:
                basic[v, t] = BASIC_PRICE[bkind]
            if elec == C.RES:
                energy[v, t, 0:3] = RES_PRICE[volt]
            else:
                flat = p + lo + td + s
                for slot in range(7):
                    per = SLOT_PERIOD[slot]
                    if per in PERIODS_BY_ELEC[elec] and SLOT_TIER[slot] == 1 and (per != 0 or slot == 0):
                        energy[v, t, slot] = flat if per == 0 else _r4(flat * TOU_MULT[per])
    td_arr = np.broadcast_to(T_TD, (N_VERSIONS, nt)).copy()
    return TariffBook(start_year, energy, basic, fund, purchase, loss, system, td_arr)


def snapshot(book: TariffBook, last_version: int) -> pa.Table:
    """Full tariff snapshot holding versions 0..last_version (equal consecutive prices merged)."""
    cols: dict[str, list] = {k: [] for k in ("tariff_code", "elec_type", "voltage", "component", "tou_period",
                                            "tier", "tier_floor", "fund_name", "price", "vf", "vt", "has_vt")}

    def emit(t: int, comp: str, period: int, tier: int, floor: int, fund: str | None, series: list[int]) -> None:
        seg_start = 0
        for v in range(1, last_version + 2):
            if v == last_version + 1 or series[v] != series[seg_start]:
                vf = book.valid_from(seg_start)
                if v <= last_version:
                    vt = book.valid_from(v) - dt.timedelta(days=1)
                cols["tariff_code"].append(CODES[t])
                cols["elec_type"].append(C.ELEC_TYPES[T_ELEC[t]])
                cols["voltage"].append(C.VOLTAGES[T_VOLT[t]])
                cols["component"].append(comp)
                cols["tou_period"].append(C.TOU[period])
                cols["tier"].append(tier)
                cols["tier_floor"].append(floor * 100)
                cols["fund_name"].append(fund)
                cols["price"].append(series[seg_start])
                cols["vf"].append((vf - dt.date(1970, 1, 1)).days)
                cols["vt"].append((vt - dt.date(1970, 1, 1)).days if v <= last_version else 0)
                cols["has_vt"].append(v <= last_version)
                seg_start = v

    rng = range(last_version + 1)
    for t in range(len(TARIFFS)):
        elec = T_ELEC[t]
        for slot in range(7):
            series = [int(book.energy[v, t, slot]) for v in rng]
            if series[0] == 0:
                continue
            floor = TIER_FLOOR_KWH[SLOT_TIER[slot] - 1] if elec == C.RES else 0
            emit(t, "ENERGY", SLOT_PERIOD[slot], SLOT_TIER[slot], floor, None, series)
        if T_BASIC_KIND[t]:
            emit(t, "BASIC_KVA" if T_BASIC_KIND[t] == 1 else "BASIC_KW", 0, 1, 0, None,
                 [int(book.basic[v, t]) for v in rng])
        for f in range(3):
            series = [int(book.fund[v, t, f]) for v in rng]
            if series[0]:
                emit(t, "FUND", 0, 1, 0, FUNDS[f], series)
        emit(t, "TD", 0, 1, 0, None, [int(book.td[v, t]) for v in rng])
        emit(t, "PURCHASE", 0, 1, 0, None, [int(book.purchase[v, t]) for v in rng])
        emit(t, "LOSS", 0, 1, 0, None, [int(book.loss[v, t]) for v in rng])
        emit(t, "SYSTEM", 0, 1, 0, None, [int(book.system[v, t]) for v in rng])
    n = len(cols["price"])
    return pa.table({
        "tariff_code": pa.array(cols["tariff_code"], pa.string()),
        "elec_type": pa.array(cols["elec_type"], pa.string()),
        "voltage": pa.array(cols["voltage"], pa.string()),
        "component": pa.array(cols["component"], pa.string()),
        "tou_period": pa.array(cols["tou_period"], pa.string()),
        "tier": pa.array(cols["tier"], pa.int64()),
        "tier_floor_kwh": dec2(np.array(cols["tier_floor"], dtype=np.int64)),
        "fund_name": pa.array(cols["fund_name"], pa.string()),
        "price": dec6(np.array(cols["price"], dtype=np.int64)),
        "valid_from": date(np.array(cols["vf"], dtype=np.int64)),
        "valid_to": date(np.array(cols["vt"], dtype=np.int64), valid=np.array(cols["has_vt"], bool)),
    }) if n else None
