"""Planting what a real extract gets wrong (SOURCE_EXTRACTS.md), and recording every planted case.

Every case is planted at least once when the dirty rate is positive (in the first eligible
partition after a fixed day), and more often in proportion to the rate. Decisions depend only on
the partition (extract, business date, rows) and on the partitions before it, never on the end
of the run, so a continued run plants exactly what a longer run would.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import constants as C
from .company import rng_for
from .writer import Delivery, day_str, encode_csv

QUARANTINE = ("unparseable number", "unparseable date", "unknown code", "missing key", "conflicting duplicate")
TAG_NUMBER, TAG_DATE, TAG_CODE, TAG_KEY, TAG_CONFLICT, TAG_DUP, TAG_FULL, TAG_PAD = range(1, 9)
TAG_REASON = {TAG_NUMBER: QUARANTINE[0], TAG_DATE: QUARANTINE[1], TAG_CODE: QUARANTINE[2], TAG_KEY: QUARANTINE[3],
              TAG_CONFLICT: QUARANTINE[4]}

# per extract: key column for fresh keys, code column, number column, date column, and planted values
SPEC = {
    "payment": {"key": "pay_id", "fresh": "PD", "code": "channel", "bad_code": "CASH", "number": "amount",
                "bad_number": ("12,34", "N/A"), "date": "pay_time", "conflict": "amount", "insert": True,
                "kinds": (TAG_NUMBER, TAG_DATE, TAG_CODE, TAG_KEY, TAG_CONFLICT, TAG_DUP, TAG_FULL, TAG_PAD)},
    "workorder": {"key": "order_id", "fresh": "WD", "code": "order_type", "bad_code": "COMPLAIN",
                  "date": "accept_time", "conflict": "is_repeat", "insert": True,
                  "kinds": (TAG_DATE, TAG_CODE, TAG_KEY, TAG_CONFLICT, TAG_DUP, TAG_FULL, TAG_PAD)},
    "survey": {"key": "survey_id", "fresh": "SD", "code": "channel", "number": "score_overall",
               "bad_number": ("N/A",), "date": "survey_date", "conflict": "score_overall", "insert": True,
               "kinds": (TAG_NUMBER, TAG_DATE, TAG_DUP)},
    "reading": {"key": "reading_id", "code": "tou_period", "number": "kwh", "bad_number": ("N/A",),
                "insert": False, "kinds": (TAG_NUMBER, TAG_DUP, TAG_PAD)},
    "supply": {"number": "supply_kwh", "bad_number": ("N/A",), "insert": False, "kinds": (TAG_NUMBER,)},
    "dunning": {"key": "event_id", "fresh": "ED", "code": "event_type", "bad_code": "CALL", "insert": True,
                "kinds": (TAG_CODE, TAG_DUP)},
    "cust": {"key": "updated_at", "code": "voltage", "bad_code": "K99", "code2": "elec_type", "insert": True,
             "kinds": (TAG_CODE, TAG_FULL, TAG_PAD)},
}
# first eligible partition on or after start + offset days receives the guaranteed cases
HOME = {
    ("payment", "a"): (45, (TAG_NUMBER, TAG_KEY, TAG_DUP)),
    ("payment", "b"): (52, (TAG_CODE, TAG_CONFLICT, TAG_FULL, TAG_PAD, TAG_DATE)),
    ("workorder", "a"): (40, (TAG_DATE, TAG_KEY, TAG_CODE, TAG_DUP, TAG_CONFLICT, TAG_FULL)),
    ("survey", "a"): (35, (TAG_DATE, TAG_NUMBER, TAG_DUP)),
    ("reading", "a"): (0, (TAG_NUMBER, TAG_DUP, TAG_PAD)),
    ("supply", "a"): (60, (TAG_NUMBER,)),
    ("dunning", "a"): (60, (TAG_CODE, TAG_DUP)),
    ("cust", "a"): (1, (TAG_CODE, TAG_FULL, TAG_PAD)),
}
PARTITION_HOME = {"redelivered": ("payment", 66), "rejected": ("payment", 80), "gb18030": ("cust", 20),
                  "gzip": ("survey", 60)}


def fullwidth(s: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in s)


def bad_date(day: int, with_time: bool) -> str:
    y = day_str(day)[:4]
    return f"{y}-02-30 10:00:00" if with_time else f"{y}-02-30"


def slash(col: pa.Array) -> pa.Array:
    return pc.strftime(col, format="%Y/%m/%d %H:%M")


class Planter:
    def __init__(self, seed: int, rate: float, start_day: int, name_of, slash_prefix: str | None):
        self.seed = seed
        self.rate = float(rate)
        self.start_day = start_day
        self.name_of = name_of  # (extract, Delivery) -> stored file name
        self.slash_prefix = slash_prefix
        self.done: set = set()
        self.owed: dict[str, dict[int, int]] = {}
        for (ext, _tag), (offset, kinds) in HOME.items():
            for kind in kinds:
                cur = self.owed.setdefault(ext, {}).get(kind)
                self.owed[ext][kind] = start_day + offset if cur is None else min(cur, start_day + offset)
        self.fresh = 0
        self.log: dict = {
            "rate": self.rate,
            "quarantine": {"total": 0, "by_extract": {}, "by_reason": {r: 0 for r in QUARANTINE}, "partitions": []},
            "exact_duplicates": {"total": 0, "by_extract": {}, "partitions": []},
            "normalised_codes": {"fullwidth": 0, "padded": 0, "by_extract": {}, "partitions": []},
            "slash_timestamps": {"rows": 0, "partitions": 0},
            "redelivered": [], "rejected": [], "without_manifest": [], "gb18030": [], "gzip": [],
        }

    # ------------------------------------------------------------------ decisions
    def _home_cases(self, extract: str, day: int) -> set[int]:
        """Guaranteed cases still owed by this extract on this day."""
        return {k for k, d in self.owed.get(extract, {}).items() if day >= d}

    def _partition_case(self, case: str, extract: str, day: int, n: int, rng: np.random.Generator) -> bool:
        ext, offset = PARTITION_HOME[case]
        if ext != extract or n < (2 if case == "redelivered" else 1):
            return False
        if case not in self.done and day >= self.start_day + offset:
            self.done.add(case)
            return True
        return case != "rejected" and self.rate > 0 and bool(rng.random() < min(self.rate, 0.05))

    def plan(self, extract: str, day: int, table: pa.Table) -> list[Delivery]:
        if self.rate <= 0:
            return [Delivery(table)]
        n = table.num_rows
        rng = rng_for(self.seed, 900, C.EXTRACTS.index(extract), day)
        if self._partition_case("rejected", extract, day, n, rng):
            dl = Delivery(table, manifest="bad_sha")
            self.log["rejected"].append({"extract": extract, "business_date": day_str(day),
                                         "file": self._file(extract, day, dl), "rows": n,
                                         "reason": "sha256 mismatch"})
            return [dl]
        if self._partition_case("redelivered", extract, day, n, rng):
            first = self._first_delivery(extract, table, rng)
            self.log["redelivered"].append({
                "extract": extract, "business_date": day_str(day), "first_rows": first.num_rows, "final_rows": n,
                "first_sha256": hashlib.sha256(encode_csv(first)).hexdigest()})
            return [Delivery(first), Delivery(table)]
        dl = Delivery(table)
        if self._partition_case("gb18030", extract, day, n, rng):
            dl.encoding, dl.crlf = "gb18030", True
            self.log["gb18030"].append({"extract": extract, "business_date": day_str(day),
                                        "file": self._file(extract, day, dl)})
        elif self._partition_case("gzip", extract, day, n, rng):
            dl.gzip = True
            self.log["gzip"].append({"extract": extract, "business_date": day_str(day),
                                     "file": self._file(extract, day, dl)})
        dl.table = self._plant_rows(extract, day, table, rng, dl)
        return [dl]

    def note_partition(self, extract: str, day: int, dl: Delivery) -> None:
        if dl.manifest == "none":
            self.log["without_manifest"].append({"extract": extract, "business_date": day_str(day),
                                                 "file": self._file(extract, day, dl), "rows": dl.table.num_rows})

    def _file(self, extract: str, day: int, dl: Delivery) -> str:
        return f"{extract}/{day_str(day)}/{self.name_of(extract, dl)}"

    def _first_delivery(self, extract: str, table: pa.Table, rng: np.random.Generator) -> pa.Table:
        """The first delivery: the last rows missing and one amount wrong."""
        t = table.slice(0, table.num_rows - 1)
        if extract == "payment" and t.num_rows:
            amt = pc.cast(t.column("amount"), pa.string()).to_numpy(zero_copy_only=False).astype(object)
            amt[0] = "0.01"
            t = t.set_column(t.column_names.index("amount"), "amount", pa.array(amt, pa.string()))
        return t

    # ------------------------------------------------------------------ row cases
    def _plant_rows(self, extract: str, day: int, table: pa.Table, rng: np.random.Generator,
                    dl: Delivery) -> pa.Table:
        if extract == "workorder" and self.slash_prefix and table.num_rows:
            table = self._slash(table)
        spec = SPEC.get(extract)
        n = table.num_rows
        if spec is None or n == 0:
            return table
        kinds = spec["kinds"]
        counts = {k: int(rng.binomial(n, self.rate / len(kinds))) for k in kinds}
        for k in self._home_cases(extract, day):
            counts[k] = max(counts.get(k, 0), 1)
        if not any(counts.values()):
            return table
        return self._apply(extract, day, table, spec, counts, rng, self._file(extract, day, dl))

    def _slash(self, table: pa.Table) -> pa.Table:
        org = table.column("org_no")
        m = pc.fill_null(pc.starts_with(org, self.slash_prefix), False)
        k = pc.sum(m).as_py() or 0
        if not k:
            return table
        for name in ("accept_time", "deadline_time", "finish_time"):
            col = table.column(name)
            s = pc.strftime(col, format="%Y-%m-%d %H:%M:%S")
            new = pc.if_else(m, slash(col), s)
            table = table.set_column(table.column_names.index(name), name, new)
        self.log["slash_timestamps"]["rows"] += int(k)
        self.log["slash_timestamps"]["partitions"] += 1
        return table

    def _apply(self, extract: str, day: int, table: pa.Table, spec: dict, counts: dict,
               rng: np.random.Generator, fname: str) -> pa.Table:
        n = table.num_rows
        free = list(rng.permutation(n))  # untouched real rows, consumed as cases are planted
        tags = np.zeros(n, np.int64)
        src: list[int] = []  # inserted rows: source row
        ins_tag: list[int] = []
        ins_mod: list[dict] = []
        mods: dict[int, dict] = {}  # in-place modifications of real rows

        def take_free() -> int | None:
            return free.pop() if free else None

        def fresh_key(orig: str) -> str:
            self.fresh += 1
            return f"{spec['fresh']}{self.fresh:08d}"

        key = spec.get("key")
        keys = table.column(key) if key else None
        for kind in (TAG_CONFLICT, TAG_NUMBER, TAG_DATE, TAG_CODE, TAG_KEY, TAG_DUP, TAG_FULL, TAG_PAD):
            for _ in range(counts.get(kind, 0)):
                r = take_free()
                if r is None:
                    break
                if kind == TAG_DUP:
                    src.append(r), ins_tag.append(TAG_DUP), ins_mod.append({})
                elif kind in (TAG_FULL, TAG_PAD):
                    col = spec["code"] if (kind == TAG_PAD or "code2" not in spec) else spec["code2"]
                    val = table.column(col)[r].as_py()
                    if val is None:
                        continue
                    mods[r] = {col: fullwidth(val) if kind == TAG_FULL else f" {val} "}
                    tags[r] = kind
                elif kind == TAG_CONFLICT:
                    col = spec["conflict"]
                    val = table.column(col)[r]
                    other = _conflicting(val)
                    src.append(r), ins_tag.append(TAG_CONFLICT), ins_mod.append({col: other})
                    tags[r] = TAG_CONFLICT
                else:
                    if kind == TAG_NUMBER:
                        bad = spec["bad_number"][int(rng.integers(0, len(spec["bad_number"])))]
                        mod = {spec["number"]: bad}
                    elif kind == TAG_DATE:
                        mod = {spec["date"]: bad_date(day, spec["date"] != "survey_date")}
                    elif kind == TAG_CODE:
                        mod = {spec["code"]: spec["bad_code"]}
                    else:
                        mod = {key: None}
                    if spec["insert"]:
                        if kind != TAG_KEY:
                            if extract == "cust":
                                mod[key] = None  # replaced below by the shifted timestamp
                            else:
                                mod[key] = fresh_key(keys[r].as_py())
                        src.append(r), ins_tag.append(kind), ins_mod.append(mod)
                    else:
                        mods[r] = mod
                        tags[r] = kind
        # assemble: real rows with inserted rows at random positions
        m = len(src)
        pos = np.sort(rng.integers(0, n + 1, m)) if m else np.zeros(0, np.int64)
        order = np.insert(np.arange(n), pos, -np.arange(1, m + 1)) if m else np.arange(n)
        take = np.where(order >= 0, order, np.array(src + [0])[np.maximum(-order - 1, 0)])
        out = table.take(pa.array(take))
        final_tags = np.where(order >= 0, tags[np.maximum(order, 0)], np.array(ins_tag + [0])[np.maximum(-order - 1, 0)])
        for j, tag in enumerate(ins_tag):  # the later of two identical rows is the duplicate
            if tag == TAG_DUP:
                p_ins = int(np.flatnonzero(order == -(j + 1))[0])
                p_src = int(np.flatnonzero(order == src[j])[0])
                if p_src > p_ins:
                    final_tags[p_ins], final_tags[p_src] = 0, TAG_DUP
        cell: dict[str, dict[int, object]] = {}
        for r, mod in mods.items():
            p = int(np.flatnonzero(order == r)[0])
            for c, v in mod.items():
                cell.setdefault(c, {})[p] = v
        for j, mod in enumerate(ins_mod):
            p = int(np.flatnonzero(order == -(j + 1))[0])
            for c, v in mod.items():
                if extract == "cust" and c == key and ins_tag[j] != TAG_KEY:
                    v = _shift_ts(table.column(key)[src[j]].as_py())
                cell.setdefault(c, {})[p] = v
        for c, vals in cell.items():
            i = out.column_names.index(c)
            col = out.column(c)
            if pa.types.is_timestamp(col.type):
                s = pc.strftime(col, format="%Y-%m-%d %H:%M:%S")
            elif col.type != pa.string():
                s = pc.cast(col, pa.string())
            else:
                s = col
            arr = s.to_numpy(zero_copy_only=False).astype(object) if hasattr(s, "to_numpy") else np.array(s.to_pylist(), dtype=object)
            for p, v in vals.items():
                arr[p] = v
            out = out.set_column(i, c, pa.array(arr, pa.string()))
        self._record(extract, day, final_tags, fname)
        owed = self.owed.get(extract, {})
        for kind in set(final_tags[final_tags > 0].tolist()):
            owed.pop(int(kind), None)
        return out

    def _record(self, extract: str, day: int, tags: np.ndarray, fname: str) -> None:
        q = self.log["quarantine"]
        entry = {"extract": extract, "business_date": day_str(day), "file": fname, "by_reason": {}, "records": {}}
        for tag, reason in TAG_REASON.items():
            rec = (np.flatnonzero(tags == tag) + 1).tolist()
            if rec:
                entry["by_reason"][reason] = len(rec)
                entry["records"][reason] = rec
                q["by_reason"][reason] += len(rec)
                q["by_extract"][extract] = q["by_extract"].get(extract, 0) + len(rec)
                q["total"] += len(rec)
        if entry["by_reason"]:
            q["partitions"].append(entry)
        dup = (np.flatnonzero(tags == TAG_DUP) + 1).tolist()
        if dup:
            d = self.log["exact_duplicates"]
            d["total"] += len(dup)
            d["by_extract"][extract] = d["by_extract"].get(extract, 0) + len(dup)
            d["partitions"].append({"extract": extract, "business_date": day_str(day), "file": fname,
                                    "rows": len(dup), "records": dup})
        full, pad = int((tags == TAG_FULL).sum()), int((tags == TAG_PAD).sum())
        if full or pad:
            nc = self.log["normalised_codes"]
            nc["fullwidth"] += full
            nc["padded"] += pad
            nc["by_extract"][extract] = nc["by_extract"].get(extract, 0) + full + pad
            nc["partitions"].append({"extract": extract, "business_date": day_str(day), "file": fname,
                                     "fullwidth": full, "padded": pad})


def _conflicting(val: pa.Scalar) -> str:
    v = val.as_py()
    if v is None:
        return "1"
    if isinstance(v, str):
        return "Y" if v != "Y" else "N"
    if isinstance(v, int):
        return str(v - 1 if v > 1 else v + 1)
    return f"{v + 1:.2f}" if not isinstance(v, str) else v


def _shift_ts(v) -> str:
    import datetime as dt

    return (v + dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
