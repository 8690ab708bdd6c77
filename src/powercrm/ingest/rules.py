"""Row rules applied at load time, written as DuckDB SQL generated from `powercrm.extracts`.

Where each rule lives (see docs/architecture.md):
- at load (here): manifest checks, and the rules that make a row unusable (missing key part,
  unparseable number / date, unknown code after NFKC + trim, conflicting duplicate key inside
  one partition). Unusable rows go to `meta.quarantine`, never to `raw`.
- in dbt staging: typing, trimming, full-width → half-width, the two timestamp formats,
  exact-duplicate removal, the latest row per key.
"""

from __future__ import annotations

from powercrm.extracts import FULLWIDTH, HALFWIDTH, MONTH_COLUMNS, TS_FORMATS, Extract, code_lists

INT_RE = r"^[+-]?[0-9]+$"
DEC_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"


def q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def norm_sql(expr: str) -> str:
    """NFKC for codes (full-width ASCII → half-width) and trimming, as SQL.

    `translate` with the 95-character map costs ~15 µs a value; almost every value is plain
    ASCII (byte length = character length), which only needs the trim."""
    return (f"(case when strlen({expr}) = length({expr}) then trim({expr}) "
            f"else trim(translate({expr}, {lit(FULLWIDTH)}, {lit(HALFWIDTH)})) end)")


def blank_sql(expr: str) -> str:
    return f"({expr} is null or {norm_sql(expr)} = '')"


def _ts_formats() -> str:
    return "[" + ", ".join(lit(f) for f in TS_FORMATS) + "]"


def reason_sql(ext: Extract) -> str:
    """A CASE expression giving the first reason a row is unusable, NULL for a good row."""
    whens: list[str] = []
    for col in ext.key:
        if col not in ext.nullable_key:
            whens.append(f"when {blank_sql(q(col))} then 'missing key {col}'")
    lists = code_lists()
    for col, typ in ext.columns:
        c = q(col)
        present = f"not {blank_sql(c)}"
        if col in MONTH_COLUMNS:
            whens.append(
                f"when {present} and try_strptime(trim({c}) || '-01', '%Y-%m-%d') is null "
                f"then 'unparseable date {col}=' || {c}"
            )
        elif typ == "int":
            whens.append(f"when {present} and not regexp_matches(trim({c}), '{INT_RE}') "
                         f"then 'unparseable number {col}=' || {c}")
        elif typ == "dec":
            whens.append(f"when {present} and not regexp_matches(trim({c}), '{DEC_RE}') "
                         f"then 'unparseable number {col}=' || {c}")
        elif typ == "date":
            whens.append(f"when {present} and try_strptime(trim({c}), '%Y-%m-%d') is null "
                         f"then 'unparseable date {col}=' || {c}")
        elif typ == "ts":
            whens.append(f"when {present} and try_strptime(trim({c}), {_ts_formats()}) is null "
                         f"then 'unparseable date {col}=' || {c}")
    for col, list_name in ext.codes.items():
        values = ", ".join(lit(v) for v in sorted(lists[list_name]))
        whens.append(
            f"when not {blank_sql(q(col))} and {norm_sql(q(col))} not in ({values}) "
            f"then 'unknown code {col}=' || {norm_sql(q(col))}"
        )
    return "case\n    " + "\n    ".join(whens) + "\n    else null end"


def key_sql(ext: Extract) -> str:
    """The row's key as one text value (code-normalised, NULL parts as empty)."""
    parts = [f"coalesce({norm_sql(q(c))}, '')" for c in ext.key]
    return "concat_ws('|', " + ", ".join(parts) + ")"


def fingerprint_sql(ext: Extract) -> str:
    parts = [f"coalesce({q(c)}, chr(0))" for c in ext.column_names]
    return "md5(concat_ws(chr(31), " + ", ".join(parts) + "))"


def _csv_field(expr: str) -> str:
    return (f"case when {expr} is null then '' "
            f"when regexp_matches({expr}, '[,\"\\n\\r]') then '\"' || replace({expr}, '\"', '\"\"') || '\"' "
            f"else {expr} end")


def mask_sql(expr: str) -> str:
    """First character, then one `*` per further character (张三丰 → 张**)."""
    return f"case when {expr} is null then null else left({expr}, 1) || repeat('*', length({expr}) - 1) end"


def raw_text_sql(ext: Extract) -> str:
    """The record as CSV text, personal data masked (quarantine is published in `audit`)."""
    fields = []
    for col in ext.column_names:
        expr = q(col)
        if col in ext.pii:
            expr = mask_sql(expr)
        fields.append(_csv_field(expr))
    return " || ',' || ".join(fields)
