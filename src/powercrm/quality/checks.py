"""Quality suites as code: datasets read from DuckDB, one Great Expectations expectation per check.

A *suite* (one file per published area in `expectations/`) is a list of *datasets*. A dataset is
a DataFrame read from the working DuckDB file, either some columns of one table or the result
of one SQL query (a cross-table rule computed by DuckDB into a small frame). Each dataset carries
*checks*: a GE expectation with a name, a severity and one sentence saying what it guards.

- `error`: a failure blocks publishing (the previous published file stays).
- `warn`: a failure is recorded in `audit.check_results` and shown, nothing is blocked.

A check needs its tables and columns; when one is missing (a mart another engineer has not
built yet) the check is reported `skipped`, never an exception. Big tables are read partition by
partition (`partition_by`, e.g. the billing month) so memory stays bounded.

This module only describes checks; `runner.py` executes them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.expectations.expectation import Expectation  # noqa: E402

ERROR = "error"
WARN = "warn"
SEVERITIES = (ERROR, WARN)

# expectation fields that name a column of the frame
_COLUMN_FIELDS = ("column", "column_A", "column_B")
_COLUMN_LIST_FIELDS = ("column_list",)
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


@dataclass
class Check:
    """One rule: a GE expectation on a dataset's frame."""

    name: str
    expectation: Expectation
    severity: str
    description: str
    action: str = ""  # what an analyst should do when it fails (docs and report)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.name}: severity must be one of {SEVERITIES}, not {self.severity!r}")

    @property
    def what_to_do(self) -> str:
        if self.action:
            return self.action
        if self.severity == ERROR:
            return ("Blocks publishing: the analysts keep the previous file; the data engineers fix the model "
                    "or the load and rerun.")
        return "Look at the failing records before using the affected rows."

    @property
    def columns(self) -> list[str]:
        cols: list[str] = []
        for f in _COLUMN_FIELDS:
            v = getattr(self.expectation, f, None)
            if isinstance(v, str):
                cols.append(v)
        for f in _COLUMN_LIST_FIELDS:
            v = getattr(self.expectation, f, None)
            if v:
                cols.extend(v)
        return cols

    @property
    def is_row_level(self) -> bool:
        """Column-map expectations count failing rows; aggregates (row count, mean) do not."""
        return not isinstance(self.expectation, AGGREGATE_EXPECTATIONS)


AGGREGATE_EXPECTATIONS = (
    gxe.ExpectTableRowCountToEqual, gxe.ExpectTableRowCountToBeBetween, gxe.ExpectColumnMeanToBeBetween,
    gxe.ExpectColumnMedianToBeBetween, gxe.ExpectColumnSumToBeBetween, gxe.ExpectColumnMinToBeBetween,
    gxe.ExpectColumnMaxToBeBetween, gxe.ExpectColumnDistinctValuesToBeInSet,
    gxe.ExpectColumnProportionOfNonNullValuesToBeBetween, gxe.ExpectColumnQuantileValuesToBeBetween,
    gxe.ExpectColumnStdevToBeBetween, gxe.ExpectColumnUniqueValueCountToBeBetween,
    gxe.ExpectColumnDistinctValuesToEqualSet, gxe.ExpectColumnDistinctValuesToContainSet,
    gxe.ExpectColumnMostCommonValueToBeInSet, gxe.ExpectTableColumnsToMatchSet, gxe.ExpectColumnToExist,
)


