"""Publishing: only core/marts/audit, views as tables, comments kept, atomic swap, failures leave the
published file alone, and DuckDB 1.x clients can open the result."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import duckdb
import pytest

from powercrm.publish import PublishError, WarehouseFiles, publish, record_publish, rollback

DUCKDB1_VERSION = "1.1.3"
DUCKDB1_VENV = Path(os.environ.get("POWERCRM_DUCKDB1_VENV") or "/tmp/powercrm-duckdb1-venv")


def make_work(path: Path, n: int = 3, comment: str = "One row per payment.") -> Path:
    con = duckdb.connect(str(path))
    con.execute("""
        create schema if not exists raw; create schema if not exists meta; create schema if not exists staging;
        create schema if not exists intermediate; create schema if not exists core; create schema if not exists marts;
        create schema if not exists audit;
        create or replace table raw.payment as select 'P' || range as pay_id from range(5);
        create or replace table meta.load_log as select 'payment' as extract, date '2024-03-05' as business_date,
            'x' as manifest_sha256, 'f' as files, 5 as rows_in, 5 as rows_loaded, 0 as rows_quarantined,
            'LOADED' as status, '' as message, now()::timestamp as loaded_at, 'r1' as run_id, 0.1 as seconds;
        create or replace table meta.quarantine (extract varchar, business_date date, file varchar, record_no bigint,
            reason varchar, raw_text varchar, key_text varchar, manifest_sha256 varchar, loaded_at timestamp);
        create or replace view staging.stg as select * from raw.payment;
        create or replace table intermediate.i as select 1 as x;
        create or replace table audit.check_results as select 'not_null' as check_name, 'pass' as status;
    """)
    con.execute(f"create or replace table core.fct_payment as select 'P' || range as pay_id, "
                f"cast(range as decimal(18,2)) as amount_yuan from range({n})")
    con.execute(f"comment on table core.fct_payment is '{comment}'")
    con.execute("comment on column core.fct_payment.amount_yuan is 'Amount paid, yuan.'")
    con.execute("create or replace view marts.payment_summary as select count(*) as payments, "
                "sum(amount_yuan) as amount_yuan from core.fct_payment")
    con.execute("comment on view marts.payment_summary is 'One row: all payments.'")
    con.close()
    return path


def tables(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute("select schema_name, table_name from duckdb_tables() order by 1, 2").fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in names}
    finally:
        con.close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_copies_only_core_marts_audit_as_tables_with_comments(tmp_path):
    work = make_work(tmp_path / "w.work.duckdb")
    pub = tmp_path / "out" / "w.duckdb"
    pub.parent.mkdir()
    res = publish(work, pub, run_info={"run_id": "r1", "data_date": "2024-03-05"})
    assert tables(pub) == {"audit.check_results": 1, "audit.load_log": 1, "audit.publish_log": 1,
                           "audit.quarantine": 0, "core.fct_payment": 3, "marts.payment_summary": 1}
    assert res.fallbacks == ["audit.load_log", "audit.quarantine"]  # the work db had no audit.load_log
    assert res.table_count == 6 and res.kept_previous is None
    con = duckdb.connect(str(pub), read_only=True)
    try:
        schemas = {r[0] for r in con.execute("select schema_name from duckdb_schemas() where not internal").fetchall()}
        assert schemas == {"core", "marts", "audit"}
        assert con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0] == 0
        assert con.execute("select comment from duckdb_tables() where table_name = 'fct_payment'").fetchone()[0] == \
            "One row per payment."
        assert con.execute("select comment from duckdb_tables() where table_name = 'payment_summary'").fetchone()[0] \
            == "One row: all payments."
        assert con.execute("select comment from duckdb_columns() where table_name = 'fct_payment' "
                           "and column_name = 'amount_yuan'").fetchone()[0] == "Amount paid, yuan."
        assert con.execute("select data_type from duckdb_columns() where table_name = 'fct_payment' "
                           "and column_name = 'amount_yuan'").fetchone()[0] == "DECIMAL(18,2)"
    finally:
        con.close()
    assert not WarehouseFiles(pub).next.exists()


def test_second_publish_keeps_the_previous_file_and_rollback_puts_it_back(tmp_path):
    pub = tmp_path / "w.duckdb"
    publish(make_work(tmp_path / "w.work.duckdb", n=3), pub)
    first = sha(pub)
    res = publish(make_work(tmp_path / "w.work.duckdb", n=7), pub)
    files = WarehouseFiles(pub)
    assert res.kept_previous == files.prev
    assert sha(files.prev) == first
    assert tables(pub)["core.fct_payment"] == 7
    second = sha(pub)
    restored, kept = rollback(pub)
    assert restored == files.prev and kept == files.rolled_back
    assert sha(pub) == first and sha(files.rolled_back) == second
    assert not files.prev.exists()
    with pytest.raises(PublishError, match="no previous file"):
        rollback(pub)


def test_reader_with_the_file_open_keeps_its_snapshot(tmp_path):
    pub = tmp_path / "w.duckdb"
    publish(make_work(tmp_path / "w.work.duckdb", n=3), pub)
    reader = duckdb.connect(str(pub), read_only=True)
    try:
        assert reader.execute("select count(*) from core.fct_payment").fetchone()[0] == 3
        publish(make_work(tmp_path / "w.work.duckdb", n=9), pub)
        assert reader.execute("select count(*), sum(amount_yuan) from core.fct_payment").fetchone() == (3, 3)
        # a new reader (another process: this one's DuckDB caches the open instance) sees the new file
        code = "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True).execute('select count(*) from core.fct_payment').fetchone()[0])"
        p = subprocess.run([sys.executable, "-c", code, str(pub)], capture_output=True, text=True, timeout=60)
        assert p.stdout.strip() == "9", p.stderr
    finally:
        reader.close()


def test_unwritable_directory_publishes_nothing(tmp_path):
    work = make_work(tmp_path / "w.work.duckdb")
    out = tmp_path / "out"
    out.mkdir()
    pub = out / "w.duckdb"
    publish(work, pub)
    before = sha(pub)
    immutable = _make_unwritable(out)
    try:
        with pytest.raises(PublishError) as err:
            publish(make_work(tmp_path / "w.work.duckdb", n=8), pub)
    finally:
        _make_writable(out, immutable)
    msg = str(err.value)
    assert str(WarehouseFiles(pub).next) in msg
    assert "ermission denied" in msg or "not permitted" in msg
    assert sha(pub) == before
    assert not WarehouseFiles(pub).next.exists() and not WarehouseFiles(pub).prev.exists()


DISK_FULL_SCRIPT = """
import resource, signal, sys
from pathlib import Path
from powercrm.publish import PublishError, publish
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG, like ENOSPC
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), int(sys.argv[3])))
try:
    publish(Path(sys.argv[1]), Path(sys.argv[2]))
