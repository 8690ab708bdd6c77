"""One test per loading rule of SOURCE_EXTRACTS.md, with the rows counted by hand.

Every test ends with `check_accounting`: for every loaded partition, rows in the file = rows
loaded + rows quarantined, and raw / quarantine hold exactly those rows.
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import duckdb
import pytest
from landing_factory import customer, payment, write_partition

from powercrm.ingest import loader
from powercrm.ingest.loader import load_landing


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


def load(con, landing: Path, run_id: str = "r1", **kw):
    return load_landing(con, landing, run_id, **kw)


def result(summary, label: str):
    [r] = [r for r in summary.results if r.partition.label == label]
    return r


def check_accounting(con) -> None:
    rows = con.execute("""
        select p.extract, p.business_date, p.rows_in, p.rows_loaded, p.rows_quarantined,
               (select count(*) from meta.quarantine q where q.extract = p.extract
                  and q.business_date = p.business_date) as q_rows
        from meta.partitions p where status = 'LOADED'""").fetchall()
    assert rows, "nothing loaded"
    for ext, bdate, rows_in, loaded, quarantined, q_rows in rows:
        raw_rows = con.execute(f'select count(*) from raw."{ext}" where _business_date = ?', [bdate]).fetchone()[0]
        assert rows_in == loaded + quarantined, (ext, bdate)
        assert raw_rows == loaded, (ext, bdate)
        assert q_rows == quarantined, (ext, bdate)


def raw(con, extract: str, cols: str = "*", where: str = "true"):
    return con.execute(f"select {cols} from raw.{extract} where {where} order by _business_date, _record_no").fetchall()


def quarantine(con, extract: str):
    return con.execute("select record_no, reason from meta.quarantine where extract = ? "
                       "order by business_date, record_no", [extract]).fetchall()


# ------------------------------------------------------------------------------ partition rules

def test_bad_sha256_rejects_the_whole_partition(con, tmp_path):
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1"), payment("P2")])
    write_partition(tmp_path, "payment", "2024-03-06", [payment("P3"), payment("P4"), payment("P5")], bad_sha=True)
    s = load(con, tmp_path)
    bad = result(s, "payment/2024-03-06")
    assert bad.status == "REJECTED"
    assert "payment/2024-03-06/payment.csv" in bad.message and "sha256" in bad.message
    assert (bad.rows_loaded, bad.rows_quarantined) == (0, 0)
    assert [r[0] for r in raw(con, "payment", "pay_id")] == ["P1", "P2"]  # nothing of the rejected one
    assert quarantine(con, "payment") == []
    assert con.execute("select status from meta.load_log where business_date = '2024-03-06'").fetchall() == [
        ("REJECTED",)]
    assert loader.data_date(con) == date(2024, 3, 5)  # a rejected partition does not move the data date
    check_accounting(con)


def test_bad_row_count_rejects_the_whole_partition(con, tmp_path):
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1"), payment("P2"), payment("P3")], rows_delta=+1)
    s = load(con, tmp_path)
    bad = result(s, "payment/2024-03-05")
    assert bad.status == "REJECTED"
    assert bad.message == "payment/2024-03-05/payment.csv: 3 records in the file, manifest says 4"
    assert raw(con, "payment") == [] and quarantine(con, "payment") == []
    assert loader.data_date(con) is None


def test_partition_without_manifest_is_not_loaded_yet(con, tmp_path):
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1")])
    write_partition(tmp_path, "payment", "2024-03-06", [payment("P2"), payment("P3")], manifest=False)
    s = load(con, tmp_path)
    assert s.found == 2
    assert s.without_manifest == ["payment/2024-03-06"]
    assert [r.partition.label for r in s.results] == ["payment/2024-03-05"]
    assert [r[0] for r in raw(con, "payment", "pay_id")] == ["P1"]
    assert loader.data_date(con) == date(2024, 3, 5)
    # the manifest arrives: the next run loads it
    write_partition(tmp_path, "payment", "2024-03-06", [payment("P2"), payment("P3")])
    s = load(con, tmp_path, "r2")
    assert result(s, "payment/2024-03-06").status == "LOADED"
    assert result(s, "payment/2024-03-05").status == "UNCHANGED"
    assert loader.data_date(con) == date(2024, 3, 6)
    check_accounting(con)


def test_gb18030_file_with_a_character_outside_gbk(con, tmp_path):
    name = "王䶮"  # U+4DAE (CJK extension A): in GB18030, not in GBK
    with pytest.raises(UnicodeEncodeError):
        name.encode("gbk")
    path = write_partition(tmp_path, "cust", "2024-03-01",
                           [customer("3100000001", name=name, address="城东县䶮路2号"),
                            customer("3100000002", name="李四", voltage="V999")],
                           encoding="gb18030", crlf=True)
    assert b"\r\n" in path.read_bytes()
    s = load(con, tmp_path)
    r = result(s, "cust/2024-03-01")
    assert (r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) == ("LOADED", 2, 1, 1)
    assert raw(con, "cust", "cons_no, cons_name, address, updated_at") == [
        ("3100000001", "王䶮", "城东县䶮路2号", "2024-03-01 08:00:00")]  # no stray \r
    [(rec, reason, text)] = con.execute("select record_no, reason, raw_text from meta.quarantine").fetchall()
    assert (rec, reason) == (2, "unknown code voltage=V999")
    assert text.startswith("3100000002,李*,3*****************,1**********,")  # PII masked in quarantine
    check_accounting(con)


def test_gzip_csv_checksum_is_over_the_compressed_bytes(con, tmp_path):
    path = write_partition(tmp_path, "payment", "2024-03-05", [payment("P1"), payment("P2", amount="N/A")],
                           fmt="csv.gz")
    assert gzip.decompress(path.read_bytes()).startswith(b"pay_id,")
    s = load(con, tmp_path)
    r = result(s, "payment/2024-03-05")
    assert (r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) == ("LOADED", 2, 1, 1)
    assert quarantine(con, "payment") == [(2, "unparseable number amount=N/A")]
    check_accounting(con)


def test_parquet_file(con, tmp_path):
    write_partition(tmp_path, "payment", "2024-03-05",
                    [payment("P1"), payment("P2", channel="CASH"), payment("P3", amount="-5.50")], fmt="parquet")
    s = load(con, tmp_path)
    r = result(s, "payment/2024-03-05")
    assert (r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) == ("LOADED", 3, 2, 1)
    assert raw(con, "payment", "pay_id, amount, bill_id, _record_no") == [("P1", "10.00", None, 1),
                                                                          ("P3", "-5.50", None, 3)]
    assert quarantine(con, "payment") == [(2, "unknown code channel=CASH")]
    check_accounting(con)


def test_quoted_field_spanning_two_lines_counts_records_not_lines(con, tmp_path):
    text = (
        "order_id,cons_no,accept_time,channel,order_type,category_l1,category_l2,org_no,content,"
        "deadline_time,finish_time,is_repeat,is_escalated,satisfaction\n"
        "W1,3100000001,2024-03-05 09:00:00,PHONE,REPAIR,,,334010103,停电报修,2024-03-05 18:00:00,,N,N,\n"
        'W2,3100000002,2024-03-05 10:00:00,PHONE,COMPLAINT,BILLING,电价执行,334010103,"客户来电，\n'
        '第二行内容, 带逗号",2024-03-09 10:00:00,,N,N,\n'
        "W3,3100000003,2024/03/05 11:00,PHONE,COMPLAIN,BILLING,电价执行,334010103,x,2024/03/09 11:00,,N,N,\n"
    )
    write_partition(tmp_path, "workorder", "2024-03-05", raw_text=text)
    s = load(con, tmp_path)
    r = result(s, "workorder/2024-03-05")
    # 4 lines of data, 3 records
    assert (r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) == ("LOADED", 3, 2, 1)
    assert raw(con, "workorder", "order_id, content, _record_no") == [
        ("W1", "停电报修", 1), ("W2", "客户来电，\n第二行内容, 带逗号", 2)]
    assert quarantine(con, "workorder") == [(3, "unknown code order_type=COMPLAIN")]  # record 3 is on line 5
    check_accounting(con)


def test_redelivery_replaces_the_partition_never_appends(con, tmp_path):
    write_partition(tmp_path, "payment", "2024-03-05",
                    [payment("P1", amount="10.00"), payment("P2", amount="20.00"), payment("P3", amount="x")])
    load(con, tmp_path)
    write_partition(tmp_path, "payment", "2024-03-05",
                    [payment("P1", amount="12.00"), payment("P2", amount="20.00")])  # corrected, P3 withdrawn
    s = load(con, tmp_path, "r2")
    r = result(s, "payment/2024-03-05")
    assert (r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) == ("LOADED", 2, 2, 0)
    assert raw(con, "payment", "pay_id, amount") == [("P1", "12.00"), ("P2", "20.00")]
    assert quarantine(con, "payment") == []  # the old delivery's quarantined row went with it
    assert con.execute("select count(*) from meta.load_log where status = 'LOADED'").fetchone()[0] == 2
    check_accounting(con)


def test_a_night_whose_only_partition_of_an_extract_is_empty(con, tmp_path):
    # a day without surveys: the header-only file (`rows: 0`) is the extract's only new partition
    # of the night, so the batch of that extract stages no row at all
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1")])
    load(con, tmp_path)
    write_partition(tmp_path, "payment", "2024-03-06")  # header only
    s = load(con, tmp_path, "r2")
    r = result(s, "payment/2024-03-06")
    assert (r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) == ("LOADED", 0, 0, 0)
    assert raw(con, "payment", "pay_id") == [("P1",)]
    # an empty redelivery empties its partition
    write_partition(tmp_path, "payment", "2024-03-05")
    s = load(con, tmp_path, "r3")
    assert (result(s, "payment/2024-03-05").status, raw(con, "payment", "pay_id")) == ("LOADED", [])
    assert con.execute("select count(*) from meta.partitions where extract = 'payment'").fetchone()[0] == 2
    check_accounting(con)


def test_repeated_run_is_unchanged_and_reads_no_data_file(con, tmp_path, monkeypatch):
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1"), payment("P2")])
    write_partition(tmp_path, "payment", "2024-03-06", [payment("P3")])
    load(con, tmp_path)
    before = raw(con, "payment")

    def no_reading(*a, **k):
        raise AssertionError("an unchanged partition must not be read")

    for reader in ("_stage_file", "_plan_partition", "_read_planned", "sha256_file"):
        monkeypatch.setattr(loader, reader, no_reading)
    s = load(con, tmp_path, "r2")
    assert [r.status for r in s.results] == ["UNCHANGED", "UNCHANGED"]
    assert con.execute("select status, count(*) from meta.load_log where run_id = 'r2' group by 1").fetchall() == [
        ("UNCHANGED", 2)]
    assert raw(con, "payment") == before
    check_accounting(con)


def test_force_from_reloads_unchanged_partitions_from_that_date(con, tmp_path):
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1")])
    write_partition(tmp_path, "payment", "2024-03-06", [payment("P2")])
    load(con, tmp_path)
    s = load(con, tmp_path, "r2", force_from=date(2024, 3, 6))
    assert [(r.partition.label, r.status) for r in s.results] == [
        ("payment/2024-03-05", "UNCHANGED"), ("payment/2024-03-06", "LOADED")]
    assert [r[0] for r in raw(con, "payment", "pay_id")] == ["P1", "P2"]
    check_accounting(con)


def test_exact_duplicate_rows_are_loaded(con, tmp_path):
    # removed in staging (count once); at load they are not unusable
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1"), payment("P1"), payment("P2")])
    s = load(con, tmp_path)
    r = result(s, "payment/2024-03-05")
    assert (r.rows_in, r.rows_loaded, r.rows_quarantined) == (3, 3, 0)
    assert [x[0] for x in raw(con, "payment", "pay_id")] == ["P1", "P1", "P2"]
    check_accounting(con)


# ------------------------------------------------------------------------------ row rules

def test_each_kind_of_unusable_row_is_quarantined_with_its_reason(con, tmp_path):
    rows = [
        payment("P01"),                                        # 1 good
        payment("P02", amount="12,34"),                        # 2 decimal comma
        payment("P03", amount="N/A"),                          # 3
        payment("P04", pay_time="2024-02-30 10:00:00"),        # 4 no such day
        payment("P05", channel="CASH"),                        # 5 unknown code
        payment("P06", channel="ＷＥＣＨＡＴ"),                  # 6 full-width: valid after NFKC
        payment("P07", channel="  APP "),                      # 7 space-padded: valid after trim
        payment("", amount="88.00"),                           # 8 missing key
        payment("P09", amount="1.00"),                         # 9 conflicting duplicate ...
        payment("P09", amount="2.00"),                         # 10 ... both rows
        payment("P11", pay_time="2024/03/05 10:01"),           # 11 second timestamp format: valid
        payment("P12", penalty_amount=" 1.50 "),               # 12 padded number: valid
    ]
    write_partition(tmp_path, "payment", "2024-03-05", rows)
    s = load(con, tmp_path)
    r = result(s, "payment/2024-03-05")
    assert (r.rows_in, r.rows_loaded, r.rows_quarantined) == (12, 5, 7)
    assert quarantine(con, "payment") == [
        (2, "unparseable number amount=12,34"),
        (3, "unparseable number amount=N/A"),
        (4, "unparseable date pay_time=2024-02-30 10:00:00"),
        (5, "unknown code channel=CASH"),
        (8, "missing key pay_id"),
        (9, "conflicting duplicate key P09"),
        (10, "conflicting duplicate key P09"),
    ]
    # raw keeps the text as delivered; staging normalises it
    assert raw(con, "payment", "pay_id, channel") == [
        ("P01", "WECHAT"), ("P06", "ＷＥＣＨＡＴ"), ("P07", "  APP "), ("P11", "WECHAT"), ("P12", "WECHAT")]
    [(file, text)] = con.execute("select file, raw_text from meta.quarantine where record_no = 2").fetchall()
    assert file == "payment/2024-03-05/payment.csv"
    assert text == 'P02,3100000001,,2024-03-05 10:00:00,WECHAT,"12,34",,'
    check_accounting(con)


def test_unparseable_date_and_month(con, tmp_path):
    write_partition(tmp_path, "survey", "2024-06-29", [
        dict(survey_id="S1", cons_no="3100000001", survey_date="2024-06-29", channel="SMS", score_overall="8"),
        dict(survey_id="S2", cons_no="3100000001", survey_date="2024-06-31", channel="SMS", score_overall="8"),
        dict(survey_id="S3", cons_no="3100000001", survey_date="2024-06-29", channel="SMS", score_overall="ten"),
    ])
    write_partition(tmp_path, "supply", "2024-06-30", [
        dict(tg_id="T1", billing_month="2024-06", supply_kwh="100.5", is_estimated="N"),
        dict(tg_id="T2", billing_month="2024-13", supply_kwh="100.5", is_estimated="N"),
        dict(tg_id="T3", billing_month="2024-06", supply_kwh="100.5", is_estimated="Ｙ"),
    ])
    load(con, tmp_path)
    assert quarantine(con, "survey") == [(2, "unparseable date survey_date=2024-06-31"),
                                         (3, "unparseable number score_overall=ten")]
    assert quarantine(con, "supply") == [(2, "unparseable date billing_month=2024-13")]
    check_accounting(con)


def test_missing_key_part_and_nullable_key_part(con, tmp_path):
    write_partition(tmp_path, "supply", "2024-06-30", [
        dict(tg_id="", billing_month="2024-06", supply_kwh="1", is_estimated="N"),
        dict(tg_id="T1", billing_month="", supply_kwh="1", is_estimated="N"),
    ])
    write_partition(tmp_path, "org", "2024-06-30", [
        dict(org_no="334010103", org_name="城东供电所", parent_org_no="3340101", org_level="3", tg_id=""),
    ])
    load(con, tmp_path)
    assert quarantine(con, "supply") == [(1, "missing key tg_id"), (2, "missing key billing_month")]
    assert len(raw(con, "org")) == 1  # tg_id may be empty on an org row
    check_accounting(con)


def test_same_key_in_a_later_partition_is_an_update_not_a_conflict(con, tmp_path):
    write_partition(tmp_path, "workorder", "2024-03-05", [
        dict(order_id="W1", accept_time="2024-03-05 09:00:00", channel="PHONE", order_type="COMPLAINT",
             org_no="334010103", is_repeat="N", is_escalated="N")])
    write_partition(tmp_path, "workorder", "2024-03-07", [
        dict(order_id="W1", accept_time="2024-03-05 09:00:00", channel="PHONE", order_type="COMPLAINT",
             org_no="334010103", finish_time="2024-03-07 10:00:00", is_repeat="N", is_escalated="N",
             satisfaction="SATISFIED")])
    load(con, tmp_path)
    assert quarantine(con, "workorder") == []
    assert raw(con, "workorder", "order_id, satisfaction") == [("W1", None), ("W1", "SATISFIED")]
    check_accounting(con)


def test_late_customer_master_keeps_the_facts(con, tmp_path):
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1", cons_no="3100000099")])
    s1 = load(con, tmp_path)
    assert result(s1, "payment/2024-03-05").rows_quarantined == 0
    write_partition(tmp_path, "cust", "2024-03-08", [customer("3100000099", name="赵六")])
    load(con, tmp_path, "r2")
    assert raw(con, "payment", "pay_id, cons_no") == [("P1", "3100000099")]
    assert raw(con, "cust", "cons_no") == [("3100000099",)]
    assert con.execute("select count(*) from meta.quarantine").fetchone()[0] == 0
    check_accounting(con)


def test_crash_mid_load_leaves_raw_and_meta_as_before(con, tmp_path, monkeypatch):
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1"), payment("P2", amount="bad")])
    load(con, tmp_path)

    def snapshot():
        return {t: con.execute(f"select * from {t} order by all").fetchall()
                for t in ("raw.payment", "meta.load_log", "meta.partitions", "meta.quarantine")}

    before = snapshot()
    # a redelivery of the loaded partition and a new partition; the crash hits after the raw insert
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1", amount="11.00")])
    write_partition(tmp_path, "payment", "2024-03-06", [payment("P3"), payment("P4", channel="X")])
    real_record = loader._record

    def crash(con_, r, *a, **k):
        if r.status == "LOADED":
            raise OSError("simulated crash after the raw insert")
        return real_record(con_, r, *a, **k)

    monkeypatch.setattr(loader, "_record", crash)
    with pytest.raises(OSError, match="simulated crash"):
        load(con, tmp_path, "r2")
    assert snapshot() == before
    monkeypatch.setattr(loader, "_record", real_record)
    s = load(con, tmp_path, "r3")
    assert [(r.partition.label, r.status) for r in s.results] == [("payment/2024-03-05", "LOADED"),
                                                                  ("payment/2024-03-06", "LOADED")]
    assert raw(con, "payment", "pay_id, amount") == [("P1", "11.00"), ("P3", "10.00")]
    assert quarantine(con, "payment") == [(2, "unknown code channel=X")]
    check_accounting(con)


def test_unknown_folders_are_ignored_and_reported(con, tmp_path):
    write_partition(tmp_path, "payment", "2024-03-05", [payment("P1")])
    (tmp_path / "payment" / "latest").mkdir()
    (tmp_path / "misc").mkdir()
    s = load(con, tmp_path)
    assert sorted(s.unknown_folders) == ["misc", "payment/latest"]
    assert s.found == 1


# ------------------------------------------------------------------------------ batched reading
# The files of one extract (same header, UTF-8) are read together by one read_csv; these tests
# check that this changes nothing a partition sees: its own record numbers, its own rejection.

WORKORDER_HEADER = ("order_id,cons_no,accept_time,channel,order_type,category_l1,category_l2,org_no,content,"
                    "deadline_time,finish_time,is_repeat,is_escalated,satisfaction\n")


def workorder_line(order_id: str, content: str = "x", order_type: str = "REPAIR") -> str:
    return (f"{order_id},3100000001,2024-03-05 09:00:00,PHONE,{order_type},,,334010103,{content},"
            f"2024-03-05 18:00:00,,N,N,\n")


def test_partitions_read_together_keep_their_own_record_numbers(con, tmp_path):
    write_partition(tmp_path, "workorder", "2024-03-05", raw_text=WORKORDER_HEADER + workorder_line(
        "A1", '"two\nlines"') + workorder_line("A2", order_type="BAD") + workorder_line("A3"))
    write_partition(tmp_path, "workorder", "2024-03-06", raw_text=WORKORDER_HEADER)  # header only
    write_partition(tmp_path, "workorder", "2024-03-07", raw_text=WORKORDER_HEADER + workorder_line(
        "B1") + workorder_line("B2", '"a\r\nb\nc"') + workorder_line("B3", order_type="BAD"), fmt="csv.gz")
    write_partition(tmp_path, "workorder", "2024-03-08", raw_text=WORKORDER_HEADER + workorder_line(
        "C1", order_type="BAD") + workorder_line("C2"))
    s = load(con, tmp_path)
    assert [(r.partition.label, r.status, r.rows_in, r.rows_loaded, r.rows_quarantined) for r in s.results] == [
        ("workorder/2024-03-05", "LOADED", 3, 2, 1),
        ("workorder/2024-03-06", "LOADED", 0, 0, 0),
        ("workorder/2024-03-07", "LOADED", 3, 2, 1),
        ("workorder/2024-03-08", "LOADED", 2, 1, 1),
    ]
    assert raw(con, "workorder", "order_id, content, _file, _record_no") == [
        ("A1", "two\nlines", "workorder/2024-03-05/workorder.csv", 1),
        ("A3", "x", "workorder/2024-03-05/workorder.csv", 3),
        ("B1", "x", "workorder/2024-03-07/workorder.csv.gz", 1),
        ("B2", "a\r\nb\nc", "workorder/2024-03-07/workorder.csv.gz", 2),
        ("C2", "x", "workorder/2024-03-08/workorder.csv", 2),
    ]
    assert con.execute("select business_date, file, record_no, reason from meta.quarantine order by 1").fetchall() == [
        (date(2024, 3, 5), "workorder/2024-03-05/workorder.csv", 2, "unknown code order_type=BAD"),
        (date(2024, 3, 7), "workorder/2024-03-07/workorder.csv.gz", 3, "unknown code order_type=BAD"),
        (date(2024, 3, 8), "workorder/2024-03-08/workorder.csv", 1, "unknown code order_type=BAD"),
    ]
    check_accounting(con)


def test_a_file_that_breaks_a_batched_read_is_rejected_alone(con, tmp_path):
    write_partition(tmp_path, "workorder", "2024-03-05", raw_text=WORKORDER_HEADER + workorder_line("A1"))
    # three fields too many on its second record: the strict reader refuses the file
    write_partition(tmp_path, "workorder", "2024-03-06", raw_text=WORKORDER_HEADER + workorder_line(
        "B1") + workorder_line("B2").replace("\n", ",1,2,3\n") + workorder_line("B3"))
    write_partition(tmp_path, "workorder", "2024-03-07", raw_text=WORKORDER_HEADER + workorder_line(
        "C1") + workorder_line("C2", order_type="BAD"))
    write_partition(tmp_path, "workorder", "2024-03-08", raw_text=WORKORDER_HEADER + workorder_line("D1"),
                    rows_delta=+2)
    s = load(con, tmp_path)
    assert [(r.partition.label, r.status) for r in s.results] == [
        ("workorder/2024-03-05", "LOADED"), ("workorder/2024-03-06", "REJECTED"),
        ("workorder/2024-03-07", "LOADED"), ("workorder/2024-03-08", "REJECTED")]
    bad = result(s, "workorder/2024-03-06")
    assert bad.message.startswith("workorder/2024-03-06/workorder.csv: cannot be parsed as CSV: ")
    assert result(s, "workorder/2024-03-08").message == (
        "workorder/2024-03-08/workorder.csv: 1 records in the file, manifest says 3")
    assert raw(con, "workorder", "order_id, _record_no") == [("A1", 1), ("C1", 1)]
    assert quarantine(con, "workorder") == [(2, "unknown code order_type=BAD")]
    check_accounting(con)


def test_record_numbers_of_big_files_read_in_parallel(con, tmp_path, monkeypatch):
    """Each row's pay_id is its own record number in its file, so the loaded `_record_no` can be
    checked row by row. The files are big enough (several row groups each, plain and gzipped)
    for the batched read to run on several threads; the numbering must still be each record's
    position in its file, and the quarantined rows must keep theirs."""
    planned = _spy_keeps_order(monkeypatch)
    _load_big_payment_files(con, tmp_path)
    assert planned and all(planned)  # every batched read (plain and gzipped files) ran in parallel


def test_a_rule_that_would_disorder_the_read_numbers_on_one_thread(con, tmp_path, monkeypatch):
    """A code check written as `not in (…)` becomes a join, and the insert then appends the
    threads' rows in any order: the loader sees it in the plan and numbers the records with
    `row_number()` instead; the numbers stay right."""
    from powercrm.ingest import rules

    monkeypatch.setattr(rules.Dialect, "not_in",
                        lambda self, expr, values: f"{expr} not in ({', '.join(self.lit(v) for v in values)})")
    planned = _spy_keeps_order(monkeypatch)
    _load_big_payment_files(con, tmp_path)
    assert planned and not any(planned)


def _spy_keeps_order(monkeypatch) -> list[bool]:
    """What the loader's plan check answered, one entry per batched read."""
    planned: list[bool] = []
    real = loader._keeps_order
    monkeypatch.setattr(loader, "_keeps_order", lambda *a: planned.append(real(*a)) or planned[-1])
    return planned


