"""The landing-folder writer: partitions, file formats, manifests (written last)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import constants as C

S, I64, D2, D6, DT, TS = (pa.string(), pa.int64(), pa.decimal128(18, 2), pa.decimal128(18, 6), pa.date32(),
                          pa.timestamp("s"))

SCHEMAS: dict[str, list[tuple[str, pa.DataType]]] = {
    "org": [("org_no", S), ("org_name", S), ("parent_org_no", S), ("org_level", I64), ("tg_id", S),
            ("tg_name", S), ("tg_capacity_kva", D2)],
    "cust": [("cons_no", S), ("cons_name", S), ("cert_no", S), ("mobile", S), ("address", S), ("elec_type", S),
             ("voltage", S), ("contract_kva", D2), ("industry_code", S), ("org_no", S), ("tg_id", S),
             ("tariff_code", S), ("is_key_account", S), ("status", S), ("open_date", DT), ("close_date", DT),
             ("updated_at", TS)],
    "tariff": [("tariff_code", S), ("elec_type", S), ("voltage", S), ("component", S), ("tou_period", S),
               ("tier", I64), ("tier_floor_kwh", D2), ("fund_name", S), ("price", D6), ("valid_from", DT),
               ("valid_to", DT)],
    "reading": [("reading_id", S), ("cons_no", S), ("meter_id", S), ("billing_month", S), ("read_date", DT),
                ("tou_period", S), ("start_reading", D2), ("end_reading", D2), ("multiplier", I64),
                ("meter_digits", I64), ("kwh", D2), ("max_demand_kw", D2), ("kvarh", D2), ("is_estimated", S)],
    "bill": [("bill_id", S), ("cons_no", S), ("billing_month", S), ("bill_type", S), ("ref_bill_id", S),
             ("issue_date", DT), ("due_date", DT), ("kwh", D2), ("amount", D2), ("tariff_code", S)],
    "bill_item": [("bill_id", S), ("item_no", I64), ("item", S), ("tou_period", S), ("tier", I64),
                  ("fund_name", S), ("kwh", D2), ("price", D6), ("amount", D2)],
    "payment": [("pay_id", S), ("cons_no", S), ("bill_id", S), ("pay_time", TS), ("channel", S), ("amount", D2),
                ("penalty_amount", D2), ("reversal_of", S)],
    "dunning": [("event_id", S), ("cons_no", S), ("bill_id", S), ("event_type", S), ("event_time", TS),
                ("operator", S)],
    "violation": [("case_id", S), ("cons_no", S), ("case_type", S), ("found_date", DT), ("recovered_kwh", D2),
                  ("recovered_amount", D2), ("penalty_amount", D2)],
    "supply": [("tg_id", S), ("billing_month", S), ("supply_kwh", D2), ("is_estimated", S)],
    "workorder": [("order_id", S), ("cons_no", S), ("accept_time", TS), ("channel", S), ("order_type", S),
                  ("category_l1", S), ("category_l2", S), ("org_no", S), ("content", S), ("deadline_time", TS),
                  ("finish_time", TS), ("is_repeat", S), ("is_escalated", S), ("satisfaction", S)],
    "survey": [("survey_id", S), ("cons_no", S), ("survey_date", DT), ("channel", S), ("score_supply", I64),
               ("score_billing", I64), ("score_service", I64), ("score_channel", I64), ("score_overall", I64),
               ("comment", S)],
    "outage": [("event_id", S), ("outage_type", S), ("tg_id", S), ("cons_no", S), ("start_time", TS),
               ("end_time", TS), ("customers_affected", I64), ("notified_in_advance", S)],
    "cost": [("org_no", S), ("billing_month", S), ("marketing_cost", D2), ("operating_cost", D2)],
}
EPOCH = np.datetime64("1970-01-01", "D")


def day_str(day: int) -> str:
    return str(EPOCH + np.timedelta64(int(day), "D"))


def empty_table(extract: str) -> pa.Table:
    return pa.table({n: pa.array([], t) for n, t in SCHEMAS[extract]})


def conform(extract: str, table: pa.Table) -> pa.Table:
    """Columns in interface order and types (the `_bd` business-date column is kept)."""
    cols, names = [], []
    for n, t in SCHEMAS[extract]:
        col = table.column(n)
        if col.type != t:
            col = col.cast(t)
        cols.append(col)
        names.append(n)
    cols.append(table.column("_bd").cast(pa.int32()))
    names.append("_bd")
    return pa.Table.from_arrays(cols, names=names)


def encode_csv(table: pa.Table) -> bytes:
    """CSV bytes: header row, comma, `"` quoting only where a value needs it, empty = NULL."""
    header = (",".join(table.column_names) + "\n").encode()
    try:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
        return header + sink.getvalue().to_pybytes()
    except pa.ArrowInvalid:
        pass
    cols = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        cols.append(pc.cast(col, pa.string()).to_pylist() if col.type != pa.string() else col.to_pylist())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(table.column_names)
    w.writerows(zip(*cols, strict=True))
    return buf.getvalue().encode("utf-8")


@dataclass
class Delivery:
    """One delivery of a partition: the rows and how they are stored."""
    table: pa.Table
    encoding: str = "utf-8"
    crlf: bool = False
    gzip: bool | None = None  # None = the writer's format choice
    manifest: str = "ok"  # ok | bad_sha | none


@dataclass
class Landing:
    out: Path
    big_gzip: bool
    all_gzip: bool
    planter: object | None = None
    write_from_day: int = -(10**9)
    pending: dict[str, list[pa.Table]] = field(default_factory=dict)
    last_flushed: dict[str, int] = field(default_factory=dict)
    first_day: int = 0
    stats: dict = field(default_factory=lambda: {"partitions": {}, "rows": {}, "bytes": 0, "rows_total": 0})

    def add(self, extract: str, table: pa.Table | None) -> None:
        if table is None or table.num_rows == 0:
            return
        self.pending.setdefault(extract, []).append(conform(extract, table))

    def flush(self, upto: int) -> None:
        for extract in C.EXTRACTS:
            self._flush_extract(extract, upto)

    def _take_pending(self, extract: str, upto: int) -> pa.Table | None:
        chunks = self.pending.get(extract)
        if not chunks:
            return None
        t = pa.concat_tables(chunks) if len(chunks) > 1 else chunks[0]
        bd = t.column("_bd").to_numpy()
        now = bd <= upto
        if now.all():
            self.pending[extract] = []
        else:
            self.pending[extract] = [t.filter(pa.array(~now))] if (~now).any() else []
            t = t.filter(pa.array(now))
            bd = bd[now]
        if t.num_rows == 0:
            return None
        order = np.argsort(bd, kind="stable")
        if not np.all(order == np.arange(len(order))):
            t = t.take(pa.array(order))
        return t

    def _flush_extract(self, extract: str, upto: int) -> None:
        t = self._take_pending(extract, upto)
        parts: dict[int, pa.Table] = {}
        if t is not None:
            bd = t.column("_bd").to_numpy()
            days, starts = np.unique(bd, return_index=True)
            ends = list(starts[1:]) + [len(bd)]
            for d, s, e in zip(days, starts, ends, strict=True):
                parts[int(d)] = t.slice(int(s), int(e - s)).drop_columns(["_bd"])
        if extract in C.DAILY_ALWAYS:
            lo = self.last_flushed.get(extract, self.first_day - 1) + 1
            for d in range(lo, upto + 1):
                parts.setdefault(d, None)
        for d in sorted(parts):
            tbl = parts[d] if parts[d] is not None else empty_table(extract)
            self.write_partition(extract, d, tbl)
        if extract in C.DAILY_ALWAYS:
            self.last_flushed[extract] = max(upto, self.last_flushed.get(extract, upto))

    def pending_rows(self, extract: str, day: int) -> pa.Table:
        chunks = self.pending.get(extract) or []
        if not chunks:
            return empty_table(extract)
        t = pa.concat_tables(chunks)
        t = t.filter(pc.equal(t.column("_bd"), day))
        return t.drop_columns(["_bd"])

    def write_partition(self, extract: str, day: int, table: pa.Table, final_manifest: str | None = None) -> None:
        planted = self.planter is not None and final_manifest is None  # a partial partition is not planted
        deliveries = self.planter.plan(extract, day, table) if planted else [Delivery(table)]
        if final_manifest is not None:
            deliveries[-1].manifest = final_manifest
            if self.planter is not None:
                self.planter.note_partition(extract, day, deliveries[-1])
        final = deliveries[-1]
        self.stats["partitions"][extract] = self.stats["partitions"].get(extract, 0) + 1
        self.stats["rows"][extract] = self.stats["rows"].get(extract, 0) + final.table.num_rows
        self.stats["rows_total"] += final.table.num_rows
        if day < self.write_from_day:
            return
        for dl in deliveries:
            self._store(extract, day, dl)

    def _store(self, extract: str, day: int, dl: Delivery) -> None:
        folder = self.out / extract / day_str(day)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        data = encode_csv(dl.table)
        if dl.encoding != "utf-8" or dl.crlf:
            text = data.decode("utf-8")
            if dl.crlf:
                text = text.replace("\n", "\r\n")
            data = text.encode(dl.encoding)
        use_gz = dl.gzip if dl.gzip is not None else (self.all_gzip or (self.big_gzip and extract in C.BIG_EXTRACTS))
        name = f"{extract}.csv"
        if use_gz:
            data = gzip.compress(data, compresslevel=1, mtime=0)
            name += ".gz"
        (folder / name).write_bytes(data)
        self.stats["bytes"] += len(data)
        if dl.manifest == "none":
            return
        digest = hashlib.sha256(data).hexdigest()
        if dl.manifest == "bad_sha":
            digest = hashlib.sha256(data + b"\n").hexdigest()
        manifest = {"extract": extract, "business_date": day_str(day), "schema_version": C.SCHEMA_VERSION,
                    "files": [{"name": name, "rows": dl.table.num_rows, "sha256": digest,
                               "encoding": dl.encoding}]}
        (folder / "_manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
