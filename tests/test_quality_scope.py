"""The quality gate's scope: an incremental night checks the big facts' changed months only,
a full check (--full-check, first load, rebuild) every row; and the dbt `full_scan` exclusion.

The working database is test_quality's clean little warehouse (bills and bill lines of
2024-01, 2024-02 and 2024-03) with the lines' business dates and a meta.load_log in which run
`r2` loaded the bill_item partition of 2024-04-03, i.e. the lines of billing month 2024-03.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from test_quality import CFG, make_db

from powercrm import pipeline
from powercrm.quality.gate import run_quality
from powercrm.quality.report import write_report

FIXTURE_PROJECT = Path(__file__).parent / "fixtures" / "dbt_project"

SCOPE_SQL = """
alter table core.fct_bill_line add column business_date date;
update core.fct_bill_line set business_date = billing_month + interval 1 month + interval 2 day;
create schema meta;
create table meta.load_log (run_id varchar, extract varchar, business_date date, status varchar);
insert into meta.load_log values
    ('r1', 'bill_item', '2024-02-03', 'LOADED'), ('r1', 'bill_item', '2024-03-03', 'LOADED'),
    ('r2', 'bill_item', '2024-02-03', 'UNCHANGED'), ('r2', 'bill_item', '2024-03-03', 'UNCHANGED'),
    ('r2', 'bill_item', '2024-04-03', 'LOADED');
