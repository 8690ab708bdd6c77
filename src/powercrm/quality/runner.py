"""Run suites with Great Expectations 1.x on pandas frames read from DuckDB.

GE's SQL datasource does not work on DuckDB, so every dataset is read by DuckDB into a pandas
DataFrame (DECIMAL and HUGEINT columns as DOUBLE; text through Arrow, see `fetch_frame`; narrow
integers as int64, see `widen_ints`) and
validated through an ephemeral context's pandas datasource: one batch per frame, one GE suite
per dataset; a big partitioned dataset is read in frames of consecutive months of at most
`max_rows` rows. Results come back as plain dicts, one per check (the rows of
`audit.check_results`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import logging
import math
import os
import time
from collections.abc import Iterable
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import duckdb  # noqa: E402
import great_expectations as gx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
from great_expectations.data_context.types.base import (  # noqa: E402
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.execution_engine import pandas_execution_engine as _gx_pandas_engine  # noqa: E402

from powercrm.quality.checks import ERROR, Check, Dataset, Suite, q  # noqa: E402
from powercrm.quality.config import QualityConfig  # noqa: E402
from powercrm.quality.scope import BIG_FACTS, CheckScope, has_tokens  # noqa: E402

MAX_EXAMPLES = 10
GC_EVERY_ROWS = 5_000_000  # frames' rows validated between two garbage collections
GE_SEVERITY = {ERROR: "critical", "warn": "warning"}
_CAST_TO_DOUBLE = ("DECIMAL", "HUGEINT", "UHUGEINT", "UBIGINT")

log = logging.getLogger("powercrm.quality")

for _name in ("great_expectations", "great_expectations.core", "great_expectations.expectations"):
    logging.getLogger(_name).setLevel(logging.ERROR)

# GE fingerprints every pandas batch below 1 GB (an MD5 over a hash of every cell, run twice per
# validation since `batch.validate` fetches the batch again): a batch marker that nothing here reads,
# and 40 % of the validation time of a million-row frame. A threshold of 0 skips it; results are
# unchanged.
_gx_pandas_engine.HASH_THRESHOLD = 0


SMALL_FRAME = 1_000  # rows below which the frame comes from DuckDB's conversion alone


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _literal(value: Any) -> str:
    """A partition value (a month, a date) as a SQL literal."""
    if isinstance(value, dt.datetime):
        return f"timestamp '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"date '{value.isoformat()}'"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def fetch_frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """The query's rows as the DataFrame DuckDB's `.df()` returns, built faster.

    `.df()` turns VARCHAR columns into pandas strings one Python object at a time (≈ 1.2 s per
    million rows); through Arrow the same `str` column costs a fifth of that. So the query runs
    once into an Arrow table: its text columns become pandas columns through Arrow, every other
    column through DuckDB's own conversion (same dtypes as `.df()`: nullable Int64/boolean,
    datetime64[us] dates), reassembled in the query's column order."""
    rel = con.sql(sql)
    if not any(str(t) == "VARCHAR" for t in rel.types):
        return rel.df()
    table = rel.to_arrow_table()
    # `.df()` gives an empty or all-NULL text column dtype object: those go through DuckDB too
    text = {i for i, f in enumerate(table.schema)
            if _is_text(f.type) and table.column(i).null_count < table.num_rows}
    if not text or table.num_rows < SMALL_FRAME or len(set(table.column_names)) < table.num_columns:
        return con.from_arrow(table).df()
    names = table.column_names
    columns: dict[int, pd.Series] = {}
    other = [i for i in range(len(names)) if i not in text]
    if other:
        df = con.from_arrow(table.select(other)).df()
        for pos, i in enumerate(other):
            columns[i] = df.iloc[:, pos]
    strings = table.select(sorted(text)).to_pandas()
    for pos, i in enumerate(sorted(text)):
        columns[i] = strings.iloc[:, pos]
    out = pd.concat([columns[i] for i in range(len(names))], axis=1) if len(names) > 1 \
        else columns[0].to_frame()
    out.columns = names
    return out