def _load_big_payment_files(con, tmp_path):
    con.execute("set threads = 4")
    sizes = {"2024-03-05": (150_001, "csv"), "2024-03-06": (260_000, "csv"), "2024-03-07": (140_000, "csv.gz"),
             "2024-03-08": (3, "csv"), "2024-03-09": (270_000, "csv.gz")}
    bad = {("2024-03-06", 1), ("2024-03-06", 131_073), ("2024-03-09", 269_999)}  # amount not a number
    header = "pay_id,cons_no,bill_id,pay_time,channel,amount,penalty_amount,reversal_of\n"
    for day, (n, fmt) in sizes.items():
        lines = [f"{day[-2:]}-{i},3100000001,,2024-03-05 10:00:00,WECHAT,{'x' if (day, i) in bad else '1.00'},,\n"
                 for i in range(1, n + 1)]
        write_partition(tmp_path, "payment", day, raw_text=header + "".join(lines), fmt=fmt)
    s = load(con, tmp_path)
    assert [(r.status, r.rows_in, r.rows_quarantined) for r in s.results] == [
        ("LOADED", 150_001, 0), ("LOADED", 260_000, 2), ("LOADED", 140_000, 0), ("LOADED", 3, 0),
        ("LOADED", 270_000, 1)]
    assert con.execute("select count(*) from raw.payment").fetchone()[0] == 820_004 - 3
    wrong = con.execute("select count(*) from raw.payment where pay_id <> strftime(_business_date, '%d') || '-' "
                        "|| _record_no or _file <> 'payment/' || _business_date || '/payment.' || "
                        "case when day(_business_date) in (7, 9) then 'csv.gz' else 'csv' end").fetchone()[0]
    assert wrong == 0
    assert con.execute("select business_date, record_no, reason from meta.quarantine order by 1, 2").fetchall() == [
        (date(2024, 3, 6), 1, "unparseable number amount=x"), (date(2024, 3, 6), 131_073, "unparseable number amount=x"),
        (date(2024, 3, 9), 269_999, "unparseable number amount=x")]
    check_accounting(con)