"""
# B1 is a bill of 2024-01 (an old partition), B5 one of 2024-03 (tonight's)
BAD_OLD = "update core.fct_bill_line set item = 'BOGUS' where bill_id = 'B1' and item_no = 2"
BAD_NEW = "update core.fct_bill_line set item = 'BOGUS' where bill_id = 'B5' and item_no = 2"


def result(outcome, check: str) -> dict:
    return next(r for r in outcome.results if r["check_name"] == check)


def test_incremental_night_does_not_see_a_bad_row_in_an_old_month(tmp_path: Path) -> None:
    db = make_db(tmp_path / "work.duckdb", SCOPE_SQL, BAD_OLD)
    out = run_quality(db, "r2", config=CFG, full_check=False)
    r = result(out, "fct_bill_line.item_valid")
    assert (r["status"], r["failing_rows"]) == ("pass", 0)
    assert r["observed_value"] == "0 of 4 row(s)"  # the four lines of B5 and B6 (2024-03) only
    assert r["scope"] == "changed months only: 2024-03"
    assert out.blocking == []
    # small tables and totals are checked in full whatever the night
    assert result(out, "dim_customer.pk_unique")["scope"] == "full"
    con = duckdb.connect(str(db), read_only=True)
    try:
        got = con.execute("select scope from audit.check_results where run_id = 'r2' "
                          "and check_name = 'fct_bill_line.item_valid'").fetchall()
    finally:
        con.close()
    assert got == [("changed months only: 2024-03",)]


def test_full_check_reports_the_bad_row_in_an_old_month(tmp_path: Path) -> None:
    db = make_db(tmp_path / "work.duckdb", SCOPE_SQL, BAD_OLD)
    out = run_quality(db, "r2", config=CFG, full_check=True)
    r = result(out, "fct_bill_line.item_valid")
    assert (r["status"], r["failing_rows"], r["scope"]) == ("fail", 1, "full")
    assert r["observed_value"] == "1 of 12 row(s)"
    assert out.blocking == ["fct_bill_line.item_valid failed on 1 row of core.fct_bill_line: item is one of the "
                            "bill item codes (ENERGY, BASIC, PF_ADJ, FUND)"]


def test_incremental_night_reports_a_bad_row_in_the_new_month(tmp_path: Path) -> None:
    db = make_db(tmp_path / "work.duckdb", SCOPE_SQL, BAD_NEW)
    out = run_quality(db, "r2", config=CFG, full_check=False)
    r = result(out, "fct_bill_line.item_valid")
    assert (r["status"], r["failing_rows"]) == ("fail", 1)
    assert out.blocking == ["fct_bill_line.item_valid failed on 1 row of core.fct_bill_line (changed months only: "
                            "2024-03): item is one of the bill item codes (ENERGY, BASIC, PF_ADJ, FUND)"]
    page = write_report(db, tmp_path / "q.html", "r2").read_text(encoding="utf-8")
    assert "Incremental check" in page and "changed months only: 2024-03" in page


def test_a_night_that_loaded_nothing_checks_no_month_of_the_big_facts(tmp_path: Path) -> None:
    db = make_db(tmp_path / "work.duckdb", SCOPE_SQL, BAD_NEW,
                 "insert into meta.load_log values ('r3', 'bill_item', '2024-04-03', 'UNCHANGED')")
    out = run_quality(db, "r3", config=CFG, full_check=False)
    r = result(out, "fct_bill_line.item_valid")
    assert (r["status"], r["failing_rows"], r["scope"]) == ("pass", 0, "changed months only: none changed")


def test_a_run_unknown_to_the_load_log_is_checked_in_full(tmp_path: Path) -> None:
    db = make_db(tmp_path / "work.duckdb", SCOPE_SQL, BAD_OLD)
    out = run_quality(db, "manual-1", config=CFG, full_check=False)
    r = result(out, "fct_bill_line.item_valid")
    assert (r["status"], r["failing_rows"], r["scope"]) == ("fail", 1, "full")


def test_the_gate_bounds_duckdb_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_db(tmp_path / "work.duckdb")
    monkeypatch.setenv("POWERCRM_DUCKDB_MEMORY_LIMIT", "not a size")
    with pytest.raises(ValueError, match="POWERCRM_DUCKDB_MEMORY_LIMIT='not a size' is not a DuckDB memory size"):
        run_quality(db, "r1", config=CFG)


# ---------------------------------------------------------------------------------- dbt tests

def test_incremental_build_excludes_the_full_scan_tests(tmp_path: Path) -> None:
    args = pipeline.dbt_build_args(Path("/p"), tmp_path, full_check=False)
    assert args[-2:] == ["--exclude", "tag:full_scan"]
    # a full check runs the full_scan tests and leaves out their nightly stand-ins
    assert pipeline.dbt_build_args(Path("/p"), tmp_path, full_check=True)[-2:] == ["--exclude", "tag:new_rows"]
    assert "tag:full_scan" not in pipeline.dbt_build_args(Path("/p"), tmp_path, full_refresh=True)
    skip = pipeline.dbt_build_args(Path("/p"), tmp_path, skip_tests=True, full_check=False)
    assert "tag:full_scan" not in skip and skip.count("--exclude-resource-type") == 2


def test_a_whole_build_runs_one_node_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERCRM_DBT_THREADS", raising=False)
    work = tmp_path / "work.duckdb"
    # the first run: no working database, then one whose core schema is still empty
    assert pipeline.dbt_threads_args(work, full_refresh=False) == ["--threads", "1"]
    con = duckdb.connect(str(work))
    con.execute("create schema core; create schema raw; create table raw.bill (bill_id varchar)")
    con.close()
    assert pipeline.dbt_threads_args(work, full_refresh=False) == ["--threads", "1"]
    # a night, once dbt has built the core tables: the profile's two threads
    con = duckdb.connect(str(work))
    con.execute("create table core.fct_bill (bill_id varchar)")
    con.close()
    assert pipeline.dbt_threads_args(work, full_refresh=False) == []
    assert pipeline.dbt_threads_args(work, full_refresh=True) == ["--threads", "1"]  # rebuild
    monkeypatch.setenv("POWERCRM_DBT_THREADS", "3")
    assert pipeline.dbt_threads_args(work, full_refresh=True) == ["--threads", "3"]
    monkeypatch.setenv("POWERCRM_DBT_THREADS", "two")
    with pytest.raises(pipeline.PowerCRMError, match="POWERCRM_DBT_THREADS='two' is not a positive whole number"):
        pipeline.dbt_threads_args(work, full_refresh=False)


def _dbt_ls(project: Path, state: Path, full_check: bool) -> list[str]:
    from dbt.cli.main import dbtRunner

    args = pipeline.dbt_build_args(project, state, full_check=full_check)
    args[0] = "ls"
    args = [a for a in args if a not in ("--log-level", "none")]
    res = dbtRunner().invoke(args + ["--resource-type", "test", "--output", "name", "--quiet"])
    assert res.success, res.exception
    return sorted(str(n) for n in res.result)


def test_the_full_scan_exclusion_selects_right_and_tolerates_no_tagged_test(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("POWERCRM_WORK_DB", str(tmp_path / "work.duckdb"))
    project = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    every = _dbt_ls(project, tmp_path / "s1", full_check=True)
    assert every, "the fixture project has tests"
    # no node has the tag yet: the exclusion selects every test and does not fail
    assert _dbt_ls(project, tmp_path / "s2", full_check=False) == every
    # tag one model's tests full_scan: they leave the incremental selection only
    (project / "dbt_project.yml").write_text(
        (project / "dbt_project.yml").read_text() + "\ndata_tests:\n  +tags: ['full_scan']\n")
    assert _dbt_ls(project, tmp_path / "s3", full_check=True) == every
    assert _dbt_ls(project, tmp_path / "s4", full_check=False) == []
    # tagged new_rows instead: they run on a night only
    (project / "dbt_project.yml").write_text(
        (project / "dbt_project.yml").read_text().replace("+tags: ['full_scan']", "+tags: ['new_rows']"))
    assert _dbt_ls(project, tmp_path / "s5", full_check=True) == []
    assert _dbt_ls(project, tmp_path / "s6", full_check=False) == every


def _build_keyed(tmp_path: Path, monkeypatch, models: dict[str, str]) -> list:
    """`dbt build` of the fixture project with the project's generic tests and `models` (file name
    -> text) added; -> the run's results (models and their tests)."""
    from dbt.cli.main import dbtRunner

    monkeypatch.setenv("POWERCRM_WORK_DB", str(tmp_path / "work.duckdb"))
    project = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    shutil.copy(Path(__file__).resolve().parents[1] / "macros" / "generic_tests.sql", project / "macros")
    for name, text in models.items():
        (project / "models" / name).write_text(text)
    selected = sorted({Path(name).stem for name in models})
    res = dbtRunner().invoke(["build", "--select", *selected, "--project-dir", str(project),
                              "--profiles-dir", str(project / "profiles"), "--target-path", str(tmp_path / "t"),
                              "--log-path", str(tmp_path / "l"), "--log-level", "none"])
    return res.result.results


