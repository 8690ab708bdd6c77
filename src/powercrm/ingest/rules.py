"""Row rules applied at load time, written as SQL generated from `powercrm.extracts`.

Where each rule lives (see docs/architecture.md):
- at load (here): manifest checks, and the rules that make a row unusable (missing key part,
  unparseable number / date, unknown code after NFKC + trim, conflicting duplicate key inside
  one partition). Unusable rows go to `meta.quarantine`, never to `raw`.
- in dbt staging: typing, trimming, full-width → half-width, the two timestamp formats,
  exact-duplicate removal, the latest row per key.

The rules are written once and spelled in two SQL dialects: DuckDB's (the embedded loader,
`powercrm.ingest.loader`) and Spark SQL's (`powercrm.spark_loader`). Every function takes
`dialect` (DUCKDB by default); only quoting, regular expressions and date parsing differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from powercrm.extracts import FULLWIDTH, HALFWIDTH, MONTH_COLUMNS, TS_FORMATS, Extract, code_lists

INT_RE = r"^[+-]?[0-9]+$"
DEC_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
# what DuckDB's cast to decimal accepts beyond DEC_RE (INT_RE: also '.'); see Dialect.is_number
NOT_DEC_CHARS = r"[eE_\t\n\v\f\r]"
NOT_INT_CHARS = r"[.eE_\t\n\v\f\r]"

# strptime formats (DuckDB) → Spark datetime patterns. One letter per field accepts one or two
# digits, as DuckDB's %m / %d / %H do ('2024-3-5' parses in both).
SPARK_PATTERNS = {"%Y-%m-%d": "y-M-d", "%Y-%m-%d %H:%M:%S": "y-M-d H:m:s", "%Y/%m/%d %H:%M": "y/M/d H:m"}


def q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine spells the few things the rules need beyond standard SQL."""

    name: str  # duckdb | spark

    def q(self, ident: str) -> str:
        if self.name == "spark":
            return "`" + ident.replace("`", "``") + "`"
        return q(ident)

    def lit(self, value: str) -> str:
        if self.name == "spark":  # Spark string literals know backslash escapes
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return lit(value)

    def matches(self, expr: str, pattern: str) -> str:
        """`expr` matches the (anchored) regular expression."""
        if self.name == "spark":
            # Java's `$` also matches before a final line break; RE2's (DuckDB) does not: `\z`
            if pattern.endswith("$"):
                pattern = pattern[:-1] + r"\z"
            return f"({expr} rlike {self.lit(pattern)})"
        return f"regexp_matches({expr}, {self.lit(pattern)})"

    def is_number(self, expr: str, pattern: str) -> str:
        """`trim(expr)` is a number as the anchored INT_RE / DEC_RE says.

        DuckDB: an anchored regular expression costs ~0.3 µs a value. `try_cast` to a decimal
        (which skips white space around the value itself) accepts every value the expressions
        accept (numbers over 28 digits aside) and a few more, all of which contain one of a
        handful of characters: exponents '1e5', digit separators '1_000', white space other than
        the spaces trim removes; '.' for an integer. So a value that casts is a number unless it
        has one of those, and only a value that does not cast (the dirty few, very long numbers)
        is asked the regular expression. tests/test_rules.py holds the cases."""
        if self.name == "spark":
            return self.matches(f"trim({expr})", pattern)
        extra = NOT_INT_CHARS if pattern == INT_RE else NOT_DEC_CHARS
        return (f"(case when try_cast({expr} as decimal(38, 10)) is not null "
                f"then not regexp_matches({expr}, {self.lit(extra)}) "
                f"else {self.matches(f'trim({expr})', pattern)} end)")

    def parse_time(self, expr: str, formats: tuple[str, ...]) -> str:
        """The text parsed with the first strptime format that fits, NULL when none does."""
        if self.name == "spark":  # ANSI mode off, timeParserPolicy CORRECTED: NULL when it does not fit
            fn = "to_date" if formats == ("%Y-%m-%d",) else "to_timestamp"
            parts = [f"{fn}({expr}, {self.lit(SPARK_PATTERNS[f])})" for f in formats]
            return parts[0] if len(parts) == 1 else "coalesce(" + ", ".join(parts) + ")"
        if len(formats) == 1:
            return f"try_strptime({expr}, {lit(formats[0])})"
        return f"try_strptime({expr}, [" + ", ".join(lit(f) for f in formats) + "])"

    def not_in(self, expr: str, values: list[str]) -> str:
        """`expr` is none of the (non-empty list of) literal values.

        DuckDB: `list_position` in a constant list is NULL, not `not in (…)`. DuckDB rewrites an
        IN list of five or more constants (and `list_contains` of one) into a MARK join against
        the list; with a join in the plan the insert of the loader's multi-threaded read no
        longer keeps the rows in insertion order, by which the loader numbers the records
        (loader.py, _rec_no; measured: files interleaved). `list_position` stays a projection,
        and costs a third of `list_has_any([…], [expr])`, which builds a list for every row
        (9.8 M bill lines, two threads: 0.26 s against 0.70 s a column). A NULL `expr` is "none
        of them" here, as before; reason_sql pairs the test with the value being present."""
        items = ", ".join(self.lit(v) for v in values)
        if self.name == "duckdb":
            return f"list_position([{items}], {expr}) is null"
        return f"{expr} not in ({items})"

    def is_ascii(self, expr: str) -> str:
        """Byte length = character length: plain ASCII text, no translation needed."""
        return f"strlen({expr}) = length({expr})" if self.name == "duckdb" else f"octet_length({expr}) = length({expr})"