except PublishError as e:
    print(e)
    sys.exit(1)
"""


def test_disk_full_publishes_nothing(tmp_path):
    work = make_work(tmp_path / "w.work.duckdb", n=200_000)
    pub = tmp_path / "w.duckdb"
    publish(make_work(tmp_path / "small.work.duckdb", n=2), pub)
    before = sha(pub)
    limit = 300_000  # bytes: less than the next file needs
    assert work.stat().st_size > limit
    p = subprocess.run([sys.executable, "-c", DISK_FULL_SCRIPT, str(work), str(pub), str(limit)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stderr
    assert p.stdout.startswith(f"cannot write {WarehouseFiles(pub).next}:"), p.stdout
    assert "Traceback" not in p.stdout + p.stderr
    assert sha(pub) == before
    assert not WarehouseFiles(pub).next.exists()
    assert tables(pub)["core.fct_payment"] == 2


def test_missing_work_database(tmp_path):
    with pytest.raises(PublishError, match="does not exist"):
        publish(tmp_path / "nope.work.duckdb", tmp_path / "nope.duckdb")


def test_published_file_opens_with_duckdb_1x(tmp_path):
    python = duckdb1_python()
    work = make_work(tmp_path / "w.work.duckdb")
    pub = tmp_path / "w.duckdb"
    publish(work, pub)
    code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print(duckdb.__version__, c.execute('select count(*), sum(amount_yuan) from core.fct_payment').fetchone(), "
            "c.execute(\"select comment from duckdb_tables() where table_name = 'fct_payment'\").fetchone()[0])")
    p = subprocess.run([str(python), "-c", code, str(pub)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"{DUCKDB1_VERSION} (3, Decimal('3.00')) One row per payment."


def duckdb1_python() -> Path:
    """A cached venv with duckdb 1.x (created once); skips when PyPI cannot be reached."""
    python = DUCKDB1_VENV / "bin" / "python"
    ok = DUCKDB1_VENV / ".ok"
    if ok.exists() and python.exists():
        return python
    shutil.rmtree(DUCKDB1_VENV, ignore_errors=True)
    venv.create(DUCKDB1_VENV, with_pip=True)
    p = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        f"duckdb=={DUCKDB1_VERSION}"], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        shutil.rmtree(DUCKDB1_VENV, ignore_errors=True)
        pytest.skip(f"cannot install duckdb=={DUCKDB1_VERSION} from PyPI: {p.stderr.strip()[-300:]}")
    ok.write_text(DUCKDB1_VERSION)
    return python


def _make_unwritable(d: Path) -> bool:
    """chmod 555; as root (which ignores modes) the immutable attribute instead. -> whether chattr was used."""
    if os.geteuid() != 0:
        d.chmod(0o555)
        return False
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode:
        pytest.skip("running as root without `chattr +i`: cannot make a directory unwritable")
    return True


def _make_writable(d: Path, immutable: bool) -> None:
    if immutable:
        subprocess.run(["chattr", "-i", str(d)], check=True)
    else:
        d.chmod(0o755)


def test_a_wal_left_beside_the_published_file_goes_with_the_previous_version(tmp_path):
    pub = tmp_path / "w.duckdb"
    publish(make_work(tmp_path / "w.work.duckdb", n=3), pub)
    # someone opened the published file read-write and died before a checkpoint: a WAL is left
    code = ("import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); "
            "c.execute('create table core.analyst_notes as select 42 as x'); os._exit(0)")
    subprocess.run([sys.executable, "-c", code, str(pub)], check=True, timeout=60)
    wal = Path(str(pub) + ".wal")
    assert wal.exists()
    publish(make_work(tmp_path / "w.work.duckdb", n=5), pub)
    assert not wal.exists()
    assert Path(str(WarehouseFiles(pub).prev) + ".wal").exists()
    assert tables(pub) == {"audit.check_results": 1, "audit.load_log": 1, "audit.quarantine": 0,
                           "core.fct_payment": 5, "marts.payment_summary": 1}


def test_publish_bounds_duckdb_memory_from_the_environment(tmp_path, monkeypatch):
    import powercrm.publish as publish_module

    work = make_work(tmp_path / "w.work.duckdb")
    pub = tmp_path / "w.duckdb"
    seen: list[str] = []
    real = publish_module.bound_memory

    def spy(con, temp_dir):
        real(con, temp_dir)
        seen.append(con.execute("select current_setting('memory_limit')").fetchone()[0])
        seen.append(con.execute("select current_setting('temp_directory')").fetchone()[0])

    monkeypatch.setattr(publish_module, "bound_memory", spy)
    monkeypatch.setenv("POWERCRM_DUCKDB_MEMORY_LIMIT", "300MB")
    publish(work, pub)
    assert seen[0] == "286.1 MiB"  # 300 000 000 bytes, as DuckDB shows it
    assert seen[1] == str(tmp_path / "w.work.duckdb.tmp")
    monkeypatch.setenv("POWERCRM_DUCKDB_MEMORY_LIMIT", "lots")
    before = sha(pub)
    with pytest.raises(PublishError, match="POWERCRM_DUCKDB_MEMORY_LIMIT='lots' is not a DuckDB memory size"):
        publish(work, pub)
    assert sha(pub) == before and not WarehouseFiles(pub).next.exists()


# ---- patch mode: a nightly publish starts from a copy of the published file

def _fact_work(path: Path, days: int = 4, per_day: int = 50) -> Path:
    """A working database with a fact partitioned by business_date and a table without a partition column."""
    make_work(path)
    con = duckdb.connect(str(path))
    con.execute(f"create or replace table core.fct_line as select 'L' || range as line_id, "
                f"date '2024-03-01' + cast(range // {per_day} as integer) as business_date, "
                f"cast(range as decimal(18, 2)) as amount_yuan from range({days * per_day})")
    con.execute("comment on table core.fct_line is 'One row per line.'")
    con.execute("create or replace table marts.customer_score as select 'C' || range as cons_no, range % 7 as score "
                "from range(300)")
    con.close()
    return path


def _differences(pub: Path, work: Path) -> dict[str, tuple[int, int]]:
    """Every published table (the publish log and the loader's audit tables aside) against the working
    database's relation of the same name: rows only in one side, EXCEPT ALL both ways."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{pub}' as p (read_only)")
        con.execute(f"attach '{work}' as w (read_only)")
        names = con.execute("select schema_name, table_name from duckdb_tables() where database_name = 'p' "
                            "and table_name not in ('publish_log', 'load_log', 'quarantine')").fetchall()
        out = {}
        for s, t in names:
            a = con.execute(f"select count(*) from (select * from p.{s}.{t} except all select * from w.{s}.{t})").fetchone()[0]
            b = con.execute(f"select count(*) from (select * from w.{s}.{t} except all select * from p.{s}.{t})").fetchone()[0]
            if a or b:
                out[f"{s}.{t}"] = (a, b)
        return out
    finally:
        con.close()


@pytest.mark.parametrize("buckets", [None, 4, 1 << 20], ids=["rows", "4-buckets", "1M-buckets"])
def test_patch_publish_replaces_only_the_changed_partitions(tmp_path, monkeypatch, buckets):
    import powercrm.publish as publish_module

    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    if buckets:  # the changed partitions' rows are compared in buckets first: the same outcome
        monkeypatch.setattr(publish_module, "PATCH_BUCKET_MIN_ROWS", 0)
        monkeypatch.setattr(publish_module, "PATCH_BUCKETS", buckets)
    else:
        monkeypatch.setattr(publish_module, "PATCH_BUCKET_MIN_ROWS", 10 ** 12)
    seen = []
    real = publish_module._differing_buckets
    monkeypatch.setattr(publish_module, "_differing_buckets", lambda *a: seen.append(a[4]) or scopes.append(a[3])
                        or real(*a))
    scopes: list[str] = []
    work = _fact_work(tmp_path / "w.work.duckdb", days=8)
    pub = tmp_path / "w.duckdb"
    first = publish(work, pub, run_info={"run_id": "r1"}, patch=True)
    assert first.mode == "full" and first.why_full == "no published file yet"

    con = duckdb.connect(str(work))
    con.execute("delete from core.fct_line where business_date = date '2024-03-02' and line_id = 'L60'")
    con.execute("update core.fct_line set amount_yuan = 7 where line_id = 'L170'")          # 2024-03-04
    con.execute("insert into core.fct_line values ('L999', date '2024-03-05', 1.50), ('L998', null, 2.50)")
    con.execute("insert into core.fct_line select * from core.fct_line where line_id = 'L250'")  # 03-06, twice now
    con.execute("delete from core.fct_line where business_date = date '2024-03-07'")        # a day gone (50 rows)
    con.execute("insert into core.fct_line values ('N1', date '2024-03-20', 1), ('N2', date '2024-03-20', 2)")  # new
    con.execute("update marts.customer_score set score = 99 where cons_no = 'C5'")          # no partition column
    con.execute("create table marts.new_mart as select 1 as x")
    con.execute("drop view marts.payment_summary")
    con.close()

    second = publish(work, pub, run_info={"run_id": "r2"}, patch=True)
    assert second.mode == "patch", second.why_full
    # 2024-03-02, 03-04, 03-05, 03-06, the NULL group, the day gone and the new day differ; the other
    # two days are not looked at row by row. 03-07 (published only) goes whole, 03-20 (work only)
    # comes whole, NULL (work only) too; inside the others rows are a multiset by hash: L60, the old
    # L170 and the one published L250 go; the new L170, L999 and both copies of L250 come
    assert second.patched["core.fct_line"] == "53 rows deleted, 7 inserted (in 7 business_date partitions)"
    assert second.patched["core.fct_payment"] == "unchanged"  # no partition column, same rows
    assert second.patched["marts.customer_score"] == "1 row deleted, 1 inserted (compared whole)"
    assert second.patched["marts.new_mart"] == "written"
    assert "marts.payment_summary" not in second.patched
    assert _differences(pub, work) == {}
    assert "marts.payment_summary" not in tables(pub) and tables(pub)["marts.new_mart"] == 1
    assert seen == (["line_id", "cons_no"] if buckets else [])  # the bucket step ran where asked
    assert second.kept_buckets == []  # tables below KEPT_BUCKETS_MIN_ROWS keep no bucket sums
    if buckets:  # only the partitions on both sides are compared; one-sided ones are never scanned for it
        assert "2024-03-02" in scopes[0] and "2024-03-06" in scopes[0]
        assert "2024-03-07" not in scopes[0] and "2024-03-20" not in scopes[0] and "is null" not in scopes[0]

    # every score changes: more than PATCH_MAX_CHANGED of the rows would be inserted, so written afresh
    con = duckdb.connect(str(work))
    con.execute("update marts.customer_score set score = score + 1")
    con.execute("update core.fct_line set amount_yuan = amount_yuan + 1 where business_date = date '2024-03-08'")
    con.close()
    third = publish(work, pub, run_info={"run_id": "r3"}, patch=True)
    assert third.patched["marts.customer_score"] == "written"
    con = duckdb.connect(str(work), read_only=True)
    score_sum = con.execute("select sum(cast(hash(cons_no, score) as hugeint)) from marts.customer_score").fetchone()[0]
    con.close()
    # the sums of a patch that gave up are kept for the next night (no second pass over the table)
    assert third.summaries[("marts", "customer_score")][1] == {"0": (300, score_sum)}
    # the third night starts from the previous version, r1's file (not a copy of r2's): it gets the
    # second night's changes too. 03-02: L60 goes (1 deleted); 03-04: L170 (1, 1); 03-05: L999 (0,
    # 1); NULL: L998 (0, 1); 03-06: L250 (1, 2); 03-07: gone (50, 0); 03-08: 50 new amounts (50, 50);
    # 03-20: new (0, 2)
    assert third.start == "previous"
    assert third.patched["core.fct_line"] == "103 rows deleted, 57 inserted (in 8 business_date partitions)"
    assert _differences(pub, work) == {}
    con = duckdb.connect(str(pub), read_only=True)
    try:
        assert con.execute("select comment from duckdb_tables() where table_name = 'fct_line'").fetchone()[0] == \
            "One row per line."
        assert con.execute("select run_id from audit.publish_log").fetchall() == [("r3",)]  # no meta history here
        assert con.execute("select tags['storage_version'] from duckdb_databases() "
                           "where database_name = current_database()").fetchone()[0].startswith("v1.0.0")
    finally:
        con.close()


def test_patch_publish_falls_back_to_a_full_write(tmp_path, monkeypatch):
    import powercrm.publish as publish_module

    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    work = _fact_work(tmp_path / "w.work.duckdb")
    pub = tmp_path / "w.duckdb"
    publish(work, pub)
    wal = Path(str(pub) + ".wal")
    wal.write_bytes(b"")  # someone opened it read-write
    res = publish(work, pub, patch=True)
    assert res.mode == "full" and "wal" in res.why_full
    assert _differences(pub, work) == {}


@pytest.mark.parametrize("buckets", [False, True], ids=["rows", "buckets"])
def test_patch_publish_of_a_view_and_of_rows_that_repeat(tmp_path, monkeypatch, buckets):
    """The rows to replace are found by row id on both sides; a view (no row ids) is patched from a
    copy of its rows in scope. Rows that repeat are a multiset: one copy more or less is patched."""
    import powercrm.publish as publish_module

    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    monkeypatch.setattr(publish_module, "PATCH_BUCKET_MIN_ROWS", 0 if buckets else 10 ** 12)
    work = _fact_work(tmp_path / "w.work.duckdb")
    con = duckdb.connect(str(work))
    con.execute("create view marts.line_view as select line_id, business_date, amount_yuan * 2 as doubled "
                "from core.fct_line")
    con.execute("insert into core.fct_line select * from core.fct_line where line_id in ('L3', 'L4')")  # twice each
    con.close()
    pub = tmp_path / "w.duckdb"
    publish(work, pub, run_info={"run_id": "r1"})
    con = duckdb.connect(str(work))
    con.execute("update core.fct_line set amount_yuan = 1000 where line_id = 'L70'")           # 03-02
    con.execute("delete from core.fct_line where rowid in (select min(rowid) from core.fct_line "
                "where line_id = 'L3')")                                                       # 03-01: one copy of two
    con.execute("insert into core.fct_line select * from core.fct_line where line_id = 'L120'")  # 03-03: a second copy
    con.close()
    res = publish(work, pub, run_info={"run_id": "r2"}, patch=True)
    assert res.mode == "patch", res.why_full
    # by hash, as a multiset: every row of a hash whose count differs is replaced. L70: its old row
    # goes, its new row comes; L3: both published copies go, the one working copy comes; L120: the
    # published copy goes, both working copies come
    assert res.patched["core.fct_line"] == "4 rows deleted, 4 inserted (in 3 business_date partitions)"
    assert res.patched["marts.line_view"] == "4 rows deleted, 4 inserted (in 3 business_date partitions)"
    assert _differences(pub, work) == {}
    assert tables(pub)["core.fct_line"] == 202 and tables(pub)["marts.line_view"] == 202  # 200 + 2 - 1 + 1


def test_patch_publish_compares_a_rolled_back_file_instead_of_trusting_it(tmp_path, monkeypatch):
    import powercrm.publish as publish_module

    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    work = _fact_work(tmp_path / "w.work.duckdb")
    pub = tmp_path / "w.duckdb"
    publish(work, pub)
    con = duckdb.connect(str(work))
    con.execute("update core.fct_line set amount_yuan = amount_yuan + 1 where business_date = date '2024-03-03'")
    con.close()
    assert publish(work, pub, patch=True).mode == "patch"
    rollback(pub)  # the analysts' file is the older one again
    res = publish(work, pub, patch=True)
    assert res.mode == "patch"
    assert res.patched["core.fct_line"] == "50 rows deleted, 50 inserted (in 1 business_date partition)"
    assert _differences(pub, work) == {}


def test_patch_publish_reuses_the_sums_its_last_publish_kept(tmp_path, monkeypatch):
    import powercrm.publish as publish_module

    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    work = _fact_work(tmp_path / "w.work.duckdb")  # fct_line: 50 lines a day, 2024-03-01 .. 03-04
    pub = tmp_path / "w.duckdb"

    def night(run_id: str, change: str | None = None):
        if change:
            con = duckdb.connect(str(work))
            con.execute(change)
            con.close()
        res = publish(work, pub, run_info={"run_id": run_id}, patch=True)
        con = duckdb.connect(str(work))
        record_publish(con, {"run_id": run_id}, res)
        con.close()
        return res

    first = night("r1")
    assert first.mode == "full" and first.known_sides == 0
    assert ("core", "fct_line") in first.summaries  # a full write keeps the sums of what it wrote
    second = night("r2")
    assert second.mode == "patch" and second.known_sides > 0  # r1's file, with r1's sums
    assert second.start == "copy" and "no previous version" in second.why_copy
    assert second.patched["core.fct_line"] == "unchanged"
    # the next night starts from the previous version, r1's file (no copy), whose sums r2 kept too:
    # only the working side is hashed. To see that the kept sums are what is compared, one of them
    # is made wrong (for every run): its partition (03-03) goes to the row comparison, which finds
    # no row to replace there
    con = duckdb.connect(str(work))
    con.execute("update meta.publish_partitions set row_hash = 0 "
                "where table_name = 'fct_line' and partition_value = '2024-03-03'")
    con.close()
    third = night("r3", "update core.fct_line set amount_yuan = 5 where line_id = 'L10'")  # 03-01
    assert third.start == "previous" and third.known_sides > 0  # r1's file, with r1's (wrong) sums
    assert third.patched["core.fct_line"] == "1 row deleted, 1 inserted (in 2 business_date partitions)"
    assert _differences(pub, work) == {}

    # the analysts' file goes back to r2's, which lacks the change of L10. r3 kept the sums of the
    # file it published and of the previous version (r2's), so r2's describe the file now
    # published: 03-01 is found different by them (and 03-03, whose sum is still wrong, finds no
    # row to replace)
    rollback(pub)
    fourth = night("r4", "update core.fct_line set amount_yuan = 6 where line_id = 'L60'")  # 03-02
    assert fourth.known_sides > 0
    assert fourth.patched["core.fct_line"] == "2 rows deleted, 2 inserted (in 3 business_date partitions)"
    assert _differences(pub, work) == {}
    assert fourth.start == "copy"  # a rollback leaves no previous version
    con = duckdb.connect(str(work), read_only=True)
    # the sums of the file published (r4) and of the previous version (r2's file, the one replaced)
    assert {r[0] for r in con.execute("select distinct run_id from meta.publish_partitions").fetchall()} == {"r2", "r4"}
    con.close()

    # without kept sums (here: removed) both sides are hashed; the result is the same
    con = duckdb.connect(str(work))
    con.execute("delete from meta.publish_partitions")
    con.close()
    fifth = night("r5", "update core.fct_line set amount_yuan = 8 where line_id = 'L110'")  # 03-03
    # the start is the previous version, r2's file: it lacks the changes of L10, L60 and L110
    assert fifth.start == "previous" and fifth.known_sides == 0
    assert fifth.patched["core.fct_line"] == "3 rows deleted, 3 inserted (in 3 business_date partitions)"
    assert _differences(pub, work) == {}


def test_patched_file_opens_with_duckdb_1x(tmp_path, monkeypatch):
    import powercrm.publish as publish_module

    python = duckdb1_python()
    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    work = _fact_work(tmp_path / "w.work.duckdb")
    pub = tmp_path / "w.duckdb"
    publish(work, pub)
    con = duckdb.connect(str(work))
    con.execute("insert into core.fct_line values ('L999', date '2024-03-05', 1.50)")
    con.close()
    assert publish(work, pub, patch=True).mode == "patch"
    code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print(c.execute('select count(*), sum(amount_yuan) from core.fct_line').fetchone())")
    p = subprocess.run([str(python), "-c", code, str(pub)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "(201, Decimal('19901.50'))"  # 0 + 1 + … + 199 = 19900, plus 1.50
    # the next night patches the previous version (the first file) in one transaction: still 1.x
    con = duckdb.connect(str(work))
    con.execute("insert into core.fct_line values ('L998', date '2024-03-05', 2.25)")
    con.close()
    assert publish(work, pub, patch=True).start == "previous"
    p = subprocess.run([str(python), "-c", code, str(pub)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "(202, Decimal('19903.75'))"


# ---- patch mode: the previous version is patched in place of a copy of the published file

def _run_ids(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute("select run_id from audit.publish_log order by rowid").fetchall()]
    finally:
        con.close()


def _three_nights(tmp_path: Path, monkeypatch) -> tuple[Path, Path, WarehouseFiles]:
    """r1 (full), r2 (patch of a copy): the published file is r2's, the previous version r1's."""
    import powercrm.publish as publish_module

    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    work = _fact_work(tmp_path / "w.work.duckdb")
    pub = tmp_path / "w.duckdb"
    assert publish(work, pub, run_info={"run_id": "r1"}, patch=True).mode == "full"
    con = duckdb.connect(str(work))
    con.execute("update core.fct_line set amount_yuan = 1 where line_id = 'L10'")  # 03-01
    con.close()
    assert publish(work, pub, run_info={"run_id": "r2"}, patch=True).start == "copy"
    con = duckdb.connect(str(work))
    con.execute("update core.fct_line set amount_yuan = 2 where line_id = 'L60'")  # 03-02
    con.close()
    files = WarehouseFiles(pub)
    assert _run_ids(pub) == ["r2"] and _run_ids(files.prev) == ["r1"]
    return work, pub, files


def test_a_night_patches_the_previous_version_instead_of_copying(tmp_path, monkeypatch):
    work, pub, files = _three_nights(tmp_path, monkeypatch)
    current, previous = os.stat(pub).st_ino, os.stat(files.prev).st_ino
    res = publish(work, pub, run_info={"run_id": "r3"}, patch=True)
    assert res.mode == "patch" and res.start == "previous" and res.why_copy == ""
    # r1's file lacks both changes (L10 on 03-01, L60 on 03-02)
    assert res.patched["core.fct_line"] == "2 rows deleted, 2 inserted (in 2 business_date partitions)"
    assert _differences(pub, work) == {}
    # no copy: the published file is r1's file, patched; r2's file is now the previous version
    assert os.stat(pub).st_ino == previous and os.stat(files.prev).st_ino == current
    assert _run_ids(pub) == ["r3"] and _run_ids(files.prev) == ["r2"] and res.previous_run_id == "r2"
    assert not files.next.exists()
    # where the time went: every published table, the checkpoint and the verification; no copy
    assert set(res.step_seconds) == {f"{s}.{t}" for s, ts in res.tables.items() for t, _ in ts} | {
        "checkpoint", "verify"}, res.step_seconds
    assert all(v >= 0 for v in res.step_seconds.values())


def test_a_reader_of_the_previous_version_makes_the_night_copy_instead(tmp_path, monkeypatch):
    work, pub, files = _three_nights(tmp_path, monkeypatch)
    code = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print(c.execute('select count(*) from core.fct_line').fetchone()[0], flush=True); time.sleep(120)")
    reader = subprocess.Popen([sys.executable, "-c", code, str(files.prev)], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "200"  # the dashboard holds r1's file open
        res = publish(work, pub, run_info={"run_id": "r3"}, patch=True)
    finally:
        reader.kill()
        reader.wait()
    assert res.mode == "patch" and res.start == "copy"
    assert "patching the previous version failed" in res.why_copy and "lock" in res.why_copy.lower()
    assert _differences(pub, work) == {}
    assert _run_ids(pub) == ["r3"] and _run_ids(files.prev) == ["r2"]


def test_a_failed_patch_leaves_the_previous_version_as_it_was(tmp_path, monkeypatch):
    import powercrm.publish as publish_module

    work, pub, files = _three_nights(tmp_path, monkeypatch)
    published_sha, previous_sha = sha(pub), sha(files.prev)
    real_patch = publish_module._patch_table

    def patch_then_fail(con, schema, table, *args, **kwargs):
        done = real_patch(con, schema, table, *args, **kwargs)
        if table == "fct_line":  # its rows were deleted and inserted: then the patch breaks
            assert done.startswith("2 rows deleted") or done.startswith("1 row deleted")
            raise duckdb.IOException("disk error while patching")
        return done

    def verify_fails(*args, **kwargs):
        raise PublishError("verification failed")

    monkeypatch.setattr(publish_module, "_patch_table", patch_then_fail)
    monkeypatch.setattr(publish_module, "verify", verify_fails)
    # the previous version fails, then a copy of the published file, then the full write's verification
    with pytest.raises(PublishError, match="verification failed"):
        publish(work, pub, run_info={"run_id": "r3"}, patch=True)
    # the patch of the previous version rolled back: it is byte for byte r1's file, under its name
    assert sha(files.prev) == previous_sha and sha(pub) == published_sha
    assert _run_ids(files.prev) == ["r1"] and not files.next.exists()

    monkeypatch.setattr(publish_module, "verify", lambda *a, **k: None)
    res = publish(work, pub, run_info={"run_id": "r3"}, patch=True)
    assert res.mode == "full" and "patching failed" in res.why_full and "disk error" in res.why_full
    assert "patching the previous version failed" in res.why_copy
    assert _differences(pub, work) == {} and _run_ids(files.prev) == ["r2"]


def test_patch_publish_writes_a_mart_as_of_the_data_date_afresh_without_comparing_it(tmp_path, monkeypatch):
    import powercrm.publish as publish_module

    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    monkeypatch.setattr(publish_module, "PATCH_MAX_CHANGED", 1.0)  # a row comparison would patch every row
    work = _fact_work(tmp_path / "w.work.duckdb")
    con = duckdb.connect(str(work))
    con.execute("create table marts.customer_asof as select 'C' || range as cons_no, date '2025-01-30' as as_of_date, "
                "range % 5 as score, case when range % 2 = 0 then date '2024-06-01' end as last_paid from range(200)")
    con.close()
    pub = tmp_path / "w.duckdb"
    publish(work, pub, run_info={"run_id": "r1"}, patch=True)
    con = duckdb.connect(str(work))
    con.execute("update marts.customer_asof set as_of_date = date '2025-01-31'")   # the data date moved
    con.execute("update marts.customer_score set score = score + 1")                # no date column: compared
    con.close()
    second = publish(work, pub, run_info={"run_id": "r2"}, patch=True)
    assert second.patched["marts.customer_asof"] == "written"
    assert second.patched["marts.customer_score"] == "300 rows deleted, 300 inserted (compared whole)"
    # a date column with NULLs (last_paid) or one value shared by both sides says nothing: compared
    con = duckdb.connect(str(work))
    con.execute("update marts.customer_asof set score = 9 where cons_no = 'C1'")
    con.close()
    third = publish(work, pub, run_info={"run_id": "r3"}, patch=True)
    assert third.patched["marts.customer_asof"] == "written"  # from r1's file, as of 2025-01-30
    # the fourth starts from r2's file, as of 2025-01-31 like the working database: compared row by row
    fourth = publish(work, pub, run_info={"run_id": "r4"}, patch=True)
    assert fourth.start == "previous"
    assert fourth.patched["marts.customer_asof"] == "1 row deleted, 1 inserted (compared whole)"
    assert _differences(pub, work) == {}



def _kept_nights(tmp_path, monkeypatch):
    """(work, pub, night(run_id, *changes) -> PublishResult, the kept bucket files, what was bucketed
    how: ("both" | "kept", table, differing buckets)) for fct_line of 50 lines a day, 2024-03-01 ..
    03-04, bucket steps on every table (1M buckets)."""
    import powercrm.publish as publish_module

    monkeypatch.setattr(publish_module, "PATCH_MIN_ROWS", 0)
    monkeypatch.setattr(publish_module, "PATCH_BUCKET_MIN_ROWS", 0)
    monkeypatch.setattr(publish_module, "KEPT_BUCKETS_MIN_ROWS", 0)
    work = _fact_work(tmp_path / "w.work.duckdb")
    pub = tmp_path / "w.duckdb"
    kept_dir = tmp_path / "w.state" / publish_module.BUCKETS_DIR
    seen: list[tuple[str, str, int]] = []
    real, real_kept = publish_module._differing_buckets, publish_module._differing_kept_buckets

    def differing(con) -> int:
        return con.execute("select count(*) from temp._publish_buckets").fetchone()[0]

    def both(con, src, dst, scope, first, row_hash, keep_as=None):
        out = real(con, src, dst, scope, first, row_hash, keep_as)
        seen.append(("both", src.split(".")[-1].strip('"'), differing(con)))
        return out

    def kept(con, schema, table, columns, scope, rows):
        out = real_kept(con, schema, table, columns, scope, rows)
        seen.append(("kept", table, differing(con)))
        return out

    monkeypatch.setattr(publish_module, "_differing_buckets", both)
    monkeypatch.setattr(publish_module, "_differing_kept_buckets", kept)

    def night(run_id: str, *changes: str):
        con = duckdb.connect(str(work))
        for change in changes:
            con.execute(change)
        con.close()
        seen.clear()
        res = publish(work, pub, run_info={"run_id": run_id}, patch=True)
        assert _differences(pub, work) == {}
        return res

    def kept_files() -> list[str]:
        return sorted(f.name for f in kept_dir.iterdir()) if kept_dir.exists() else []

    return work, pub, night, kept_files, seen, kept_dir


def _a_line_a_day(amount: int, first: int) -> str:
    """One line of each of the four days gets a new amount: L<first>, L<first+50>, …"""
    return (f"update core.fct_line set amount_yuan = {amount} "
            f"where line_id in ('L{first}', 'L{first + 50}', 'L{first + 100}', 'L{first + 150}')")


def test_a_night_compares_the_bucket_sums_kept_by_the_night_before_last(tmp_path, monkeypatch):
    work, pub, night, kept_files, seen, _ = _kept_nights(tmp_path, monkeypatch)
    assert night("r1").mode == "full" and kept_files() == []  # a full write keeps no bucket sums
    # r2 starts from a copy of r1's file: both sides bucketed. Every day changed, so fct_line was
    # bucketed whole, and customer_score (one group): their working sides' sums are kept
    r2 = night("r2", _a_line_a_day(5, 1), "update marts.customer_score set score = 99 where cons_no = 'C5'")
    assert r2.start == "copy" and seen == [("both", "fct_line", 4), ("both", "customer_score", 1)]
    assert r2.kept_buckets == ["core.fct_line", "marts.customer_score"] and kept_files() == ["r2.duckdb"]
    # r3 starts from r1's file (the previous version), which has none kept: both sides again
    r3 = night("r3", _a_line_a_day(6, 2))
    assert r3.start == "previous" and seen == [("both", "fct_line", 8), ("both", "customer_score", 1)]
    assert kept_files() == ["r2.duckdb", "r3.duckdb"]
    # r4 starts from r2's file and compares r2's kept sums: only the working side is bucketed. The
    # buckets that differ, by hand: the lines r3 and r4 changed (8) and the new day's two lines
    r4 = night("r4", _a_line_a_day(7, 3),
               "insert into core.fct_line values ('N1', date '2024-03-20', 1), ('N2', date '2024-03-20', 2)")
    assert r4.start == "previous" and seen == [("kept", "fct_line", 10)]  # customer_score: unchanged
    assert r4.patched["core.fct_line"] == "8 rows deleted, 10 inserted (in 5 business_date partitions)"
    assert r4.patched["marts.customer_score"] == "unchanged"
    assert kept_files() == ["r3.duckdb", "r4.duckdb"]  # those of the file published and the previous version


def test_wrong_kept_bucket_sums_cost_work_never_a_wrong_file(tmp_path, monkeypatch):
    work, pub, night, kept_files, seen, kept_dir = _kept_nights(tmp_path, monkeypatch)
    night("r1")
    night("r2", _a_line_a_day(5, 1))
    night("r3", _a_line_a_day(6, 2))
    con = duckdb.connect(str(kept_dir / "r2.duckdb"))
    assert con.execute("select count(*) from buckets where table_name = 'fct_line'").fetchone()[0] == 200
    con.execute("update buckets set s = 0 where table_name = 'fct_line'")  # every bucket differs now
    con.close()
    r4 = night("r4", _a_line_a_day(7, 3))  # starts from r2's file
    assert seen == [("kept", "fct_line", 200)]
    assert r4.patched["core.fct_line"] == "8 rows deleted, 8 inserted (in 4 business_date partitions)"
    # the sums kept for r3's file cannot be read: the night that starts from it buckets both sides
    (kept_dir / "r3.duckdb").write_bytes(b"not a database")
    r5 = night("r5", _a_line_a_day(8, 4))
    assert seen == [("both", "fct_line", 8)]
    assert r5.patched["core.fct_line"] == "8 rows deleted, 8 inserted (in 4 business_date partitions)"


def test_bucket_sums_that_cannot_be_kept_do_not_stop_the_publish(tmp_path, monkeypatch):
    work, pub, night, kept_files, seen, kept_dir = _kept_nights(tmp_path, monkeypatch)
    night("r1")
    (tmp_path / "w.state").write_text("a file where the state folder should be")
    r2 = night("r2", _a_line_a_day(5, 1))
    assert r2.mode == "patch" and r2.kept_buckets == []
    assert r2.kept_buckets_failure.startswith("cannot keep the bucket sums in ")
    (tmp_path / "w.state").unlink()
    r3 = night("r3", _a_line_a_day(6, 2))
    assert r3.kept_buckets_failure == "" and r3.kept_buckets == ["core.fct_line"]