# a table built by two runs: stamp 1 is an earlier night, stamp 2 tonight's build
NEW_ROWS_TABLE = """
select * from (values
    ('D-old', 'x', 1), ('D-old', 'x', 1),  -- a duplicate among old rows only: the full check's
    ('D-new', 'x', 1), ('D-new', 'x', 2),  -- tonight's row repeats an old key
    ('D-two', 'x', 2), ('D-two', 'x', 2),  -- two of tonight's rows with one key
    (null, 'y', 1), (null, 'y', 2),        -- NULL in the key is a value like any other
    ('U-old', 'x', 1), ('U-new', 'x', 2), (null, 'z', 2)
) as t(cons_no, part, _loaded_at)
"""
NEW_ROWS_YML = """
version: 2
models:
  - name: keyed
    data_tests:
      - unique_combination:
          arguments:
            combination: [cons_no, part]
      - unique_combination_in_new_rows:
          arguments:
            combination: [cons_no, part]
"""


# old rows with keys of their own: tonight's rows (6) become the minority
OLD_UNIQUE_ROWS = " union all ".join(f"select 'O{i}', 'x', 1" for i in range(8))


@pytest.mark.parametrize("table, form", [
    (NEW_ROWS_TABLE, "bool_or("),  # 6 of 11 rows are tonight's: one grouping pass
    (f"{NEW_ROWS_TABLE} union all {OLD_UNIQUE_ROWS}", "exists ("),  # 6 of 19: tonight's keys looked up
])
def test_unique_in_new_rows_finds_every_duplicate_with_a_row_of_tonight(tmp_path: Path, monkeypatch, table,
                                                                        form) -> None:
    results = _build_keyed(tmp_path, monkeypatch, {"keyed.sql": table, "keyed.yml": NEW_ROWS_YML})
    failures = {r.node.name.split("_keyed_")[0]: (str(r.status), r.failures)
                for r in results if r.node.resource_type == "test"}
    assert failures == {"unique_combination": ("fail", 4),  # D-old, D-new, D-two, (NULL, y)
                        "unique_combination_in_new_rows": ("fail", 3)}  # all but D-old
    compiled = [p.read_text(encoding="utf-8")
                for p in (tmp_path / "t" / "compiled").rglob("unique_combination_in_new_rows*.sql")]
    assert len(compiled) == 1 and form in compiled[0]