DUCKDB = Dialect("duckdb")
SPARK = Dialect("spark")


def norm_sql(expr: str, dialect: Dialect = DUCKDB) -> str:
    """NFKC for codes (full-width ASCII → half-width) and trimming, as SQL.

    `translate` with the 95-character map costs ~15 µs a value; almost every value is plain
    ASCII (byte length = character length), which only needs the trim."""
    d = dialect
    return (f"(case when {d.is_ascii(expr)} then trim({expr}) "
            f"else trim(translate({expr}, {d.lit(FULLWIDTH)}, {d.lit(HALFWIDTH)})) end)")


def blank_sql(expr: str, dialect: Dialect = DUCKDB) -> str:
    return f"({expr} is null or {norm_sql(expr, dialect)} = '')"


def reason_sql(ext: Extract, dialect: Dialect = DUCKDB) -> str:
    """A CASE expression giving the first reason a row is unusable, NULL for a good row."""
    d = dialect
    whens: list[str] = []
    for col in ext.key:
        if col not in ext.nullable_key:
            whens.append(f"when {blank_sql(d.q(col), d)} then 'missing key {col}'")
    lists = code_lists()

    def bad(present: str, unusable: str) -> str:
        # the same condition (AND commutes, in three-valued logic too); DuckDB evaluates the
        # second operand only for the rows where the first holds: the cheap, rarely true test first
        return f"{unusable} and {present}" if d.name == "duckdb" else f"{present} and {unusable}"

    for col, typ in ext.columns:
        c = d.q(col)
        present = f"not {blank_sql(c, d)}"
        if col in MONTH_COLUMNS:
            first_day = f"trim({c}) || '-01'"
            unusable = d.parse_time(first_day, ("%Y-%m-%d",)) + " is null"
            what = "unparseable date"
        elif typ == "int":
            unusable, what = f"not {d.is_number(c, INT_RE)}", "unparseable number"
        elif typ == "dec":
            unusable, what = f"not {d.is_number(c, DEC_RE)}", "unparseable number"
        elif typ == "date":
            unusable, what = d.parse_time(f"trim({c})", ("%Y-%m-%d",)) + " is null", "unparseable date"
        elif typ == "ts":
            unusable, what = d.parse_time(f"trim({c})", TS_FORMATS) + " is null", "unparseable date"
        else:
            continue
        whens.append(f"when {bad(present, unusable)} then '{what} {col}=' || {c}")
    for col, list_name in ext.codes.items():
        unusable = d.not_in(norm_sql(d.q(col), d), sorted(lists[list_name]))
        whens.append(
            f"when {bad(f'not {blank_sql(d.q(col), d)}', unusable)} "
            f"then 'unknown code {col}=' || {norm_sql(d.q(col), d)}"
        )
    return "case\n    " + "\n    ".join(whens) + "\n    else null end"


def key_sql(ext: Extract, dialect: Dialect = DUCKDB) -> str:
    """The row's key as one text value (code-normalised, NULL parts as empty)."""
    parts = [f"coalesce({norm_sql(dialect.q(c), dialect)}, '')" for c in ext.key]
    return "concat_ws('|', " + ", ".join(parts) + ")"


def fingerprint_sql(ext: Extract, dialect: Dialect = DUCKDB) -> str:
    """A value that differs between two different rows (NULL and '' differ).

    DuckDB: its 64-bit `hash` of the columns (NULL has its own hash; the combination depends on
    the position), ~20× cheaper than an md5 of the concatenated row. Spark: md5."""
    if dialect.name == "duckdb":
        return "hash(" + ", ".join(q(c) for c in ext.column_names) + ")"
    parts = [f"coalesce({dialect.q(c)}, chr(0))" for c in ext.column_names]
    return "md5(concat_ws(chr(31), " + ", ".join(parts) + "))"


CSV_SPECIAL_RE = '[,"\\n\\r]'  # a field that needs quoting: comma, quote or line break (regex escapes)


def _csv_field(expr: str, dialect: Dialect = DUCKDB) -> str:
    needs_quotes = dialect.matches(expr, CSV_SPECIAL_RE)
    return (f"case when {expr} is null then '' "
            f"when {needs_quotes} then '\"' || replace({expr}, '\"', '\"\"') || '\"' "
            f"else {expr} end")


def mask_sql(expr: str) -> str:
    """First character, then one `*` per further character (张三丰 → 张**)."""
    return f"case when {expr} is null then null else left({expr}, 1) || repeat('*', length({expr}) - 1) end"


def raw_text_sql(ext: Extract, dialect: Dialect = DUCKDB) -> str:
    """The record as CSV text, personal data masked (quarantine is published in `audit`)."""
    fields = []
    for col in ext.column_names:
        expr = dialect.q(col)
        if col in ext.pii:
            expr = mask_sql(expr)
        fields.append(_csv_field(expr, dialect))
    return " || ',' || ".join(fields)
