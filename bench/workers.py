"""Worker steps of the benchmark, each run by run_bench.py in its own subprocess (so that its
wall time and peak RSS are its own). Each prints one JSON object on stdout.

    python bench/workers.py floor    LANDING                  DuckDB reads every landing file once
    python bench/workers.py load     LANDING WORK_DB [EXTRACT ...]   the PowerCRM loader only
    python bench/workers.py publish  WORK_DB PUBLISHED         publish only (when the gate blocked)
    python bench/workers.py tables   DB                        rows per table of core/marts/audit
    python bench/workers.py queries  PUBLISHED QUERY_DIR COLD WARM
    python bench/workers.py compare  WORK_DB PEER_DIR          PowerCRM marts vs the pandas peer
    python bench/workers.py explain  PUBLISHED QUERY_FILE      EXPLAIN ANALYZE of one query
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import statistics
import sys
import time
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb


def _out(obj) -> None:
    def default(o):
        if isinstance(o, (date, datetime)):
            return o.isoformat()
        if isinstance(o, Decimal):
            return float(o)
        return str(o)
    print(json.dumps(obj, default=default, ensure_ascii=False))


def landing_files(landing: Path) -> list[tuple[str, str, Path, str]]:
    """(extract, business_date, file, encoding) of every partition with a manifest."""
    out = []
    for ext_dir in sorted(p for p in landing.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        for part in sorted(p for p in ext_dir.iterdir() if p.is_dir()):
            m = part / "_manifest.json"
            if not m.is_file():
                continue
            for f in json.loads(m.read_text(encoding="utf-8")).get("files", []):
                out.append((ext_dir.name, part.name, part / f["name"], str(f.get("encoding", "utf-8")).lower()))
    return out


def _header(path: Path, encoding: str) -> list[str]:
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    with io.TextIOWrapper(raw, encoding="gb18030" if encoding == "gb18030" else "utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


# ------------------------------------------------------------------------------------ floor

def floor(landing: Path) -> dict:
    """The least any loader can do: DuckDB parses every landing file once, all columns as text.

    per_file: one `count(*) from read_csv(file)` per file (explicit VARCHAR columns, no sniffing,
    the loader's CSV options) — the figure the goals compare against.
    batched: one read_csv over the list of files per extract (what a loader that reads a whole
    extract in one statement would pay) — shown for the record.
    sha256: hashing every file once (the manifest check the interface requires).
    """
    files = landing_files(landing)
    con = duckdb.connect()
    rows = defaultdict(int)
    per_extract_s = defaultdict(float)
    groups = defaultdict(list)
    t0 = time.perf_counter()
    for ext, _bd, path, enc in files:
        t = time.perf_counter()
        if path.name.endswith(".parquet"):
            n = con.execute("select count(*) from read_parquet(?)", [str(path)]).fetchone()[0]
        elif enc == "gb18030":  # DuckDB has no GB18030 reader offline: decode in Python
            raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
            with io.TextIOWrapper(raw, encoding="gb18030", newline="") as f:
                n = sum(1 for _ in csv.reader(f)) - 1
        else:
            header = _header(path, enc)
            cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
            comp = "gzip" if path.name.endswith(".gz") else "none"
            n = con.execute(
                f"select count(*) from read_csv(?, header = true, auto_detect = false, columns = {cols}, "
                f"delim = ',', quote = '\"', escape = '\"', compression = '{comp}', max_line_size = 16777216)",
                [str(path)]).fetchone()[0]
            groups[(ext, comp, len(header))].append(str(path))
        rows[ext] += n
        per_extract_s[ext] += time.perf_counter() - t
    per_file_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for (_ext, comp, ncols), paths in groups.items():
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
        con.execute(f"select count(*) from read_csv(?, header = true, auto_detect = false, columns = {cols}, "
                    f"delim = ',', quote = '\"', escape = '\"', compression = '{comp}', "
                    f"max_line_size = 16777216)", [paths]).fetchone()
    batched_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _e, _b, path, _enc in files:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                h.update(chunk)
    sha_s = time.perf_counter() - t0
    return {"files": len(files), "rows": dict(rows), "per_file_seconds": per_file_s, "batched_seconds": batched_s,
            "sha256_seconds": sha_s, "per_extract_seconds": dict(per_extract_s)}


# ------------------------------------------------------------------------------------ load / publish

def load(landing: Path, work_db: Path, only: list[str]) -> dict:
    from powercrm.ingest.loader import data_date, load_landing
    con = duckdb.connect(str(work_db))
    t0 = time.perf_counter()
    s = load_landing(con, landing, f"bench-{datetime.now():%Y%m%dT%H%M%S}", only=set(only) or None)
    secs = time.perf_counter() - t0
    dd = data_date(con)
    con.close()
    return {"seconds": secs, "found": s.found, "loaded": len(s.by_status("LOADED")),
            "rejected": len(s.rejected), "rows_loaded": sum(r.rows_loaded for r in s.results), "data_date": dd}


def publish_only(work_db: Path, published: Path) -> dict:
    from powercrm.publish import publish
    t0 = time.perf_counter()
    res = publish(work_db, published, run_info={"run_id": "bench", "command": "bench publish"})
    return {"seconds": time.perf_counter() - t0, "bytes": res.bytes}


def tables(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    names = con.execute("select table_schema, table_name from information_schema.tables "
                        "where table_schema in ('core', 'marts', 'audit') order by 1, 2").fetchall()
    out = {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in names}
    con.close()
    return out


# ------------------------------------------------------------------------------------ queries

def _pctl(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def pick_customer(con) -> str:
    """A customer with the full history: the median cons_no among those billed in the first and last month."""
    row = con.execute("""
        with b as (select cons_no, min(month) as f, max(month) as l from marts.customer_profit_monthly group by 1)
        select cons_no from b where f = (select min(f) from b) and l = (select max(l) from b)
        order by cons_no limit 1 offset (select count(*) // 2 from b where f = (select min(f) from b)
                                          and l = (select max(l) from b))""").fetchone()
    return row[0]


def queries(published: Path, qdir: Path, cold: int, warm: int) -> dict:
    con = duckdb.connect(str(published), read_only=True)
    cons_no = pick_customer(con)
    con.close()
    out = {"cons_no": cons_no, "queries": {}}
    for qf in sorted(qdir.glob("*.sql")):
        sql = qf.read_text()
        cold_s, warm_s, nrows = [], [], None
        for _ in range(cold):  # a new connection (an empty DuckDB buffer cache) each time
            t = time.perf_counter()
            c = duckdb.connect(str(published), read_only=True)
            c.execute(f"set variable cons_no = '{cons_no}'")
            t1 = time.perf_counter()
            nrows = len(c.execute(sql).fetchall())
            cold_s.append(time.perf_counter() - t)
            c.close()
            del t1
        c = duckdb.connect(str(published), read_only=True)
        c.execute(f"set variable cons_no = '{cons_no}'")
        c.execute(sql).fetchall()  # warm-up
        for _ in range(warm):
            t = time.perf_counter()
            c.execute(sql).fetchall()
            warm_s.append(time.perf_counter() - t)
        c.close()
        out["queries"][qf.stem] = {
            "rows": nrows,
            "cold_p50": _pctl(cold_s, 0.5), "cold_p95": _pctl(cold_s, 0.95), "cold_max": max(cold_s),
            "warm_p50": _pctl(warm_s, 0.5), "warm_p95": _pctl(warm_s, 0.95), "warm_max": max(warm_s),
            "cold_n": cold, "warm_n": warm, "cold_mean": statistics.fmean(cold_s),
        }
    return out


def explain(published: Path, qfile: Path) -> dict:
    con = duckdb.connect(str(published), read_only=True)
    con.execute(f"set variable cons_no = '{pick_customer(con)}'")
    rows = con.execute("explain analyze " + qfile.read_text()).fetchall()
    return {"plan": rows[0][1] if rows else ""}


# ------------------------------------------------------------------------------------ compare

COMPARE = {
    "sales_volume_monthly": (["month", "org_no", "elec_type", "voltage", "industry_section"],
                             {"customers_billed": 0, "sales_kwh": 0.005, "amount_yuan": 0.005,
                              "sales_kwh_prev_year": 0.005, "sales_kwh_yoy_rate": 1e-9}),
    "recovery_monthly": (["month", "org_no", "elec_type"],
                         {"billed_yuan": 0.005, "collected_yuan": 0.005, "recovery_rate": 1e-9,
                          "collected_by_due_yuan": 0.005, "on_time_recovery_rate": 1e-9, "refund_yuan": 0.005}),
    "customer_value": (["cons_no"],
                       {"elec_type": None, "profit_yuan": 0.005, "revenue_yuan": 0.005, "kwh": 0.005,
                        "abc_class": None, "recency_days": 0, "frequency": 0, "monetary_yuan": 0.005,
                        "r_score": 0, "f_score": 0, "m_score": 0}),
}


def compare(work_db: Path, peer_dir: Path) -> dict:
    """Full outer join on the grain; a value differs when |a − b| > tolerance (relative for rates),
    or when exactly one side is NULL, or (text) when unequal."""
    con = duckdb.connect(str(work_db), read_only=True)
    out = {}
    for table, (keys, cols) in COMPARE.items():
        pq = peer_dir / f"{table}.parquet"
        if not pq.is_file():
            out[table] = {"error": f"{pq} missing"}
            continue
        con.execute(f"create or replace temp view peer as select * from read_parquet('{pq}')")
        on = " and ".join(f"w.{k} is not distinct from p.{k}" for k in keys)
        cnt = con.execute(f"""select count(*) filter (where w.{keys[0]} is not null and p.{keys[0]} is null),
                                     count(*) filter (where w.{keys[0]} is null and p.{keys[0]} is not null),
                                     count(*) filter (where w.{keys[0]} is not null and p.{keys[0]} is not null),
                                     (select count(*) from marts.{table}), (select count(*) from peer)
                              from marts.{table} w full join peer p on {on}""").fetchone()
        res = {"rows_powercrm": cnt[3], "rows_peer": cnt[4], "only_powercrm": cnt[0], "only_peer": cnt[1],
               "matched": cnt[2], "columns": {}, "samples": {}}
        for col, tol in cols.items():
            if tol is None:
                diff = f"w.{col} is distinct from p.{col}"
            elif col.endswith("_rate"):
                diff = (f"(w.{col} is null) <> (p.{col} is null) or "
                        f"abs(w.{col} - p.{col}) > {tol} * greatest(1, abs(p.{col}))")
            else:
                diff = f"(w.{col} is null) <> (p.{col} is null) or abs(cast(w.{col} as double) - p.{col}) > {tol}"
            n = con.execute(f"select count(*) from marts.{table} w join peer p on {on} where {diff}").fetchone()[0]
            res["columns"][col] = n
            if n:
                sample = con.execute(
                    f"select {', '.join('w.' + k for k in keys)}, w.{col} as powercrm, p.{col} as peer "
                    f"from marts.{table} w join peer p on {on} where {diff} order by all limit 5").fetchall()
                res["samples"][col] = [list(map(str, r)) for r in sample]
        if cnt[0] or cnt[1]:
            res["samples"]["_rows"] = [list(map(str, r)) for r in con.execute(
                f"select {', '.join(f'coalesce(cast(w.{k} as varchar), cast(p.{k} as varchar))' for k in keys)}, "
                f"case when p.{keys[0]} is null then 'only powercrm' else 'only peer' end "
                f"from marts.{table} w full join peer p on {on} "
                f"where w.{keys[0]} is null or p.{keys[0]} is null order by all limit 5").fetchall()]
        res["mismatched_values"] = sum(res["columns"].values())
        out[table] = res
    con.close()
    return out


def main(argv: list[str]) -> int:
    cmd, args = argv[0], argv[1:]
    if cmd == "floor":
        _out(floor(Path(args[0])))
    elif cmd == "load":
        _out(load(Path(args[0]), Path(args[1]), args[2:]))
    elif cmd == "publish":
        _out(publish_only(Path(args[0]), Path(args[1])))
    elif cmd == "tables":
        _out(tables(Path(args[0])))
    elif cmd == "queries":
        _out(queries(Path(args[0]), Path(args[1]), int(args[2]), int(args[3])))
    elif cmd == "compare":
        _out(compare(Path(args[0]), Path(args[1])))
    elif cmd == "explain":
        _out(explain(Path(args[0]), Path(args[1])))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