UNIQUE_YML = """
version: 2
models:
  - name: keyed
    columns:
      - name: cons_no
        data_tests: [unique]
      - name: part
        data_tests: [unique]
    data_tests:
      - unique_combination:
          arguments:
            combination: [cons_no, part]
"""


def test_the_key_tests_find_the_repeated_keys_through_a_hash_of_the_key(tmp_path: Path, monkeypatch) -> None:
    """dbt's `unique` (overridden for DuckDB) and `unique_combination` group a 64-bit hash of the
    key first (macros/generic_tests.sql, repeated_keys) and still return exactly the repeated keys."""
    results = _build_keyed(tmp_path, monkeypatch, {"keyed.sql": NEW_ROWS_TABLE, "keyed.yml": UNIQUE_YML})
    tests = {r.node.name: r for r in results if r.node.resource_type == "test"}
    assert {name: (str(r.status), r.failures) for name, r in tests.items()} == {
        "unique_combination_keyed_cons_no__part": ("fail", 4),  # D-old, D-new, D-two, (NULL, y)
        "unique_keyed_cons_no": ("fail", 3),  # D-old, D-new, D-two; NULL is no value
        "unique_keyed_part": ("fail", 2),  # x eight times, y twice; z once
    }
    con = duckdb.connect(str(tmp_path / "work.duckdb"))  # (dbt's connection is still open in this process)
    try:
        for name, expected in (("unique_keyed_part", [("x", 8), ("y", 2)]),
                               ("unique_keyed_cons_no", [("D-new", 2), ("D-old", 2), ("D-two", 2)])):
            sql = tests[name].node.compiled_code
            assert "hash(" in sql, "the DuckDB override of dbt's unique test is not in force"
            assert sorted(con.execute(sql).fetchall()) == expected
    finally:
        con.close()


NEW_ROWS_BUILD_STAMP_YML = """
version: 2
models:
  - name: keyed
    data_tests:
      - unique_combination_in_new_rows:
          arguments:
            combination: [cons_no, part]
            build_stamps: ref('stamps')
"""


@pytest.mark.parametrize("build_stamp, expected", [
    (2, ("fail", 3)),  # tonight's build wrote the rows stamped 2: as above
    (3, ("pass", 0)),  # tonight's build did not touch the table: none of its rows is looked at
])
def test_unique_in_new_rows_reads_tonights_stamp_from_the_build_stamps(tmp_path: Path, monkeypatch, build_stamp,
                                                                       expected) -> None:
    results = _build_keyed(tmp_path, monkeypatch, {
        "keyed.sql": NEW_ROWS_TABLE, "stamps.sql": f"select {build_stamp} as loaded_at union all select 1",
        "keyed.yml": NEW_ROWS_BUILD_STAMP_YML})
    failures = [(str(r.status), r.failures) for r in results if r.node.resource_type == "test"]
    assert failures == [expected]


def test_incremental_night_reads_rows_without_a_month(tmp_path: Path) -> None:
    db = make_db(tmp_path / "work.duckdb", SCOPE_SQL,
                 "update core.fct_bill set billing_month = null where bill_id = 'B1'")
    out = run_quality(db, "r2", config=CFG, full_check=False)
    r = result(out, "fct_bill.billing_month_not_null")
    assert (r["status"], r["failing_rows"]) == ("fail", 1)