# GE 1.x compares a column's values with bounds (expect_column_values_to_be_between) in one
# vectorised step only for int64 and float64 columns (`column.dtype in [int, float]`); any other
# dtype goes through a Python function per value (1 000 000 customers: 0.3 s for each of the four
# INTEGER score columns of customer_value and customer_segment, 1.3 s of a night's 12 s gate).
_NARROW_INTS = frozenset({"int8", "int16", "int32", "uint8", "uint16", "uint32"})


def widen_ints(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with its narrow NumPy integer columns (DuckDB's TINYINT … INTEGER, never NULL) as
    int64: the same values, compared vectorised. Nullable columns (Int32 with NULLs) stay as they are."""
    narrow = {c: "int64" for c, t in df.dtypes.items() if str(t) in _NARROW_INTS}
    return df.astype(narrow) if narrow else df


class Catalog:
    """Tables and views of the working database, with their columns (lower-case names)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where database_name = current_database()").fetchall()
        self.tables: dict[str, set[str]] = {}
        for schema, table, column in rows:
            self.tables.setdefault(f"{schema}.{table}".lower(), set()).add(column.lower())
        self.base_tables = {f"{s}.{t}".lower() for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()").fetchall()}

    def has(self, table: str) -> bool:
        return table.lower() in self.tables

    def missing(self, required: dict[str, list[str]]) -> str | None:
        """Why the requirement is not met (one phrase), or None."""
        for table, cols in required.items():
            if not self.has(table):
                return f"table {table} does not exist"
            lacking = [c for c in cols if c.lower() not in self.tables[table.lower()]]
            if lacking:
                return f"{table} has no column {', '.join(lacking)}"
        return None


def jsonable(value: Any) -> Any:
    """A frame cell as a JSON value (dates as ISO text, NaN/NaT as null)."""
    if value is None:
        return None
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        if value.hour == value.minute == value.second == 0 and value.microsecond == 0:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def frame_part(df: pd.DataFrame, index: Iterable | None = None, limit: int = MAX_EXAMPLES) -> pd.DataFrame:
    if index is not None:
        labels = [i for i in list(index)[:limit] if i in df.index]
        return df.loc[labels]
    return df.head(limit)


def frame_rows(part: pd.DataFrame) -> list[dict]:
    """Rows as JSON-able dicts, without the helper columns (`_rowid`; `_key` is shown)."""
    cols = [c for c in part.columns if not str(c).startswith("_") or c == "_key"]
    return [{c: jsonable(v) for c, v in zip(cols, row, strict=True)}
            for row in part[cols].itertuples(index=False, name=None)]


def _short(value: Any) -> str:
    v = jsonable(value)
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_short(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "[" + ", ".join(_short(x) for x in v[:5]) + (", …" if len(v) > 5 else "") + "]"
    return str(v)


class Runner:
    """Executes suites against one open DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cfg: QualityConfig, scope: CheckScope | None = None) -> None:
        self.con = con
        self.cfg = cfg
        self.scope = scope or CheckScope.everything()
        self.largest_frame = (0, "")  # (rows, dataset): the biggest frame held in pandas
        self._rows_since_gc = 0
        self.catalog = Catalog(con)
        # in memory only: no Data Docs site (its pages load styles from a CDN), no progress bars
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self.ctx = gx.get_context(mode="ephemeral", project_config=config)
        source = self.ctx.data_sources.add_pandas("powercrm")
        # one asset and batch definition for every frame: registering an asset re-serialises the
        # whole context config (tens of ms each), a new batch is only a new DataFrame
        self.batch_def = source.add_dataframe_asset(name="frames").add_batch_definition_whole_dataframe("frame")

    # ---------------------------------------------------------------------------------- api

    def run_suite(self, suite: Suite) -> list[dict]:
        out: list[dict] = []
        for ds in suite.datasets:
            out.extend(self.run_dataset(suite, ds))
        return out

    def is_scoped(self, ds: Dataset) -> bool:
        """Does this dataset read only the changed months tonight? (big facts on an incremental night)"""
        if self.scope.full:
            return False
        return has_tokens(ds.sql) or (ds.partition_by is not None and self._scope_table(ds) in BIG_FACTS)

    def reads_rederived(self, ds: Dataset) -> bool:
        """Does this dataset read only the rows tonight's build re-derived? (`nightly_rows`, on an
        incremental night whose load times are known)"""
        return bool(ds.nightly_rows) and self.is_scoped(ds) and self.scope.since is not None

    @staticmethod
    def _scope_table(ds: Dataset) -> str:
        return (ds.scope_of or ds.table).lower()

    def run_dataset(self, suite: Suite, ds: Dataset) -> list[dict]:
        t0 = time.perf_counter()
        scope = "full"
        if self.reads_rederived(ds):
            scope = ds.nightly_rows
        elif self.is_scoped(ds):
            scope = self.scope.label(self._scope_table(ds))
        return [{**r, "scope": scope} for r in self._run_dataset(suite, ds, t0)]

    def _run_dataset(self, suite: Suite, ds: Dataset, t0: float) -> list[dict]:
        why = self.catalog.missing(ds.required_tables())
        if why:
            return [self._result(suite, ds, c, "skipped", None, why, [], time.perf_counter() - t0) for c in ds.checks]
        active: list[Check] = []
        results: list[dict] = []
        if ds.sql is None:
            have = self.catalog.tables[ds.table.lower()]
            for c in ds.checks:
                lacking = [col for col in c.columns if col.lower() not in have]
                if lacking:
                    results.append(self._result(suite, ds, c, "skipped", None,
                                                f"{ds.table} has no column {', '.join(lacking)}", [], 0.0))
                else:
                    active.append(c)
            cols = [col for col in ds.columns if col.lower() in have]
            context = [col for col in ds.context if col.lower() in have and col not in cols]
            if ds.table.lower() in self.catalog.base_tables:  # context looked up by rowid on failure
                base_sql = f"select rowid as _rowid, {', '.join(q(c) for c in cols)} from {ds.table}"
            else:  # a view has no rowid: read the context with the frame
                base_sql = f"select {', '.join(q(c) for c in context + cols)} from {ds.table}"
        else:
            active = list(ds.checks)
            base_sql = self.scope.render(ds.sql, self._scope_table(ds))
        if not active:
            return results
        try:
            outcome = self._validate(ds, active, base_sql)
        except Exception as e:  # noqa: BLE001 - one broken dataset fails its checks, never the whole gate
            msg = f"could not be evaluated: {str(e).splitlines()[0][:300]}"
            seconds = time.perf_counter() - t0
            return results + [self._result(suite, ds, c, "fail", None, msg, [], seconds) for c in active]
        seconds = time.perf_counter() - t0
        for c in active:
            agg = outcome[c.name]
            status = "pass" if agg["success"] else ("fail" if c.severity == ERROR else "warn")
            results.append(self._result(suite, ds, c, status, agg["failing_rows"], agg["observed"],
                                        agg["examples"] if not agg["success"] else [], seconds / len(active)))
        return results

    # ------------------------------------------------------------------------------ helpers

    def _result(self, suite: Suite, ds: Dataset, check: Check, status: str, failing: int | None,
                observed: str, examples: list[dict], seconds: float) -> dict:
        return {
            "check_name": check.name, "suite": suite.name, "table_name": ds.table, "severity": check.severity,
            "status": status, "failing_rows": failing, "observed_value": observed,
            "description": check.description, "action": check.what_to_do, "examples": examples,
            "seconds": round(seconds, 4),
        }

    def _examples(self, ds: Dataset, part: pd.DataFrame) -> list[dict]:
        """Failing rows as dicts; the dataset's context columns looked up by rowid (few rows)."""
        rows = frame_rows(part)
        if not ds.context or "_rowid" not in part.columns or part.empty:
            return rows
        have = self.catalog.tables.get(ds.table.lower(), set())
        context = [c for c in ds.context if c.lower() in have]
        if not context:
            return rows
        rowids = [int(v) for v in part["_rowid"].tolist()]
        found = self.con.execute(
            f"select rowid, {', '.join(q(c) for c in context)} from {ds.table} "
            f"where rowid in ({', '.join(str(r) for r in rowids)})").fetchall()
        by_id = {r[0]: {c: jsonable(v) for c, v in zip(context, r[1:], strict=True)} for r in found}
        return [{**by_id.get(rid, {}), **row} for rid, row in zip(rowids, rows, strict=True)]

    def _typed_sql(self, sql: str) -> str:
        """The query with DECIMAL / HUGEINT columns cast to DOUBLE (pandas has no fast decimal)."""
        described = self.con.execute(f"describe {sql}").fetchall()
        parts = []
        for name, typ, *_ in described:
            if str(typ).upper().startswith(_CAST_TO_DOUBLE):
                parts.append(f"cast({q(name)} as double) as {q(name)}")
            else:
                parts.append(q(name))
        return f"select {', '.join(parts)} from ({sql}) as _frame"

    def _partitions(self, ds: Dataset) -> list[list[Any]] | None:
        """The partition values read together, frame by frame (None: the whole dataset in one frame).

        Consecutive months are packed into one frame as long as their rows (of `ds.table`) stay within
        the configured bound: every frame costs Great Expectations a fixed ≈ 0.1–0.3 s to plan,
        whatever its size. A month above the bound is a frame of its own; rows without a month
        (NULL) are always a frame of their own, the last."""
        if not ds.partition_by:
            return None
        if self.reads_rederived(ds):
            return None  # tonight's re-derived rows only: few, one frame
        col = q(ds.partition_by)
        if self.is_scoped(ds):  # the changed months only (zone maps prune the scan), even when few rows;
            # rows without a month belong to no month: they are read every night
            where = f"where {self.scope.months_sql(self._scope_table(ds), col)} or {col} is null"
        else:
            # fetchall: `con.sql` (fetch_frame) refuses to run beside an unfinished execute() result
            rows = self.con.execute(f"select count(*) from {ds.table}").fetchall()[0][0]
            if rows <= self.cfg.max_rows:
                return None
            where = ""
        counts = self.con.execute(
            f"select {col}, count(*) from {ds.table} {where} group by 1 order by 1 nulls last").fetchall()
        groups: list[list[Any]] = []
        size = 0
        for value, n in counts:
            if value is None or not groups or groups[-1][0] is None or size + n > self.cfg.max_rows:
                groups.append([value])
                size = n
            else:
                groups[-1].append(value)
                size += n
        return groups

    def _frame(self, ds: Dataset, typed: str, group: list[Any] | None) -> pd.DataFrame:
        """One frame: the whole dataset, or the rows of the group's partition values in the order
        month-by-month frames would give them (months ascending, each month's rows as read)."""
        if group is None:
            sql = typed
        elif group == [None]:
            sql = f"select * from ({typed}) as _p where {q(ds.partition_by)} is null"
        else:
            # one `= <month>` branch per month: DuckDB pushes an equality through the dataset's joins
            # and aggregates (fct_bill.items reads one month of lines), not always an IN list
            sql = " union all ".join(f"(select * from ({typed}) as _p where {q(ds.partition_by)} = {_literal(v)})"
                                     for v in group)
        df = widen_ints(fetch_frame(self.con, sql))
        if group is None or len(group) == 1:
            return df
        return df.sort_values(ds.partition_by, kind="stable", ignore_index=True)

    def _gx_suite(self, ds: Dataset, checks: list[Check]) -> gx.ExpectationSuite:
        suite = gx.ExpectationSuite(name=f"{ds.table}:{ds.name}")
        for c in checks:
            exp = c.expectation.copy(deep=True)
            exp.meta = {**(exp.meta or {}), "check": c.name, "severity": c.severity}
            exp.severity = GE_SEVERITY[c.severity]
            suite.add_expectation(exp)
        return suite

    def _validate(self, ds: Dataset, checks: list[Check], base_sql: str) -> dict[str, dict]:
        typed = self._typed_sql(base_sql)
        parts = self._partitions(ds)
        gx_suite = self._gx_suite(ds, checks)
        agg: dict[str, dict] = {c.name: {"success": True, "unexpected": 0, "elements": 0, "observed": None,
                                         "examples": [], "frame_rows": 0, "error": None} for c in checks}
        frames: list[list[Any] | None] = [None] if parts is None else parts
        for group in frames:
            df = self._frame(ds, typed, group)
            if parts is not None and df.empty:
                continue
            if len(df) > self.largest_frame[0]:
                self.largest_frame = (len(df), ds.name)
            log.debug("%s: frame %s of %d rows, %.1f MB", ds.name, group, len(df),
                      df.memory_usage(deep=False).sum() / 2**20)
            batch = self.batch_def.get_batch(batch_parameters={"dataframe": df})
            res = batch.validate(gx_suite, result_format={"result_format": "SUMMARY",
                                                          "partial_unexpected_count": MAX_EXAMPLES})
            for r in res.results:
                name = r.expectation_config.meta["check"]
                a = agg[name]
                info = r.exception_info or {}
                raised = info.get("raised_exception")
                if raised is None and info:  # several metrics: {metric_id: {...}}
                    raised = any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())
                if raised:
                    message = info.get("exception_message")
                    if not message:
                        message = next((v.get("exception_message") for v in info.values()
                                        if isinstance(v, dict) and v.get("exception_message")), "")
                    a["success"] = False
                    a["error"] = f"could not be evaluated: {str(message).splitlines()[0][:300] if message else 'error'}"
                    continue
                result = r.result or {}
                a["frame_rows"] += len(df)
                if not r.success:
                    a["success"] = False
                if "unexpected_count" in result:
                    a["unexpected"] += int(result.get("unexpected_count") or 0)
                    a["elements"] += int(result.get("element_count") or 0)
                    if not r.success and len(a["examples"]) < MAX_EXAMPLES:
                        idx = result.get("partial_unexpected_index_list")
                        if idx is not None:
                            rows = self._examples(ds, frame_part(df, idx, MAX_EXAMPLES - len(a["examples"])))
                        else:
                            rows = [{"value": jsonable(v)} for v in result.get("partial_unexpected_list") or []]
                        a["examples"].extend(rows[:MAX_EXAMPLES - len(a["examples"])])
                else:
                    a["observed"] = result.get("observed_value")
                    if not r.success and ds.failing_rows_are_frame_rows:
                        a["examples"] = self._examples(ds, frame_part(df))
            self._rows_since_gc += len(df)
            del df, batch, res  # free the frame before reading the next month
            if self._rows_since_gc > GC_EVERY_ROWS:  # GE's objects hold cycles; a collection costs ~0.2 s
                gc.collect()
                self._rows_since_gc = 0
        out: dict[str, dict] = {}
        for c in checks:
            a = agg[c.name]
            if a["error"]:
                out[c.name] = {"success": False, "failing_rows": None, "observed": a["error"], "examples": []}
                continue
            if c.is_row_level:
                failing: int | None = a["unexpected"]
                observed = f"{failing} row(s)" if ds.prefiltered else f"{failing} of {a['elements']} row(s)"
            elif ds.failing_rows_are_frame_rows:
                failing = 0 if a["success"] else a["frame_rows"]
                observed = f"{a['frame_rows']} row(s)"
            else:  # a distribution figure: no rows to count
                failing = None
                observed = _short(a["observed"])
            out[c.name] = {"success": a["success"], "failing_rows": failing, "observed": observed,
                           "examples": a["examples"]}
        return out