@dataclass
class Dataset:
    """A frame read from DuckDB and the checks run on it.

    `table`: the published table the checks are about (reported in check_results).
    `sql`: a query (cross-table rules); None = read `columns` of `table` directly, in which case a
    check whose column is missing is skipped and the others still run.
    `requires`: tables (and their columns) the query needs; a missing one skips every check.
    `partition_by`: a column of `table` (and of the frame) to read the frame part by part when the
    table holds more rows than the configured bound. Only row-level checks are allowed then.
    `prefiltered`: the query returns only candidate rows (e.g. rows whose key occurs twice), so the
    row count of the frame is not the table's.
    `context`: columns of `table` that identify a failing record in the examples (keys, month).
    They are not read into the frame: a frame with a `_rowid` column (a table dataset, or a query
    selecting `<table>.rowid as _rowid`) has them looked up for its few failing rows only, since
    turning millions of text keys into pandas strings would cost more than the checks.
    `failing_rows_are_frame_rows`: the query returns one row per violation; an aggregate check on it
    (row count = 0) reports the frame's row count as failing rows and its rows as examples.
    `scope_of`: whose changed months limit the dataset on an incremental night (default `table`;
    see powercrm.quality.scope: a big fact partitioned by month, or SQL with SCOPE_* tokens).
    `nightly_rows`: on an incremental night the SQL keeps only the rows tonight's build re-derived
    (REDERIVED token): what they are, shown as the check's scope ("the bills this run
    re-derived"). They are few, so that night reads them in one frame, `partition_by` aside.
    """

    name: str
    table: str
    sql: str | None = None
    columns: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    requires: dict[str, list[str]] = field(default_factory=dict)
    partition_by: str | None = None
    prefiltered: bool = False
    failing_rows_are_frame_rows: bool = False
    checks: list[Check] = field(default_factory=list)
    scope_of: str | None = None
    nightly_rows: str | None = None

    def expect(self, name: str, expectation: Expectation, severity: str, description: str,
               action: str = "") -> Dataset:
        if self.partition_by and not Check(name, expectation, severity, description).is_row_level:
            raise ValueError(f"check {name}: aggregate expectations cannot run on a partitioned dataset")
        self.checks.append(Check(name, expectation, severity, description, action))
        if self.sql is None:
            for c in self.checks[-1].columns:
                if c not in self.columns:
                    self.columns.append(c)
        return self

    def required_tables(self) -> dict[str, list[str]]:
        if self.sql is None:
            return {self.table: []}  # columns are checked per check
        return self.requires


@dataclass
class Suite:
    name: str
    description: str
    datasets: list[Dataset] = field(default_factory=list)
    source: Path | None = None

    def table(self, table: str, *, name: str | None = None, partition_by: str | None = None,
              context: list[str] | None = None, scope_of: str | None = None) -> Dataset:
        """Columns of one table; each check reads only the columns it names (`context`: the
        columns that identify a failing record in the examples)."""
        ds = Dataset(name=name or table.split(".")[-1], table=table, context=list(context or []),
                     partition_by=partition_by, scope_of=scope_of)
        if partition_by and partition_by not in ds.columns:
            ds.columns.append(partition_by)
        self.datasets.append(ds)
        return ds

    def query(self, name: str, table: str, sql: str, requires: dict[str, list[str]], *,
              partition_by: str | None = None, prefiltered: bool = False,
              violations: bool = False, context: list[str] | None = None, scope_of: str | None = None,
              nightly_rows: str | None = None) -> Dataset:
        """A frame computed by one DuckDB query (cross-table rules)."""
        ds = Dataset(name=name, table=table, sql=sql.strip(), requires=requires, partition_by=partition_by,
                     prefiltered=prefiltered, failing_rows_are_frame_rows=violations, context=list(context or []),
                     scope_of=scope_of, nightly_rows=nightly_rows)
        self.datasets.append(ds)
        return ds

    @property
    def checks(self) -> list[Check]:
        return [c for d in self.datasets for c in d.checks]

    # ---- building blocks used by several suites ---------------------------------------------

    def primary_key(self, table: str, key: list[str], *, nullable: tuple[str, ...] = (),
                    severity: str = ERROR, where: str | None = None, label: str | None = None) -> Dataset:
        """The key is unique and its parts are not NULL (NULL parts in `nullable` are allowed and
        compared as equal). Only rows whose key is NULL or shared are read: GE's unique and
        not-null counts on them equal those on the whole table, and the frame stays tiny.
        Shared keys are found by grouping a 64-bit hash of the key columns (NULLs hash alike, so
        they group together): a hash table of integers, not of the key texts (1 000 000 customers,
        bill lines: 11 s where grouping the key columns and joining back took 15.6 s). Rows whose
        key merely shares a hash with another key are read too, and GE's uniqueness count on their
        text `_key`, built for those few rows only, tells them apart: the check stays exact."""
        short = label or table.split(".")[-1]
        key_expr = "concat_ws('|', " + ", ".join(f"coalesce(cast(t.{q(c)} as varchar), '∅')" for c in key) + ")"
        filt = f"where ({where})" if where else ""
        cols = ", ".join(q(c) for c in key)
        nulls = " or ".join(f"t.{q(c)} is null" for c in key if c not in nullable) or "false"
        sql = f"""
            with t as not materialized (select {cols} from {table} {filt}),
            shared as (select hash({cols}) as _h from t group by 1 having count(*) > 1)
            select {", ".join(f"t.{q(c)}" for c in key)}, {key_expr} as _key
            from t
            where hash({cols}) in (select _h from shared) or {nulls}
        """
        ds = self.query(f"{short}.pk", table, sql, {table: list(key)}, prefiltered=True)
        keys = " × ".join(key)
        ds.expect(f"{short}.pk_unique", gxe.ExpectColumnValuesToBeUnique(column="_key"), severity,
                  f"one row per {keys} in {table}: no key occurs twice",
                  "Do not use the table: a duplicated key doubles every figure summed from it. "
                  "Report it to the data engineers (a duplicate slipped past staging).")
        for c in key:
            if c in nullable:
                continue
            ds.expect(f"{short}.{c}_not_null", gxe.ExpectColumnValuesToNotBeNull(column=c), severity,
                      f"key column {c} of {table} is never NULL",
                      "Rows without a key cannot be joined or counted; report it to the data engineers.")
        return ds

    def totals_match(self, name: str, table: str, sql: str, requires: dict[str, list[str]],
                     figures: dict[str, float], *, severity: str = ERROR, what: str = "",
                     action: str = "", scope_of: str | None = None) -> Dataset:
        """`sql` returns one row per group (month, snapshot date) with a `<figure>_diff` column per
        figure (mart total − core total); every difference must lie within ±its tolerance.
        `scope_of`: the big fact whose changed months SCOPE_MONTHS tokens in `sql` stand for."""
        ds = self.query(name, table, sql, requires, scope_of=scope_of)
        for f, tolerance in figures.items():
            ds.expect(f"{name}.{f}", gxe.ExpectColumnValuesToBeBetween(
                column=f"{f}_diff", min_value=-tolerance, max_value=tolerance), severity,
                f"{what or name}: Σ {f} equals the core total" + (f" (±{tolerance:g})" if tolerance else "")
                + " in every group",
                action or "A mart that disagrees with core double counts or loses rows: do not use its "
                "figures; the data engineers must fix the model.")
        return ds

    def drift(self, name: str, table: str, monthly_sql: str, requires: dict[str, list[str]], *,
              band: float, error_band: float, accept: frozenset[str], what: str) -> Dataset:
        """Month-over-month change of a company total (`monthly_sql`: month, value): a warning
        beyond ±band, blocking beyond ±error_band (months in `accept` only warn)."""
        ds = self.query(name, table, month_drift_sql(monthly_sql, accept, error_band), requires)
        ds.expect(f"{name}.month_over_month", gxe.ExpectColumnValuesToBeBetween(
            column="change_warn", min_value=-band, max_value=band, strict_min=True, strict_max=True), WARN,
            f"{what} changes by less than ±{band:.0%} from one month to the next",
            "Compare the month with the one before by station and elec_type (sales_volume_monthly): a "
            "real change (season, a big customer) is fine; a missing station or extract is not. "
            "Say so before using the month.")
        ds.expect(f"{name}.month_over_month_blocking", gxe.ExpectColumnValuesToBeBetween(
            column="change_block", min_value=-error_band, max_value=error_band, strict_min=True,
            strict_max=True), ERROR,
            f"{what} changes by less than ±{error_band:.0%} from one month to the next (a bigger jump or "
            "drop means a partial or doubled delivery)",
            "The data engineers check the month's partitions in audit.load_log; when the change is "
            "real they accept the month (POWERCRM_DRIFT_ACCEPT) and rerun.")
        return ds