# customer_profit_monthly: an incremental mart; its row rules read the months tonight's build
# re-derived (rows stamped at or after this run's first load), the rest of it in full
PROFIT_SQL = """
alter table meta.load_log add column loaded_at timestamp;
update meta.load_log set loaded_at = case run_id when 'r1' then timestamp '2024-03-04 01:00:00'
                                                 else timestamp '2024-04-04 01:00:00' end;
create table marts.customer_profit_monthly (cons_no varchar, month date, kwh decimal(18, 2),
    revenue_yuan decimal(18, 2), energy_cost_yuan decimal(18, 2), margin_yuan decimal(18, 2),
    marketing_cost_yuan decimal(18, 2), operating_cost_yuan decimal(18, 2), profit_yuan decimal(18, 2),
    _loaded_at timestamp);
insert into marts.customer_profit_monthly values
    ('C1', '2024-01-01', 10, 100, 60, 40, 5, 5, 30, '2024-03-04 01:00:00'),  -- built by r1
    ('C1', '2024-03-01', 10, 100, 60, 40, 5, 5, 30, '2024-04-04 01:00:00');  -- re-derived by r2
"""
BAD_MARGIN = "update marts.customer_profit_monthly set margin_yuan = 41 where month = date '{month}'"


def test_incremental_night_checks_the_profit_months_its_build_re_derived(tmp_path: Path) -> None:
    db = make_db(tmp_path / "old.duckdb", SCOPE_SQL, PROFIT_SQL, BAD_MARGIN.format(month="2024-01-01"))
    r = result(run_quality(db, "r2", config=CFG, full_check=False), "customer_profit_monthly.margin_rule")
    assert (r["status"], r["failing_rows"], r["scope"]) == ("pass", 0, "changed months only: 2024-03")
    r = result(run_quality(db, "r2", config=CFG, full_check=True), "customer_profit_monthly.margin_rule")
    assert (r["status"], r["failing_rows"], r["scope"]) == ("fail", 1, "full")

    db = make_db(tmp_path / "new.duckdb", SCOPE_SQL, PROFIT_SQL, BAD_MARGIN.format(month="2024-03-01"))
    r = result(run_quality(db, "r2", config=CFG, full_check=False), "customer_profit_monthly.margin_rule")
    assert (r["status"], r["failing_rows"]) == ("fail", 1)
    # the mart's key (month is part of it) is checked in the re-derived months too: a duplicate
    # of an old month waits for the full check, one of tonight's months is found
    dup = "insert into marts.customer_profit_monthly select * from marts.customer_profit_monthly where month = '{}'"
    db = make_db(tmp_path / "dup_old.duckdb", SCOPE_SQL, PROFIT_SQL, dup.format("2024-01-01"))
    r = result(run_quality(db, "r2", config=CFG, full_check=False), "customer_profit_monthly.pk_unique")
    assert (r["status"], r["failing_rows"], r["scope"]) == ("pass", 0, "changed months only: 2024-03")
    r = result(run_quality(db, "r2", config=CFG, full_check=True), "customer_profit_monthly.pk_unique")
    assert (r["status"], r["failing_rows"]) == ("fail", 2)  # both rows of the shared key
    db = make_db(tmp_path / "dup_new.duckdb", SCOPE_SQL, PROFIT_SQL, dup.format("2024-03-01"))
    r = result(run_quality(db, "r2", config=CFG, full_check=False), "customer_profit_monthly.pk_unique")
    assert (r["status"], r["failing_rows"]) == ("fail", 2)


# mart = core totals month by month (sales_volume_monthly, unit_price_monthly,
# customer_profit_monthly): on a night, the months whose bills or bill lines this run delivered
# (those of core.fct_bill); a mart's totals change only with them
SALES_SQL = """
create table marts.sales_volume_monthly (month date, org_no varchar, elec_type varchar, voltage varchar,
    industry_section varchar, customers_billed bigint, sales_kwh decimal(18, 2), amount_yuan decimal(18, 2));
insert into marts.sales_volume_monthly
select billing_month, '100', '100', 'AC10', 'A', count(distinct cons_no), sum(kwh), sum(amount_yuan)
from core.fct_bill group by 1;
"""
BAD_SALES = "update marts.sales_volume_monthly set sales_kwh = sales_kwh + 1 where month = '{}'"