def test_a_partition_that_would_overfill_the_batch_starts_the_next(con, tmp_path, monkeypatch):
    """A batch holds at most BATCH_ROWS rows of batched-read partitions: one that would take it
    beyond starts the next batch (so two big gzipped files share a read, one per core, and no
    batch grows by a whole big file beyond the limit). Rows 40, 40, 40, 90 with a limit of 100:
    batches [40, 40], [40], [90] (by hand); every row is still loaded once."""
    monkeypatch.setattr(loader, "BATCH_ROWS", 100)
    reads: list[list[str]] = []
    real = loader._read_planned
    monkeypatch.setattr(loader, "_read_planned", lambda con_, planned, *a: reads.append(
        [p.partition.business_date.isoformat() for p in planned]) or real(con_, planned, *a))
    header = "pay_id,cons_no,bill_id,pay_time,channel,amount,penalty_amount,reversal_of\n"
    for day, n in {"2024-03-05": 40, "2024-03-06": 40, "2024-03-07": 40, "2024-03-08": 90}.items():
        write_partition(tmp_path, "payment", day, fmt="csv.gz", raw_text=header + "".join(
            f"{day[-2:]}-{i},3100000001,,2024-03-05 10:00:00,WECHAT,1.00,,\n" for i in range(1, n + 1)))
    s = load(con, tmp_path)
    assert reads == [["2024-03-05", "2024-03-06"], ["2024-03-07"], ["2024-03-08"]]
    assert [(r.status, r.rows_loaded) for r in s.results] == [("LOADED", 40), ("LOADED", 40), ("LOADED", 40),
                                                               ("LOADED", 90)]
    assert con.execute("select count(*), count(distinct pay_id) from raw.payment").fetchone() == (210, 210)
    check_accounting(con)
