"""Synthetic personal data (names, ID numbers, mobiles, addresses), vectorised and deterministic.

Every value is a pure function of (seed, customer index, field, version), so a customer keeps
the same name across deltas and the continuation of a run re-creates the same text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import constants as C
from .arrow import ascii_fixed, digits_matrix

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_G = np.uint64(0x9E3779B97F4A7C15)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays."""
    z = np.asarray(x, dtype=np.uint64) + _G
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hashes(seed: int, idx: np.ndarray, field: int, version: np.ndarray | int = 0) -> np.ndarray:
    with np.errstate(over="ignore"):
        base = np.uint64(seed & 0xFFFFFFFF) * np.uint64(1_000_003) + np.uint64(field) * np.uint64(7_777_777_777)
        v = np.asarray(version, dtype=np.uint64) * np.uint64(0x1000193)
        return mix(mix(np.asarray(idx, dtype=np.uint64) + base) ^ v)


def pick(labels, h: np.ndarray) -> pa.Array:
    arr = pa.array(list(labels), pa.string())
    return pc.take(arr, pa.array((h % np.uint64(len(labels))).astype(np.int32)))


def person_names(seed: int, idx: np.ndarray) -> pa.Array:
    h1, h2, h3 = (hashes(seed, idx, f) for f in (1, 2, 3))
    sur = pick(C.SURNAMES, h1)
    g1 = pick(C.GIVEN_CHARS, h2)
    g2 = pick(C.GIVEN_CHARS, h3)
    two = pa.array((h3 >> np.uint64(40)) % np.uint64(10) < np.uint64(7))
    g2 = pc.if_else(two, g2, pa.scalar("", pa.string()))
    return pc.binary_join_element_wise(sur, g1, g2, "")


def business_names(seed: int, idx: np.ndarray, sections: np.ndarray) -> pa.Array:
    h1, h2 = hashes(seed, idx, 4), hashes(seed, idx, 5)
    prefix = pick(C.BIZ_NAME_PREFIX, h1)
    out = np.empty(len(idx), dtype=object)
    sections = np.asarray(sections, dtype=object)
    for sec, suffixes in C.BIZ_NAME_SUFFIX.items():
        m = sections == sec
        if m.any():
            out[m] = np.asarray(pick(suffixes, h2[m]).to_pylist(), dtype=object)
    rest = np.array([o is None for o in out])
    if rest.any():
        out[rest] = np.asarray(pick(C.BIZ_NAME_SUFFIX["F"], h2[rest]).to_pylist(), dtype=object)
    return pc.binary_join_element_wise(prefix, pa.array(out, pa.string()), "")


_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def resident_ids(seed: int, idx: np.ndarray, region: np.ndarray) -> pa.Array:
    """18-character resident ID numbers with a valid ISO 7064 check character."""
    h = hashes(seed, idx, 6)
    age_days = 20 * 365 + (h % np.uint64(62 * 365)).astype(np.int64)
    birth = (np.datetime64("2024-01-01") - age_days.astype("timedelta64[D]"))
    months = birth.astype("datetime64[M]")
    ymd_num = ((birth.astype("datetime64[Y]").astype(np.int64) + 1970) * 10000
               + (months.astype(np.int64) % 12 + 1) * 100 + (birth - months).astype(np.int64) + 1)
    seq = ((h >> np.uint64(33)) % np.uint64(1000)).astype(np.int64)
    mat = np.concatenate([digits_matrix(region, 6), digits_matrix(ymd_num, 8), digits_matrix(seq, 3)], axis=1)
    chk = (((mat.astype(np.int64) - 48) * _W).sum(axis=1)) % 11
    mat = np.concatenate([mat, _CHECK[chk][:, None]], axis=1)
    return ascii_fixed(mat)


_USCC = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRTUWXY", dtype=np.uint8)
_USCC_W = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)


def credit_codes(seed: int, idx: np.ndarray, region: np.ndarray) -> pa.Array:
    """18-character unified social credit codes (91 + region + organisation code + check)."""
    n = len(idx)
    body = np.empty((n, 9), dtype=np.int64)
    for k in range(9):
        body[:, k] = (hashes(seed, idx, 20 + k) % np.uint64(31)).astype(np.int64)
    head = digits_matrix(region, 6).astype(np.int64) - 48
    vals = np.concatenate([np.full((n, 1), 9), np.full((n, 1), 1), head, body], axis=1)
    chk = (31 - (vals * _USCC_W).sum(axis=1) % 31) % 31
    vals = np.concatenate([vals, chk[:, None]], axis=1)
    return ascii_fixed(_USCC[vals])


def mobiles(seed: int, idx: np.ndarray, version: np.ndarray | int = 0) -> pa.Array:
    h = hashes(seed, idx, 7, version)
    pre = np.array(C.MOBILE_PREFIXES, dtype=np.int64)[(h % np.uint64(len(C.MOBILE_PREFIXES))).astype(np.int64)]
    rest = ((h >> np.uint64(20)) % np.uint64(100_000_000)).astype(np.int64)
    return ascii_fixed(digits_matrix(pre * 100_000_000 + rest, 11))


def _num(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def addresses(seed: int, idx: np.ndarray, county: pa.Array, town: pa.Array, urban: np.ndarray) -> pa.Array:
    h1, h2, h3 = (hashes(seed, idx, f) for f in (8, 9, 10))
    road = pick(C.ROADS, h1)
    no = _num(1 + (h2 % np.uint64(300)).astype(np.int64))
    comm = pick(C.COMMUNITIES, h3)
    bld = _num(1 + ((h3 >> np.uint64(16)) % np.uint64(30)).astype(np.int64))
    unit = _num(1 + ((h3 >> np.uint64(24)) % np.uint64(4)).astype(np.int64))
    room = _num(101 + ((h3 >> np.uint64(32)) % np.uint64(18)).astype(np.int64) * 100
                + ((h3 >> np.uint64(40)) % np.uint64(4)).astype(np.int64))
    flat = pc.binary_join_element_wise(county, "县", town, "镇", road, no, "号", comm, bld, "栋", unit, "单元",
                                       room, "室", "")
    street = pc.binary_join_element_wise(county, "县", town, "镇", road, no, "号", "")
    return pc.if_else(pa.array(np.asarray(urban, bool)), flat, street)