def test_incremental_night_compares_the_totals_of_the_months_whose_bills_changed(tmp_path: Path) -> None:
    db = make_db(tmp_path / "old.duckdb", SCOPE_SQL, SALES_SQL, BAD_SALES.format("2024-01-01"))
    r = result(run_quality(db, "r2", config=CFG, full_check=False), "sales_volume_monthly.totals.sales_kwh")
    assert (r["status"], r["observed_value"], r["scope"]) == ("pass", "0 of 1 row(s)", "changed months only: 2024-03")
    r = result(run_quality(db, "r2", config=CFG, full_check=True), "sales_volume_monthly.totals.sales_kwh")
    assert (r["status"], r["observed_value"], r["scope"]) == ("fail", "1 of 3 row(s)", "full")
    db = make_db(tmp_path / "new.duckdb", SCOPE_SQL, SALES_SQL, BAD_SALES.format("2024-03-01"))
    r = result(run_quality(db, "r2", config=CFG, full_check=False), "sales_volume_monthly.totals.sales_kwh")
    assert (r["status"], r["failing_rows"]) == ("fail", 1)


# fct_bill.paid_late: on a night, the bills tonight's build re-derived (their _loaded_at, the build
# stamp, at or after this run's first load); a bill's days late change only when it is re-derived
PAID_LATE_SQL = """
alter table meta.load_log add column loaded_at timestamp;
update meta.load_log set loaded_at = case run_id when 'r1' then timestamp '2024-03-04 01:00:00'
                                                 else timestamp '2024-04-04 01:00:00' end;
alter table core.fct_bill add column _loaded_at timestamp;
update core.fct_bill set _loaded_at = timestamp '2024-03-04 01:00:00';
-- B1 (2024-01) was paid late long ago; tonight (r2) re-derived B3 (paid late, 2024-02) and B5 (on time)
update core.fct_bill set days_late = 9 where bill_id in ('B1', 'B3');
update core.fct_bill set _loaded_at = timestamp '2024-04-04 01:00:00' where bill_id in ('B3', 'B5');
"""


def test_incremental_night_counts_the_late_payments_of_the_bills_it_re_derived(tmp_path: Path) -> None:
    db = make_db(tmp_path / "work.duckdb", SCOPE_SQL, PAID_LATE_SQL)
    out = run_quality(db, "r2", config=CFG, full_check=False)
    r = result(out, "fct_bill.paid_late")
    assert (r["status"], r["failing_rows"], r["observed_value"]) == ("warn", 1, "1 of 2 row(s)")
    assert r["scope"] == "the bills this run re-derived"
    assert [e["bill_id"] for e in r["examples"]] == ["B3"]
    assert out.warnings[-1] == ("fct_bill.paid_late failed on 1 row of core.fct_bill (the bills this run "
                                "re-derived): receivables are paid by their due date (days_late = 0)")
    full = result(run_quality(db, "r2", config=CFG, full_check=True), "fct_bill.paid_late")
    assert (full["failing_rows"], full["observed_value"], full["scope"]) == (2, "2 of 6 row(s)", "full")
    # a run whose load times are unknown (an old meta.load_log) checks the changed months as before
    db = make_db(tmp_path / "old.duckdb", SCOPE_SQL, PAID_LATE_SQL, "alter table meta.load_log drop column loaded_at")
    r = result(run_quality(db, "r2", config=CFG, full_check=False), "fct_bill.paid_late")
    assert (r["failing_rows"], r["observed_value"], r["scope"]) == (0, "0 of 2 row(s)", "changed months only: 2024-03")


# fct_consumption.rows_match_loaded on a night: every (cons_no, month) of tonight's readings is in
# the fact; the fact's rows are narrowed to the loaded customers AND months first
READINGS_SQL = """
create schema if not exists raw;
create table raw.reading (cons_no varchar, billing_month varchar, _business_date date);
insert into raw.reading values
    ('C1', '2024-02', '2024-03-03'), ('C2', '2024-02', '2024-03-03'),   -- r1
    (' C1', '2024-03 ', '2024-04-03'), ('C2', '2024-03', '2024-04-03');  -- r2: padded text as delivered
create table core.fct_consumption (cons_no varchar, billing_month date, kwh decimal(18, 2));
insert into core.fct_consumption values
    ('C1', '2024-02-01', 1), ('C2', '2024-02-01', 1), ('C1', '2024-03-01', 1);  -- C2's March is missing
insert into meta.load_log values ('r1', 'reading', '2024-03-03', 'LOADED'), ('r2', 'reading', '2024-04-03', 'LOADED');
"""


