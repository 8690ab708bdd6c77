"""What the quality gate checks on a night: everything, or the big facts' changed months only.

A full check (the first load, `powercrm rebuild`, `powercrm run --full-check`, the weekly Dagster
schedule) validates every row of every table. On an incremental night the checks on the big fact
tables (`BIG_FACTS`) validate only the months this run changed; dimensions, marts, the load
audit and the cross-table totals are still checked in full.

The changed months are read from the partitions this run loaded (`meta.load_log`, `run_id` of
this run, status LOADED):

| table | its changed months: the months of … delivered by this run |
| --- | --- |
| core.fct_bill_line, core.fct_bill | the bills (`raw.bill`, billing_month) and bill lines (`core.fct_bill_line`, business_date) |
| core.fct_bill, checks of what payments change (paid, days late), when meta.load_log has no load times | the same and the bills paid by the delivered payments (otherwise these checks read the bills the build re-derived: REDERIVED below) |
| core.fct_payment | the payments (`core.fct_payment`, business_date → pay_month) |
| core.fct_consumption | the readings (`raw.reading`, billing_month) |
| marts.customer_profit_monthly | the months this run's build re-derived (rows whose `_loaded_at`, the build stamp, is at or after this run's first load) |

Suites mark what is scoped in their SQL with tokens the runner replaces:
`SCOPE_MONTHS(col)` → `col in (<changed months>)` (`true` on a full check), `SCOPE_DATES(extract,
col)` → `col in (<business dates of extract loaded this run>)`, `SCOPE_FULL` → `true` on a full
check, `false` on an incremental night, `NIGHTLY[[predicate]]` → the predicate on an incremental
night, `true` on a full check, `REDERIVED(col)` → `col >= <this run's first LOADED partition's
load time>` on an incremental night (the rows tonight's build re-derived: `col` is a build stamp,
`_loaded_at`), `true` on a full check or when the load times are unknown. A dataset partitioned by a month column of a big fact is
read for the changed months only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb

from powercrm.ingest.rules import lit

# the fact tables that grow with history: checked month by month, only changed months nightly.
# "core.fct_bill+payments" scopes the checks on what payments change in a bill (paid, days late).
PAID_BILLS = "core.fct_bill+payments"
BIG_FACTS = frozenset({"core.fct_bill", "core.fct_bill_line", "core.fct_payment", "core.fct_consumption",
                       "marts.customer_profit_monthly", PAID_BILLS})

# NIGHTLY[[predicate]]: the predicate on an incremental night, `true` on a full check (rendered
# here, so that a full check's SQL holds no semi join DuckDB would still evaluate)
_NIGHTLY = re.compile(r"NIGHTLY\[\[(.*?)\]\]", re.DOTALL)
_TOKEN = re.compile(r"SCOPE_MONTHS\(\s*([^)]+?)\s*\)|SCOPE_DATES\(\s*(\w+)\s*,\s*([^)]+?)\s*\)|SCOPE_FULL"
                    r"|REDERIVED\(\s*([^)]+?)\s*\)")


@dataclass(frozen=True)
class CheckScope:
    """`full`: every row. Otherwise `months` (table → first days of its changed months) and
    `dates` (extract → business dates loaded by this run)."""

    full: bool = True
    months: dict[str, tuple[date, ...]] = field(default_factory=dict)
    dates: dict[str, tuple[date, ...]] = field(default_factory=dict)
    reason: str = "full check"
    since: datetime | None = None  # the load time of this run's first LOADED partition (incremental)

    @classmethod
    def everything(cls, reason: str = "full check") -> CheckScope:
        return cls(full=True, reason=reason)

    def months_of(self, table: str) -> tuple[date, ...]:
        return self.months.get(table.lower(), ())

    def label(self, table: str | None = None) -> str:
        """What a scoped check covered (audit.check_results.scope); without a table, the night."""
        if self.full:
            return "full"
        if table is None:
            changed = [f"{t} {self._months_text(t)}" for t in sorted(self.months) if self.months[t]]
            return "; ".join(changed) + ("; other big facts: no month changed" if len(changed) < len(self.months)
                                         else "") if changed else "no month of the big facts changed"
        return f"changed months only: {self._months_text(table)}"

    def _months_text(self, table: str) -> str:
        months = self.months_of(table)
        if not months:
            return "none changed"
        shown = ", ".join(m.strftime("%Y-%m") for m in months[:6])
        return shown + (f" and {len(months) - 6} more" if len(months) > 6 else "")

    def months_sql(self, table: str, col: str) -> str:
        if self.full:
            return "true"
        months = self.months_of(table)
        if not months:
            return "false"
        return f"{col} in ({', '.join(_date(m) for m in months)})"

    def dates_sql(self, extract: str, col: str) -> str:
        if self.full:
            return "true"
        dates = self.dates.get(extract, ())
        if not dates:
            return "false"
        return f"{col} in ({', '.join(_date(d) for d in dates)})"

    def rederived_sql(self, col: str) -> str:
        if self.full or self.since is None:
            return "true"
        return f"{col} >= timestamp '{self.since.isoformat(sep=' ')}'"

    def render(self, sql: str, table: str) -> str:
        """Replace the scope tokens of a dataset's SQL (its months are those of `table`)."""
        def sub(m: re.Match) -> str:
            if m.group(4):
                return f"({self.rederived_sql(m.group(4))})"
            if m.group(1):
                return f"({self.months_sql(table, m.group(1))})"
            if m.group(2):
                return f"({self.dates_sql(m.group(2), m.group(3))})"
            return "true" if self.full else "false"
        sql = _NIGHTLY.sub(lambda m: "true" if self.full else f"({m.group(1)})", sql)
        return _TOKEN.sub(sub, sql)


