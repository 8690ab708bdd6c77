"""What every dashboard page shares: the published file, read-only queries, the sidebar filters.

The dashboard reads the PUBLISHED warehouse file (env POWERCRM_WAREHOUSE, default
warehouse/powercrm.duckdb, relative to the working directory) and never writes to it. Each
query opens the file with `duckdb.connect(path, read_only=True)` and closes it again: the
nightly run replaces the file atomically, and a connection kept open would keep showing the
old night's data. Query results are cached per (file path, inode, modification time), so a
replaced file is read afresh on the next click.

Numbers shown are the marts' numbers: pages filter and sum them, never re-derive a rule of
METRICS.md. A table or column that is missing from the file gives a note on the page, not an
error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

WAREHOUSE_ENV = "POWERCRM_WAREHOUSE"
DEFAULT_WAREHOUSE = "warehouse/powercrm.duckdb"

# the ageing buckets of METRICS.md, in their natural order
AGEING_BUCKETS = ("1-30", "31-60", "61-90", "91-180", "181-365", ">365")
# line-loss status colours: red for high, orange for negative, green for normal, grey without supply
LOSS_STATUS_COLOURS = {"HIGH": "#d62728", "NEGATIVE": "#ff7f0e", "NORMAL": "#2ca02c", "NO_SUPPLY": "#9e9e9e"}


def wide_by(df: pd.DataFrame, index: str, column: str, value: str, colours: dict[str, str]
            ) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Long -> wide with one column per category in a fixed order, for charts with fixed colours."""
    wide = df.pivot_table(index=index, columns=column, values=value, aggfunc="sum").reset_index()
    present = [c for c in colours if c in wide.columns]
    present += [c for c in wide.columns if c not in present and c != index]
    palette = [colours.get(c, "#1f77b4") for c in present]
    return wide, present, palette


# --------------------------------------------------------------------------- the published file

def warehouse_path() -> Path:
    return Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE)


def _file_key(path: Path) -> tuple[str, int, int, int] | None:
    """Identity of the file as it is now; changes when the nightly run swaps in a new file."""
    try:
        s = path.stat()
    except OSError:
        return None
    return (str(path.resolve()), s.st_ino, s.st_mtime_ns, s.st_size)


@st.cache_data(ttl=900, max_entries=512, show_spinner=False)
def _run_query(path: str, key: tuple, sql: str, params: tuple) -> pd.DataFrame:
    # `key` is only part of the cache key: a replaced file has a new inode / mtime
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


class WarehouseUnavailable(Exception):
    """The published file is missing or cannot be opened."""


def query(sql: str, params: Sequence = ()) -> pd.DataFrame:
    """Run one read-only query against the published file (DECIMALs come back as floats)."""
    path = warehouse_path()
    key = _file_key(path)
    if key is None:
        raise WarehouseUnavailable(f"the published file {path} does not exist")
    try:
        return _run_query(str(path), key, sql, tuple(params))
    except duckdb.IOException as e:
        raise WarehouseUnavailable(f"the published file {path} cannot be opened: {e}") from e


def catalog() -> dict[str, list[str]]:
    """`schema.table` -> its columns, for every table in the file."""
    df = query("select table_schema, table_name, column_name from information_schema.columns "
               "where table_catalog = current_database() order by table_schema, table_name, ordinal_position")
    out: dict[str, list[str]] = {}
    for s, t, c in df.itertuples(index=False):
        out.setdefault(f"{s}.{t}", []).append(c)
    return out


def columns(table: str) -> list[str] | None:
    """Columns of `schema.table`, or None when the file has no such table."""
    return catalog().get(table)


def missing_note(table: str, what: str = "") -> None:
    st.info(f"`{table}` is not in the published file yet{': ' + what + ' cannot be shown' if what else ''}. "
            "It appears after the nightly run that builds it.", icon=":material/info:")


def has(table: str, what: str = "") -> bool:
    """True when the table exists; otherwise shows a note and returns False."""
    if columns(table) is None:
        missing_note(table, what)
        return False
    return True


# --------------------------------------------------------------------------- filters