def test_incremental_night_finds_a_reading_missing_from_the_fact(tmp_path: Path) -> None:
    db = make_db(tmp_path / "work.duckdb", SCOPE_SQL, READINGS_SQL)
    out = run_quality(db, "r2", config=CFG, full_check=False)
    r = result(out, "fct_consumption.rows_match_loaded")
    assert (r["status"], r["failing_rows"]) == ("fail", 1)
    assert [(e["key"], e["problem"]) for e in r["examples"]] == [
        ("C2|2024-03", "loaded, missing in core.fct_consumption")]
    # C2's February (an older month of a customer read tonight) is in the fact: fine, also when
    # March arrives for both customers
    db = make_db(tmp_path / "ok.duckdb", SCOPE_SQL, READINGS_SQL,
                 "insert into core.fct_consumption values ('C2', '2024-03-01', 1)")
    r = result(run_quality(db, "r2", config=CFG, full_check=False), "fct_consumption.rows_match_loaded")
    assert (r["status"], r["failing_rows"]) == ("pass", 0)
    # a full check also finds the fact's rows never loaded
    db = make_db(tmp_path / "full.duckdb", SCOPE_SQL, READINGS_SQL,
                 "insert into core.fct_consumption values ('C2', '2024-03-01', 1), ('C3', '2024-03-01', 1)")
    r = result(run_quality(db, "r2", config=CFG, full_check=True), "fct_consumption.rows_match_loaded")
    assert [(e["key"], e["problem"]) for e in r["examples"]] == [
        ("C3|2024-03", "in core.fct_consumption, never loaded")]


# fct_bill_line.rows_match_loaded, whose key is a text and a number: the raw lines as delivered
# (padded, full-width digits, a line delivered twice); B3's second line is lost on the way to the
# fact and a line 3 of B6 is in the fact but was never loaded
BILL_LINES_SQL = """
create schema if not exists raw;
create table raw.bill_item (bill_id varchar, item_no varchar, _business_date date);
insert into raw.bill_item values
    ('B1', '1', '2024-02-03'), ('B1', '2', '2024-02-03'), ('B2', '1', '2024-02-03'), ('B2', '2', '2024-02-03'),
    ('B3', '1', '2024-03-03'), ('B3', '2', '2024-03-03'), ('B4', '1', '2024-03-03'), ('B4', ' ２', '2024-03-03'),
    ('B4', '2', '2024-03-03'),
    (' B5', '1', '2024-04-03'), ('B5', '2 ', '2024-04-03'), ('Ｂ6', '1', '2024-04-03'), ('B6', '2', '2024-04-03');
delete from core.fct_bill_line where bill_id = 'B3' and item_no = 2;
insert into core.fct_bill_line values ('B6', 3, '2024-03-01', 'FUND', 0.00, '2024-04-05');
"""


def test_full_check_matches_the_bill_lines_with_the_loaded_lines_both_ways(tmp_path: Path) -> None:
    db = make_db(tmp_path / "work.duckdb", SCOPE_SQL, BILL_LINES_SQL)
    r = result(run_quality(db, "r2", config=CFG, full_check=True), "fct_bill_line.rows_match_loaded")
    assert (r["status"], r["failing_rows"]) == ("fail", 2)
    assert [(e["key"], e["problem"]) for e in r["examples"]] == [
        ("B3|2", "loaded, missing in core.fct_bill_line"),
        ("B6|3", "in core.fct_bill_line, never loaded")]
    # tonight (r2 loaded the lines of 2024-04-03: B5, B6) neither is seen: B3 was loaded by r1, and
    # a line never loaded is a full check's finding
    r = result(run_quality(db, "r2", config=CFG, full_check=False), "fct_bill_line.rows_match_loaded")
    assert (r["status"], r["failing_rows"]) == ("pass", 0)
    # all lines in place: nothing to report, the line delivered twice (B4|2) counts once
    db = make_db(tmp_path / "ok.duckdb", SCOPE_SQL, BILL_LINES_SQL,
                 "insert into core.fct_bill_line values ('B3', 2, '2024-02-01', 'FUND', 2.00, '2024-03-03')",
                 "delete from core.fct_bill_line where bill_id = 'B6' and item_no = 3")
    r = result(run_quality(db, "r2", config=CFG, full_check=True), "fct_bill_line.rows_match_loaded")
    assert (r["status"], r["failing_rows"]) == ("pass", 0)
