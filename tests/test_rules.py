"""The row rules' SQL (powercrm.ingest.rules), value by value, with the answers written by hand.

The DuckDB spelling of the number check is `try_cast` to a decimal with a character guard, not
the regular expressions INT_RE / DEC_RE; it must accept and reject exactly what they do (a
number is trimmed (DuckDB's trim: Unicode spaces): `^[+-]?[0-9]+$`, `^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)$`).
"""

from __future__ import annotations

import duckdb
import pytest

from powercrm.extracts import EXTRACTS
from powercrm.ingest import rules

# value -> (a valid integer, a valid decimal), by the regular expressions' reading, decided by hand
NUMBERS = {
    "5": (True, True),
    "0": (True, True),
    "00012": (True, True),
    "+5": (True, True),
    "-5": (True, True),
    " 5 ": (True, True),  # trim removes spaces
    "  -12  ": (True, True),
    "5.": (False, True),
    ".5": (False, True),
    "-.5": (False, True),
    "+5.": (False, True),
    "1.25": (False, True),
    "5.00000000001": (False, True),  # more decimals than decimal(38, 10) keeps: still a number
    "1.99999999999999999999": (False, True),
    "9999999999999999999": (True, True),  # beyond bigint
    "9" * 28: (True, True),
    "9" * 29: (True, True),  # beyond decimal(38, 10): the regular expression decides
    "9" * 40: (True, True),
    "-" + "9" * 40 + ".5": (False, True),
    ".": (False, False),
    "+": (False, False),
    "-": (False, False),
    "+.": (False, False),
    "-.": (False, False),
    "--5": (False, False),
    "+-5": (False, False),
    "5-": (False, False),
    "1.2.3": (False, False),
    "1e5": (False, False),
    "1E5": (False, False),
    "1e-2": (False, False),
    "1.e5": (False, False),
    "5.0e0": (False, False),
    "inf": (False, False),
    "-inf": (False, False),
    "infinity": (False, False),
    "nan": (False, False),
    "NaN": (False, False),
    "1_000": (False, False),
    "0.5_0": (False, False),
    "1,000": (False, False),
    "1 000": (False, False),
    "5 5": (False, False),
    "0x10": (False, False),
    "0X1F": (False, False),
    "0b101": (False, False),
    "0o17": (False, False),
    "\t5": (False, False),  # DuckDB's trim removes spaces (Unicode's too), not tabs or line breaks
    "5\t": (False, False),
    "5\n": (False, False),
    "\n5": (False, False),
    "5\r": (False, False),
    "\u00a05": (True, True),  # no-break space: trimmed
    "5\u3000": (True, True),  # ideographic space: trimmed
    "\u20095\u2009": (True, True),  # thin space
    "5\u00a05": (False, False),
    "１２": (False, False),  # full-width digits are not normalised in numbers
    "٣": (False, False),
    "$5": (False, False),
    "(5)": (False, False),
    "5%": (False, False),
    "5d": (False, False),
    "5L": (False, False),
    "true": (False, False),
    "½": (False, False),
}


@pytest.mark.parametrize("dialect", [rules.DUCKDB], ids=["duckdb"])
def test_number_check_accepts_exactly_what_the_regular_expressions_accept(dialect):
    con = duckdb.connect()
    values = list(NUMBERS)
    con.execute("create table v (i integer, x varchar)")
    con.executemany("insert into v values (?, ?)", list(enumerate(values)))
    got = con.execute(
        f"select i, {dialect.is_number('x', rules.INT_RE)}, {dialect.is_number('x', rules.DEC_RE)}, "
        f"regexp_matches(trim(x), {rules.lit(rules.INT_RE)}), regexp_matches(trim(x), {rules.lit(rules.DEC_RE)}) "
        f"from v order by i").fetchall()
    wrong = [(values[i], (a, b), NUMBERS[values[i]]) for i, a, b, _, _ in got if (a, b) != NUMBERS[values[i]]]
    assert wrong == []
    # the hand-written table is the regular expressions' reading
    assert [(values[i], (a, b)) for i, _, _, a, b in got if (a, b) != NUMBERS[values[i]]] == []
    assert con.execute(f"select {dialect.is_number('null', rules.DEC_RE)}").fetchone()[0] is None