@dataclass(frozen=True)
class Filters:
    """The sidebar's choices. An empty choice means everything."""

    month_from: date | None = None
    month_to: date | None = None  # first day of the last month chosen
    counties: tuple[str, ...] = ()
    stations: tuple[str, ...] = ()
    elec_types: tuple[str, ...] = ()

    def org_set(self, orgs: pd.DataFrame | None) -> tuple[str, ...] | None:
        """org_no values a row may carry: the chosen stations, or the chosen counties and their stations."""
        if self.stations:
            return self.stations
        if self.counties:
            under = []
            if orgs is not None and not orgs.empty:
                under = orgs.loc[orgs["county_org_no"].isin(self.counties), "org_no"].tolist()
            return tuple(sorted(set(self.counties) | set(under)))
        return None

    def county_set(self, orgs: pd.DataFrame | None) -> tuple[str, ...] | None:
        if self.counties:
            return self.counties
        if self.stations and orgs is not None and not orgs.empty:
            return tuple(sorted(set(orgs.loc[orgs["org_no"].isin(self.stations), "county_org_no"].dropna())))
        return None

    def describe(self) -> str:
        parts = []
        if self.month_from and self.month_to:
            parts.append(f"{self.month_from:%Y-%m} to {self.month_to:%Y-%m}")
        if self.counties:
            parts.append(f"{len(self.counties)} county(ies)")
        if self.stations:
            parts.append(f"{len(self.stations)} station(s)")
        if self.elec_types:
            parts.append("category " + ", ".join(self.elec_types))
        return "; ".join(parts) or "all data"


def orgs() -> pd.DataFrame | None:
    if columns("core.dim_org") is None:
        return None
    return query("select * from core.dim_org order by org_no")


def org_names() -> dict[str, str]:
    o = orgs()
    if o is None or "org_name" not in o.columns:
        return {}
    return dict(zip(o["org_no"], o["org_name"], strict=False))


def elec_type_names() -> dict[str, str]:
    cols = columns("core.dim_elec_type")
    if cols is None:
        return {}
    label = "name_en" if "name_en" in cols else ("name_zh" if "name_zh" in cols else None)
    if label is None:
        return {}
    zh = ", name_zh" if "name_zh" in cols and label != "name_zh" else ""
    df = query(f"select cast(elec_type as varchar) as elec_type, {label} as label{zh} from core.dim_elec_type")
    out = {}
    for r in df.itertuples(index=False):
        out[r.elec_type] = f"{r.elec_type} {r.name_zh} {r.label}" if zh else f"{r.elec_type} {r.label}"
    return out


def available_months() -> list[date]:
    """Billing months the marts cover (the sales mart, else the calendar up to the data date)."""
    for table, sql in (
        ("marts.sales_volume_monthly", "select distinct month from marts.sales_volume_monthly"),
        ("marts.recovery_monthly", "select distinct month from marts.recovery_monthly"),
        ("core.fct_bill", "select distinct billing_month as month from core.fct_bill"),
        ("core.dim_date", "select distinct month from core.dim_date"),
    ):
        if columns(table) is not None:
            df = query(sql + " order by 1")
            months = [pd.Timestamp(m).date() for m in df["month"].dropna()]
            if months:
                return months
    return []


def sidebar_filters() -> Filters:
    """Render the filters in the sidebar (the entrypoint calls this on every page)."""
    sb = st.sidebar
    sb.header("Filters")
    months = available_months()
    month_from = month_to = None
    if len(months) >= 2:
        default = (months[max(0, len(months) - 12)], months[-1])
        chosen = sb.select_slider("Months", options=months, value=default, key="f_months",
                                  format_func=lambda d: f"{d:%Y-%m}",
                                  help="Billing month for bill-based figures; month of the event otherwise. "
                                       "Snapshot tables show the snapshots inside these months.")
        month_from, month_to = chosen
    elif months:
        month_from = month_to = months[0]
        sb.caption(f"Month: {months[0]:%Y-%m} (the only month in the file)")
    o = orgs()
    names = org_names()
    counties: list[str] = []
    stations: list[str] = []
    if o is not None and not o.empty:
        county_opts = sorted(o.loc[o["org_level"] == 2, "org_no"]) if "org_level" in o.columns else []
        counties = sb.multiselect("County 县公司", county_opts, key="f_counties",
                                  format_func=lambda c: f"{names.get(c, c)} ({c})", placeholder="All counties")
        st_rows = o.loc[o["org_level"] == 3] if "org_level" in o.columns else o.iloc[0:0]
        if counties:
            st_rows = st_rows.loc[st_rows["county_org_no"].isin(counties)]
        stations = sb.multiselect("Station 供电所", sorted(st_rows["org_no"]), key="f_stations",
                                  format_func=lambda c: f"{names.get(c, c)} ({c})", placeholder="All stations")
    et = elec_type_names()
    elec = sb.multiselect("Customer category 用电类别", sorted(et), key="f_elec",
                          format_func=lambda c: et.get(c, c), placeholder="All categories")
    f = Filters(month_from, month_to, tuple(counties), tuple(stations), tuple(elec))
    st.session_state["powercrm_filters"] = f
    return f