def has_tokens(sql: str | None) -> bool:
    return bool(sql) and (_TOKEN.search(sql) is not None or _NIGHTLY.search(sql) is not None)


def _date(d: date) -> str:
    return f"date '{d.isoformat()}'"


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? and table_name = ?", [schema, table]).fetchall()[0][0] > 0


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return con.execute(
        "select count(*) from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ? and column_name = ?", [schema, table, column]).fetchall()[0][0] > 0


def incremental_scope(con: duckdb.DuckDBPyConnection, run_id: str) -> CheckScope:
    """The months changed by the partitions `run_id` loaded (see the module doc). Falls back to a
    full check when the run's load is not recorded (a check run by hand on an old database)."""
    if not _exists(con, "meta", "load_log"):
        return CheckScope.everything("full check: meta.load_log is missing")
    rows = con.execute("select extract, business_date from meta.load_log where run_id = ? and status = 'LOADED' "
                       "order by 1, 2", [run_id]).fetchall()
    recorded = con.execute("select count(*) from meta.load_log where run_id = ?", [run_id]).fetchall()[0][0]
    if not recorded:
        return CheckScope.everything(f"full check: run {run_id} loaded nothing recorded in meta.load_log")
    dates: dict[str, list[date]] = {}
    for extract, d in rows:
        dates.setdefault(extract, []).append(d)
    scope = CheckScope(full=False, dates={k: tuple(v) for k, v in dates.items()})
    month_of_text = "try_cast(trim(billing_month) || '-01' as date)"
    bills = ("bill", "raw", "bill", f"select distinct {month_of_text} from raw.bill "
             f"where {scope.dates_sql('bill', '_business_date')}")
    lines = ("bill_item", "core", "fct_bill_line", "select distinct billing_month from core.fct_bill_line "
             f"where {scope.dates_sql('bill_item', 'business_date')}")
    pays = ("payment", "core", "fct_payment", "select distinct pay_month from core.fct_payment "
            f"where {scope.dates_sql('payment', 'business_date')}")
    paid = ("payment", "core", "fct_bill", "select distinct billing_month from core.fct_bill where bill_id in ("
            f"select bill_id from core.fct_payment where {scope.dates_sql('payment', 'business_date')})")
    reads = ("reading", "raw", "reading", f"select distinct {month_of_text} from raw.reading "
             f"where {scope.dates_sql('reading', '_business_date')}")
    # an incremental mart re-derives whole months and stamps them with the build's stamp, the load
    # time of the newest partition in force: tonight's rows carry at least this run's first load time
    profit = (None, "marts", "customer_profit_monthly", "select distinct month from marts.customer_profit_monthly "
              "where _loaded_at >= (select min(loaded_at) from meta.load_log "
              f"where run_id = {lit(run_id)} and status = 'LOADED')")
    since = None
    if _has_column(con, "meta", "load_log", "loaded_at"):
        since = con.execute("select min(loaded_at) from meta.load_log where run_id = ? and status = 'LOADED'",
                            [run_id]).fetchall()[0][0]
    # table → the deliveries that change its rows (see the module doc)
    sources = {
        "core.fct_bill_line": [bills, lines],
        "core.fct_bill": [bills, lines],
        "core.fct_payment": [pays],
        "core.fct_consumption": [reads],
        "marts.customer_profit_monthly": [profit],
    }
    if since is None:  # without load times the checks of what payments change read whole months
        sources[PAID_BILLS] = [bills, lines, paid]
    found: dict[str, set[date]] = {}
    months: dict[str, tuple[date, ...]] = {}
    for table, queries in sources.items():
        got: set[date] = set()
        for extract, schema, name, sql in queries:
            if (extract is not None and extract not in dates) or not _exists(con, schema, name):
                continue
            if sql not in found:
                try:
                    found[sql] = {r[0] for r in con.execute(sql).fetchall() if r[0] is not None}
                except duckdb.Error as e:  # a table without the column: say so and check everything
                    why = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
                    return CheckScope.everything(f"full check: the changed months could not be read ({why})")
            got |= found[sql]
        months[table] = tuple(sorted(got))
    return CheckScope(full=False, months=months, dates=scope.dates, since=since,
                      reason=f"incremental: {len(rows)} partition(s) loaded by run {run_id}")
