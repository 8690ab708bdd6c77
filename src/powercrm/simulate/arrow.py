"""Small helpers that turn numpy arrays into Arrow columns with the extract's text formats.

Decimals are built straight from their unscaled int64 values (no float round trip), dates
and timestamps from day / second numbers, ids from integer counters.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EPOCH = np.datetime64("1970-01-01", "D")


def dec(unscaled: np.ndarray, scale: int, valid: np.ndarray | None = None, precision: int = 18) -> pa.Array:
    """Decimal column from unscaled integers (cents for scale 2, micro-units for scale 6)."""
    vals = np.ascontiguousarray(unscaled, dtype=np.int64)
    n = len(vals)
    buf = np.empty((n, 2), dtype=np.int64)
    buf[:, 0] = vals
    buf[:, 1] = vals >> 63
    if valid is None or bool(np.all(valid)):
        return pa.Array.from_buffers(pa.decimal128(precision, scale), n, [None, pa.py_buffer(buf)], null_count=0)
    bits = np.packbits(np.asarray(valid, dtype=bool), bitorder="little")
    nulls = int(n - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.decimal128(precision, scale), n,
                                 [pa.py_buffer(bits), pa.py_buffer(buf)], null_count=nulls)


def dec2(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    return dec(cents, 2, valid)


def dec6(micros: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    return dec(micros, 6, valid)


def date(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return pa.array(d, type=pa.date32(), mask=None if valid is None else ~np.asarray(valid, bool))


def ts(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    s = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]")
    return pa.array(s, type=pa.timestamp("s"), mask=None if valid is None else ~np.asarray(valid, bool))


def integer(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), mask=None if valid is None else ~np.asarray(valid, bool))


def codes(index: np.ndarray, labels: tuple[str, ...] | list[str], valid: np.ndarray | None = None) -> pa.Array:
    """String column from small-integer codes (decoded, so the CSV writer sees plain text)."""
    idx = pa.array(np.asarray(index, dtype=np.int32), mask=None if valid is None else ~np.asarray(valid, bool))
    return pc.take(pa.array(list(labels), pa.string()), idx)


def padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string()), width, "0")


def ids(prefix: str | pa.Array, values: np.ndarray, width: int, suffix: str | pa.Array | None = None,
        valid: np.ndarray | None = None) -> pa.Array:
    """`prefix` + zero-padded `values` (+ `suffix`)."""
    parts = [prefix, padded(values, width)]
    if suffix is not None:
        parts.append(suffix)
    out = pc.binary_join_element_wise(*parts, "")
    if valid is not None:
        out = pc.if_else(pa.array(np.asarray(valid, bool)), out, pa.scalar(None, pa.string()))
    return out


def month_label(month_days: np.ndarray) -> pa.Array:
    """'YYYY-MM' text for day numbers."""
    d = np.asarray(month_days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
    return pa.array(np.datetime_as_string(d, unit="M").astype(object), pa.string())


def null_str(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def const_str(value: str | None, n: int) -> pa.Array:
    if value is None:
        return pa.nulls(n, pa.string())
    return pa.array(np.full(n, value, dtype=object), pa.string()) if n < 1000 else pc.take(
        pa.array([value], pa.string()), pa.array(np.zeros(n, np.int32)))


def ascii_fixed(mat: np.ndarray) -> pa.Array:
    """Strings from an (n, w) uint8 matrix of ASCII codes."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n, w = mat.shape
    offsets = np.arange(n + 1, dtype=np.int32) * w
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(mat.tobytes())])


def digits_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII digit codes of non-negative integers, zero padded."""
    v = np.asarray(values, dtype=np.int64).copy()
    out = np.empty((len(v), width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        out[:, k] = 48 + (v % 10)
        v //= 10
    return out