def current_filters() -> Filters:
    f = st.session_state.get("powercrm_filters")
    return f if isinstance(f, Filters) else Filters()


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def where(table: str, f: Filters, *, period: str | None = "auto", org: str | None = "org_no",
          county: str | None = None, elec: str | None = "elec_type") -> tuple[str, list]:
    """SQL conditions (`where ...` or '') and parameters for the filters, on the columns the table has."""
    cols = set(columns(table) or ())
    conds: list[str] = []
    params: list = []
    if period == "auto":
        period = next((c for c in ("month", "snapshot_date") if c in cols), None)
    if period and period in cols and f.month_from and f.month_to:
        conds.append(f'"{period}" >= ? and "{period}" < ?')
        params += [f.month_from, _next_month(f.month_to)]
    o = orgs()
    org_set = f.org_set(o)
    if org and org in cols and org_set is not None:
        conds.append(f'"{org}" in ({", ".join("?" for _ in org_set)})')
        params += list(org_set)
    county_set = f.county_set(o)
    if county and county in cols and county_set is not None:
        conds.append(f'"{county}" in ({", ".join("?" for _ in county_set)})')
        params += list(county_set)
    if elec and elec in cols and f.elec_types:
        conds.append(f'cast("{elec}" as varchar) in ({", ".join("?" for _ in f.elec_types)})')
        params += list(f.elec_types)
    return ("where " + " and ".join(conds)) if conds else "", params


def read(table: str, select: str = "*", *, f: Filters | None = None, group_by: str | None = None,
         order_by: str | None = None, limit: int | None = None, extra: str | None = None,
         extra_params: Iterable = (), what: str = "", **where_kw) -> pd.DataFrame | None:
    """`select <select> from <table>` filtered by the sidebar; None (and a note) when it cannot be read."""
    if not has(table, what):
        return None
    w, params = where(table, f if f is not None else current_filters(), **where_kw)
    if extra:
        w = (w + " and " if w else "where ") + f"({extra})"
        params += list(extra_params)
    sql = f"select {select} from {table} {w}"
    if group_by:
        sql += f" group by {group_by}"
    if order_by:
        sql += f" order by {order_by}"
    if limit:
        sql += f" limit {int(limit)}"
    try:
        return query(sql, params)
    except duckdb.Error as e:
        st.warning(f"`{table}` could not be read as this page expects ({type(e).__name__}: "
                   f"{str(e).splitlines()[0]}). The table may be changing; the other figures are unaffected.")
        return None


# --------------------------------------------------------------------------- presentation helpers

def with_names(df: pd.DataFrame, col: str = "org_no", as_col: str = "station") -> pd.DataFrame:
    """Add a readable org name right after an org code column."""
    names = org_names()
    df = df.copy()
    values = [names.get(v, v) if isinstance(v, str) else "(none)" for v in df[col]]
    if as_col in df.columns:
        df = df.drop(columns=[as_col])
    df.insert(list(df.columns).index(col) + 1, as_col, values)
    return df


def with_elec_names(df: pd.DataFrame, col: str = "elec_type", as_col: str = "category") -> pd.DataFrame:
    """Add the customer category's label right after the elec_type column."""
    et = elec_type_names()
    df = df.copy()
    values = [et.get(str(v), str(v)) for v in df[col]]
    if as_col in df.columns:
        df = df.drop(columns=[as_col])
    df.insert(list(df.columns).index(col) + 1, as_col, values)
    return df


def empty_note(df: pd.DataFrame | None, what: str = "rows") -> bool:
    """True (with a note) when there is nothing to show for the current filters."""
    if df is None:
        return True
    if df.empty:
        st.caption(f"No {what} for the current filters.")
        return True
    return False


def _compact(x: float) -> str:
    for div, unit in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(x) >= div:
            return f"{x / div:,.2f}{unit}"
    return f"{x:,.2f}"


def yuan(x: float | None) -> str:
    return "–" if x is None or pd.isna(x) else f"¥{_compact(float(x))}"


def kwh(x: float | None) -> str:
    return "–" if x is None or pd.isna(x) else f"{_compact(float(x))} kWh"


def pct(x: float | None) -> str:
    return "–" if x is None or pd.isna(x) else f"{x:.1%}"


def month_label(df: pd.DataFrame, col: str = "month") -> pd.DataFrame:
    """Months as `YYYY-MM` text, so bar charts show one bar per month."""
    df = df.copy()
    df[col] = pd.to_datetime(df[col]).dt.strftime("%Y-%m")
    return df


def page_header(title: str, source: str) -> Filters:
    st.title(title)
    f = current_filters()
    st.caption(f"Source: {source}. Filters: {f.describe()}.")
    return f