def reasons(extract: str, rows: list[dict]) -> list[str | None]:
    con = duckdb.connect()
    ext = EXTRACTS[extract]
    con.execute("create table t (" + ", ".join(f"{rules.q(c)} varchar" for c in ext.column_names) + ", i integer)")
    for i, r in enumerate(rows):
        con.execute("insert into t values (" + ", ".join("?" for _ in ext.column_names) + ", ?)",
                    [r.get(c) for c in ext.column_names] + [i])
    return [r[0] for r in con.execute(f"select {rules.reason_sql(ext)} from t order by i").fetchall()]


def test_reason_of_numbers_dates_and_codes_in_a_payment():
    good = dict(pay_id="P1", cons_no="3100000001", pay_time="2024-03-05 10:00:00", channel="WECHAT", amount="10.00")
    assert reasons("payment", [
        good,
        {**good, "amount": " 10 "},
        {**good, "amount": "1e3"},
        {**good, "amount": "1_000"},
        {**good, "amount": ""},  # blank: not a number problem (the column may be empty)
        {**good, "amount": None},
        {**good, "penalty_amount": "0x10"},
        {**good, "pay_time": "2024-13-05 10:00:00", "amount": "x"},  # the first reason, in column order
        {**good, "channel": "ＷＥＣＨＡＴ"},  # full-width code: normalised, known
        {**good, "channel": "PIGEON"},
        {**good, "pay_id": "　"},  # an ideographic space only: blank key
    ]) == [
        None, None,
        "unparseable number amount=1e3",
        "unparseable number amount=1_000",
        None, None,
        "unparseable number penalty_amount=0x10",
        "unparseable date pay_time=2024-13-05 10:00:00",
        None,
        "unknown code channel=PIGEON",
        "missing key pay_id",
    ]


def test_fingerprint_tells_null_from_empty_and_columns_apart():
    con = duckdb.connect()
    ext = EXTRACTS["payment"]
    cols = ", ".join(rules.q(c) for c in ext.column_names)
    rows = [
        ("P1", "C1", None, "t", "WECHAT", "1", "", ""),
        ("P1", "C1", "", "t", "WECHAT", "1", "", ""),  # NULL vs ''
        ("P1", "C1", "", "t", "WECHAT", "1", None, ""),
        ("P1", "C1", "", "t", "WECHAT", "", "1", ""),  # the same values in other columns
        ("P1", "C1", "", "t", "WECHAT", "1", "", ""),  # = row 2
    ]
    con.execute(f"create table t ({', '.join(f'{rules.q(c)} varchar' for c in ext.column_names)})")
    con.executemany(f"insert into t values ({', '.join('?' for _ in ext.column_names)})", rows)
    fps = [r[0] for r in con.execute(f"select {rules.fingerprint_sql(ext)} from t").fetchall()]
    assert len(set(fps[:4])) == 4
    assert fps[4] == fps[1]
    assert cols  # (the columns exist as the table above)


def test_spark_spelling_is_unchanged():
    """The Spark loader shares these rules: its SQL keeps its regular expressions and its order."""
    ext = EXTRACTS["payment"]
    sql = rules.reason_sql(ext, rules.SPARK)
    assert "try_cast" not in sql and "hash(" not in sql
    assert ("when not (`amount` is null or (case when octet_length(`amount`) = length(`amount`) then trim(`amount`) "
            "else trim(translate(`amount`,") in sql
    assert ("end) = '') and not (trim(`amount`) rlike '^[+-]?([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)\\\\z') "
            "then 'unparseable number amount=' || `amount`") in sql
    assert rules.fingerprint_sql(ext, rules.SPARK) == (
        "md5(concat_ws(chr(31), coalesce(`pay_id`, chr(0)), coalesce(`cons_no`, chr(0)), "
        "coalesce(`bill_id`, chr(0)), coalesce(`pay_time`, chr(0)), coalesce(`channel`, chr(0)), "
        "coalesce(`amount`, chr(0)), coalesce(`penalty_amount`, chr(0)), coalesce(`reversal_of`, chr(0))))")