def month_drift_sql(monthly_sql: str, accept_months: frozenset[str], error_band: float) -> str:
    """`monthly_sql` returns (month DATE, value). Every calendar month between the first and the
    last is compared with the one before (a missing month counts as 0, so a month lost whole is a
    100 % drop). `change` = value / previous − 1 (NULL when the previous is 0 or the first month),
    rounded to 6 decimals; `change_warn` is the change when it is below the blocking band (or the
    month is accepted), so a month beyond it reports once, as blocking; `change_block` leaves out
    the accepted months (a drift verified as real, e.g. a big customer closed)."""
    accepted = ", ".join("'" + m.replace("'", "") + "'" for m in sorted(accept_months)) or "''"
    return f"""
        with monthly as ({monthly_sql}),
        bounds as (select min(month) as lo, max(month) as hi from monthly),
        months as (
            select cast(m as date) as month
            from bounds, range(bounds.lo, bounds.hi + interval 1 month, interval 1 month) as r(m)
        ),
        filled as (
            select months.month, coalesce(monthly.value, 0) as value
            from months left join monthly on monthly.month = months.month
        ),
        changes as (
            select
                month,
                cast(value as double) as value,
                cast(lag(value) over (order by month) as double) as previous_value,
                round(cast(value as double) / nullif(cast(lag(value) over (order by month) as double), 0) - 1, 6)
                    as change
            from filled
        )
        select
            month, value, previous_value, change,
            case when abs(change) < {error_band} or strftime(month, '%Y-%m') in ({accepted})
                 then change end as change_warn,
            case when strftime(month, '%Y-%m') not in ({accepted}) then change end as change_block
        from changes
        order by month
    """
