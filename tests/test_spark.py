"""The same dbt project on Spark (docs/spark.md) gives the same figures as on DuckDB.

Builds one landing folder twice: with `powercrm run` (DuckDB, the published file) and with
the Spark loader + `dbt seed`/`dbt run --target spark` in a local PySpark session
(src/powercrm/spark_loader.py, run with the spark venv), exports Spark's core, marts and audit
as Parquet, imports them into DuckDB (powercrm.spark_export) and compares every table figure by
figure: money and kWh (DECIMAL) within 0.01, ratios (DOUBLE) within 1e-6, everything else exactly.

Needs Java and the spark venv: `make spark-test` creates `.venv-spark` and runs this file;
under a plain `make test` it runs only where both are there, and is skipped otherwise.
The landing is the conformance sample (../shared/conformance/landing) when it is beside the
checkout, else POWERCRM_SPARK_TEST_LANDING.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
SPARK_PYTHON = Path(os.environ.get("POWERCRM_SPARK_PYTHON") or REPO / ".venv-spark" / "bin" / "python")
CONFORMANCE = REPO.parent / "shared" / "conformance"
LANDING = Path(os.environ.get("POWERCRM_SPARK_TEST_LANDING") or CONFORMANCE / "landing")

# columns that differ between two builds by nature: when the rows were loaded, and the run
VOLATILE = {"_loaded_at", "loaded_at", "run_id", "seconds", "published_at", "load_id"}
# tables compared by their bookkeeping only (what was loaded, not when or how fast)
SKIP_TABLES = {("audit", "load_log")}
# written by the DuckDB pipeline after dbt (quality gate, publish step), not by a dbt model
DUCKDB_ONLY = {("audit", "check_results"), ("audit", "publish_log")}
# marts that do not build on Spark yet, with the reason (none at the moment)
NOT_PORTABLE: dict[str, str] = {}

# seeds and models (≈ 4.5 min on Spark for the conformance sample). `make spark-test` sets
# POWERCRM_SPARK_TEST_DBT=build: the 434 data tests run on Spark too (Spark enforces no contract:
# the tests do), ≈ 2 min more
DBT_STEPS = os.environ.get("POWERCRM_SPARK_TEST_DBT", "seed+run")

MONEY_TOLERANCE = 0.01
RATIO_TOLERANCE = 1e-6


def _spark_missing() -> str | None:
    if shutil.which("java") is None:
        return "no Java on this machine (apt-get install -y openjdk-17-jre-headless)"
    if not SPARK_PYTHON.is_file():
        return f"no spark venv at {SPARK_PYTHON.parent.parent} (make spark-test creates it)"
    probe = subprocess.run([str(SPARK_PYTHON), "-c", "import pyspark, dbt.adapters.spark"], capture_output=True)
    if probe.returncode != 0:
        return f"the spark venv {SPARK_PYTHON.parent.parent} lacks pyspark or dbt-spark (make spark-test)"
    if not LANDING.is_dir():
        return f"no landing folder {LANDING} (set POWERCRM_SPARK_TEST_LANDING)"
    return None


_MISSING = _spark_missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))]


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("spark")
    timings = {}
    # DuckDB: the nightly run as analysts get it
    duck = tmp / "duck" / "powercrm.duckdb"
    duck.parent.mkdir()
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "powercrm", "run", "--landing", str(LANDING),
                          "--warehouse", str(duck), "--quiet"], capture_output=True, text=True, cwd=REPO)
    timings["duckdb run"] = time.perf_counter() - t0
    assert run.returncode in (0, 3), run.stdout[-3000:] + run.stderr[-3000:]
    # Spark: load, seed, run, export in one local session
    parquet = tmp / "spark-parquet"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "POWERCRM_SPARK_DIR": str(tmp / "spark"),
           "POWERCRM_SPARK_METASTORE": "memory"}
    t0 = time.perf_counter()
    spark = subprocess.run(
        [str(SPARK_PYTHON), str(REPO / "src" / "powercrm" / "spark_loader.py"), "--landing", str(LANDING),
         "--spark-dir", str(tmp / "spark"), "--build", DBT_STEPS, "--export-parquet", str(parquet)],
        capture_output=True, text=True, cwd=REPO, env=env)
    timings[f"spark load + dbt {DBT_STEPS} + export"] = time.perf_counter() - t0
    out = spark.stdout + spark.stderr
    assert spark.returncode == run.returncode, out[-6000:]  # 3: the same partitions rejected
    from powercrm.spark_export import main as spark_export

    spark_db = tmp / "spark" / "powercrm.duckdb"  # the analysts' file, published from Spark's Parquet
    assert spark_export([str(parquet), str(spark_db)]) == 0
    print("\n" + "\n".join(f"{k}: {v:.0f} s" for k, v in timings.items()))
    print("\n".join(line for line in spark.stdout.splitlines() if line.startswith(("load:", "dbt ", "export:"))))
    return {"duck": duck, "spark": spark_db, "log": out}


def _tables(path: Path) -> dict[tuple[str, str], list[tuple[str, str]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_schema in ('core', 'marts', 'audit') order by table_schema, table_name, ordinal_position"
        ).fetchall()
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, typ in rows:
        out.setdefault((schema, table), []).append((column, typ))
    return out


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith("DECIMAL"):
        return "money"
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return "ratio"
    return "exact"


def _close(a, b, kind: str) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) == (
            b is None or (isinstance(b, float) and math.isnan(b)))
    if kind == "money":
        return abs(Decimal(str(a)) - Decimal(str(b))) <= Decimal(str(MONEY_TOLERANCE))
    if kind == "ratio":
        return abs(float(a) - float(b)) <= RATIO_TOLERANCE * max(1.0, abs(float(a)))
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return a == b
    return str(a) == str(b)


def _rows(path: Path, schema: str, table: str, columns: list[tuple[str, str]]) -> list[tuple]:
    """Rows ordered by the exact columns, then by the figures rounded (so both sides align)."""
    exact = [c for c, t in columns if _kind(t) == "exact"]
    figures = [c for c, t in columns if _kind(t) != "exact"]
    order = [f'"{c}" nulls first' for c in exact] + [f'round("{c}", 4) nulls first' for c in figures]
    cols = ", ".join(f'"{c}"' for c, _ in columns)
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f'select {cols} from "{schema}"."{table}" order by {", ".join(order) or "1"}').fetchall()


def test_spark_builds_every_published_table(builds):
    duck, spark = _tables(builds["duck"]), _tables(builds["spark"])
    missing = sorted(f"{s}.{t}" for s, t in duck
                     if (s, t) not in spark and (s, t) not in DUCKDB_ONLY and t not in NOT_PORTABLE)
    assert not missing, f"tables the Spark build lacks: {missing}\n{builds['log'][-4000:]}"


def test_spark_marts_equal_duckdb_figure_by_figure(builds):
    duck, spark = _tables(builds["duck"]), _tables(builds["spark"])
    problems: list[str] = []
    compared = 0
    for (schema, table), dcols in duck.items():
        if (schema, table) in SKIP_TABLES | DUCKDB_ONLY or table in NOT_PORTABLE or (schema, table) not in spark:
            continue
        scols = dict(spark[(schema, table)])
        columns = [(c, t) for c, t in dcols if c not in VOLATILE]
        absent = [c for c, _ in columns if c not in scols]
        if absent:
            problems.append(f"{schema}.{table}: Spark lacks columns {absent}")
            continue
        a = _rows(builds["duck"], schema, table, columns)
        b = _rows(builds["spark"], schema, table, columns)
        compared += 1
        if len(a) != len(b):
            problems.append(f"{schema}.{table}: {len(a)} rows on DuckDB, {len(b)} on Spark")
            continue
        bad = []
        for ra, rb in zip(a, b, strict=True):
            for (c, t), va, vb in zip(columns, ra, rb, strict=True):
                if not _close(va, vb, _kind(t)):
                    bad.append(f"{c}: duckdb {va!r} spark {vb!r}")
        if bad:
            problems.append(f"{schema}.{table}: {len(bad)} figures differ, e.g. {bad[:3]}")
    assert compared >= 40, f"only {compared} tables compared"
    assert not problems, "\n".join(problems)


def test_spark_load_bookkeeping_equals_duckdb(builds):
    q = ("select extract, business_date, status, rows_in, rows_loaded, rows_quarantined from audit.load_log "
         "order by all")
    with duckdb.connect(str(builds["duck"]), read_only=True) as d, duckdb.connect(str(builds["spark"]),
                                                                               read_only=True) as s:
        assert d.execute(q).fetchall() == s.execute(q).fetchall()


@pytest.mark.skipif(LANDING != CONFORMANCE / "landing" or not (CONFORMANCE / "compare.py").is_file(),
                    reason="the landing is not the conformance sample")
def test_spark_published_file_passes_the_conformance_sample(builds):
    res = subprocess.run([sys.executable, str(CONFORMANCE / "compare.py"), str(builds["spark"]),
                          str(CONFORMANCE / "expected"), "--verbose", "10"], capture_output=True, text=True)
    assert "pii_ok=yes" in res.stdout, res.stdout[-4000:]
    assert res.stdout.strip().splitlines()[-1].startswith("tables_ok=14/14 figures_mismatched=0"), res.stdout[-4000:]


# ------------------------------------------------------------------ the loader's rules, on both engines

def _tricky_landing(landing: Path) -> None:
    """Deliveries that exercise every rule and reader path of SOURCE_EXTRACTS.md."""
    from landing_factory import customer, payment, write_partition

    write_partition(landing, "payment", "2024-03-05", [
        payment("P1"),
        payment("P2", amount="12,34"),                      # unparseable number
        payment("P3", channel="ＷＥＣＨＡＴ "),               # full-width + space: a known code
        payment("", amount="1.00"),                         # missing key
        payment("P4", pay_time="2024/03/05 10:00"),         # the second timestamp format
        payment("P5", pay_time="2024-3-5 9:00:00"),         # one-digit fields
        payment("P6", pay_time="2024-02-30 10:00:00"),      # no such day
        payment("P7", channel="CASH"),                      # unknown code
        payment("P8"), payment("P8", amount="11.00"),       # conflicting duplicate
        payment("P9"), payment("P9"),                       # exact duplicate: loaded, deduplicated in staging
        payment("P10", amount="7\n"),                       # a line break after the number
        payment("P11", amount=" -3.5 ", penalty_amount=".5"),
    ])
    header = "pay_id,cons_no,bill_id,pay_time,channel,amount,penalty_amount,reversal_of\n"
    write_partition(landing, "payment", "2024-03-06", raw_text=header
                    + 'P20,3100000001,,2024-03-06 10:00:00,WECHAT,1.00,,\n'
                    + '"P21","3100000001","B ""x""\nline",2024-03-06 11:00:00,APP,2.00,,\n'
                    + 'P22,3100000001,,2024-03-06 12:00:00,ALIPAY,,,\n')
    write_partition(landing, "payment", "2024-03-07", [payment("P30"), payment("P31", channel="KIOSK")], fmt="csv.gz")
    write_partition(landing, "payment", "2024-03-08", [payment("P40"), payment("P41", amount="x")], fmt="parquet")
    write_partition(landing, "payment", "2024-03-09", [payment("P50")], bad_sha=True)
    write_partition(landing, "payment", "2024-03-10", [payment("P60")], rows_delta=1)
    write_partition(landing, "payment", "2024-03-11", [payment("P70")], manifest=False)
    write_partition(landing, "cust", "2024-03-01", [
        customer("3100000001"), customer("3100000002", name="李四", voltage="K99"),
        customer("3100000003", name="王五", elec_type="２００", open_date="2010-5-1"),
    ], encoding="gb18030", crlf=True)


def _duckdb_load(landing: Path, db: Path) -> None:
    from powercrm.ingest.loader import load_landing

    with duckdb.connect(str(db)) as con:
        load_landing(con, landing, "duckdb-run")


def _spark_load(landing: Path, spark_dir: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("POWERCRM_SPARK_METASTORE", None)  # two runs share the metastore on disk
    shutil.rmtree(out, ignore_errors=True)
    return subprocess.run(
        [str(SPARK_PYTHON), str(REPO / "src" / "powercrm" / "spark_loader.py"), "--landing", str(landing),
         "--spark-dir", str(spark_dir), "--export-parquet", str(out), "--export-schemas", "raw,meta"],
        capture_output=True, text=True, cwd=REPO, env=env)


LOADER_QUERIES = {
    "partitions": "select extract, business_date, manifest_sha256, status, rows_in, rows_loaded, rows_quarantined "
                  "from {meta}partitions",
    "load_log": "select run_n, extract, business_date, status, rows_in, rows_loaded, rows_quarantined from ("
                "select *, dense_rank() over (order by loaded_at) as run_n from {meta}load_log)",
    "quarantine": "select extract, business_date, file, record_no, reason, raw_text, key_text from {meta}quarantine",
    "raw.payment": "select * exclude (_loaded_at, _extract) from {raw}payment",
    "raw.cust": "select * exclude (_loaded_at, _extract) from {raw}cust",
}


def _loader_tables(duck_db: Path, spark_out: Path) -> tuple[dict, dict]:
    d, s = {}, {}
    with duckdb.connect(str(duck_db), read_only=True) as con:
        for name, sql in LOADER_QUERIES.items():
            d[name] = sorted(con.execute(f"select * from ({sql.format(meta='meta.', raw='raw.')}) order by all")
                             .fetchall(), key=repr)
    with duckdb.connect() as con:
        for folder in ("meta/partitions", "meta/load_log", "meta/quarantine", "raw/payment", "raw/cust"):
            schema, table = folder.split("/")
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create view {schema}.{table} as select * from read_parquet('{spark_out / folder}/*.parquet')")
        for name, sql in LOADER_QUERIES.items():
            cols = [c[0] for c in duckdb.connect(str(duck_db), read_only=True).execute(
                f"select * from ({sql.format(meta='meta.', raw='raw.')}) limit 0").description]
            s[name] = sorted(con.execute(
                f"select {', '.join(cols)} from ({sql.format(meta='meta.', raw='raw.')}) order by all").fetchall(),
                key=repr)
    return d, s


def test_spark_loader_applies_the_duckdb_loaders_rules(tmp_path):
    """The same landing, loaded twice by each loader (the second time with one partition redelivered
    smaller and a rejected one fixed): the same raw rows, quarantine, partitions and load log."""
    from landing_factory import payment, write_partition

    landing, duck_db, spark_dir, out = tmp_path / "landing", tmp_path / "w.duckdb", tmp_path / "spark", tmp_path / "pq"
    _tricky_landing(landing)
    for run in (1, 2):
        if run == 2:
            write_partition(landing, "payment", "2024-03-05", [payment("P1", amount="99.00"), payment("P2", amount="x")])
            write_partition(landing, "payment", "2024-03-09", [payment("P50")])
        _duckdb_load(landing, duck_db)
        res = _spark_load(landing, spark_dir, out)
        assert res.returncode == 3, res.stdout[-3000:] + res.stderr[-3000:]  # rejected partitions remain
        d, s = _loader_tables(duck_db, out)
        for name in LOADER_QUERIES:
            assert s[name] == d[name], f"run {run}, {name}:\nduckdb {d[name]}\nspark  {s[name]}"
    assert any(r[3] == "UNCHANGED" for r in d["load_log"])
    assert ("payment", "2024-03-05") in {(r[0], str(r[1])) for r in d["quarantine"]}
