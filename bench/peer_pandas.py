"""The peer: three PowerCRM figures as an analyst would compute them with pandas from the landing folder.

`sales_volume_monthly`, `recovery_monthly` and `customer_value`, following /work/shared/METRICS.md
(the published names and rules) and SOURCE_EXTRACTS.md (the landing layout). Idiomatic,
reasonable pandas: `read_csv` per partition file, `drop_duplicates` for "latest business date
wins", `merge_asof` for "the customer-master version in force at month end", `groupby` for
the figures. No DuckDB, no SQL. Not a reference implementation of every loading rule: rows
with an unusable key or number are dropped (the warehouse quarantines them), codes are
NFKC-normalised and trimmed.

    python bench/peer_pandas.py --landing DIR --out DIR     # writes <out>/<table>.parquet

run_bench.py times it (wall, peak RSS) beside PowerCRM building the same three marts, and
compares the frames.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

CODE_COLUMNS = {"bill_type", "elec_type", "voltage", "industry_code", "channel", "item", "component",
                "tou_period", "tariff_code", "org_no"}

T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[peer {time.perf_counter() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ reading

def partitions(landing: Path, extract: str) -> list[Path]:
    """Partition folders that have a manifest (a folder without one is still being written)."""
    folder = landing / extract
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and (p / "_manifest.json").is_file())


def read_extract(landing: Path, extract: str, columns: list[str], latest_only: bool = False) -> pd.DataFrame:
    """Every file of every partition, all text, with `_business_date` and `_record_no`."""
    parts = partitions(landing, extract)
    if latest_only:  # full snapshots (org, tariff): the latest partition is the whole truth
        parts = parts[-1:]
    frames = []
    for part in parts:
        manifest = json.loads((part / "_manifest.json").read_text(encoding="utf-8"))
        for entry in manifest["files"]:
            path = part / entry["name"]
            enc = "gb18030" if str(entry.get("encoding", "utf-8")).lower() == "gb18030" else "utf-8-sig"
            if path.name.endswith(".parquet"):
                df = pd.read_parquet(path, columns=columns).astype("str")
            else:
                df = pd.read_csv(path, usecols=lambda c: c.strip().lower() in columns, dtype="str",
                                 keep_default_na=False, na_values=[""], encoding=enc)
                df.columns = [c.strip().lower() for c in df.columns]
            df["_business_date"] = part.name
            df["_record_no"] = np.arange(1, len(df) + 1)
            frames.append(df)
    if not frames:
        return pd.DataFrame(columns=columns + ["_business_date", "_record_no"])
    df = pd.concat(frames, ignore_index=True)
    for c in columns:
        if c not in df.columns:
            df[c] = pd.NA
        elif c in CODE_COLUMNS:
            df[c] = df[c].str.normalize("NFKC").str.strip().replace("", pd.NA)
    return df


def latest_per_key(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Exact duplicates once; for the same key the row of the latest business date wins."""
    df = df.dropna(subset=key)
    return df.sort_values(["_business_date", "_record_no"]).drop_duplicates(key, keep="last")


def to_num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.str.strip(), errors="coerce")


def round_half_up(x: pd.Series | np.ndarray, digits: int = 2):
    f = 10 ** digits
    return np.sign(x) * np.floor(np.abs(x) * f + 0.5 + 1e-7) / f


def month_end(months: pd.Series) -> pd.Series:
    """Last instant of the month (a timestamp on the last day is inside it)."""
    return months + pd.offsets.MonthBegin(1) - pd.Timedelta(microseconds=1)


def data_date(landing: Path) -> pd.Timestamp:
    """The latest business_date of any partition with a manifest."""
    dates = [p.name for d in landing.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))
             for p in partitions(landing, d.name)]
    return pd.Timestamp(max(dates))


# ------------------------------------------------------------------------------------ customers

def customer_versions(landing: Path) -> pd.DataFrame:
    cust = read_extract(landing, "cust", ["cons_no", "updated_at", "elec_type", "voltage", "industry_code",
                                          "org_no", "tariff_code"])
    cust["updated_at"] = pd.to_datetime(cust["updated_at"].str.strip(), format="mixed", errors="coerce")
    cust = latest_per_key(cust, ["cons_no", "updated_at"])
    cust["industry_section"] = cust["industry_code"].str[:1]
    return cust[["cons_no", "updated_at", "org_no", "elec_type", "voltage", "industry_section"]]


def attributes_at(keys: pd.DataFrame, at: str, versions: pd.DataFrame) -> pd.DataFrame:
    """`keys` (cons_no, <at>) with the master version in force at <at> (the earliest one when none is)."""
    left = keys.sort_values(at)
    res = pd.merge_asof(left, versions.sort_values("updated_at"), left_on=at, right_on="updated_at",
                        by="cons_no", direction="backward")
    missing = res["updated_at"].isna()
    if missing.any():
        earliest = versions.sort_values("updated_at").drop_duplicates("cons_no").set_index("cons_no")
        attrs = ["org_no", "elec_type", "voltage", "industry_section"]
        res.loc[missing, attrs] = earliest.reindex(res.loc[missing, "cons_no"])[attrs].to_numpy()
    return res.drop(columns="updated_at")


# ------------------------------------------------------------------------------------ facts

def read_bills(landing: Path, versions: pd.DataFrame) -> pd.DataFrame:
    bills = read_extract(landing, "bill", ["bill_id", "cons_no", "billing_month", "bill_type", "issue_date",
                                           "due_date", "kwh", "amount", "tariff_code"])
    bills = latest_per_key(bills, ["bill_id"])
    bills["month"] = pd.to_datetime(bills["billing_month"].str.strip() + "-01", errors="coerce")
    bills["issue_date"] = pd.to_datetime(bills["issue_date"], errors="coerce")
    bills["due_date"] = pd.to_datetime(bills["due_date"], errors="coerce")
    bills["kwh"] = to_num(bills["kwh"])
    bills["amount"] = to_num(bills["amount"])
    bills = bills.dropna(subset=["cons_no", "month", "kwh", "amount"])
    # the customer's attributes in force at the end of the billing month
    cm = bills[["cons_no", "month"]].drop_duplicates()
    cm["month_end"] = month_end(cm["month"])
    cm = attributes_at(cm, "month_end", versions).drop(columns="month_end")
    return bills.merge(cm, on=["cons_no", "month"], how="left")


def read_payments(landing: Path) -> pd.DataFrame:
    pay = read_extract(landing, "payment", ["pay_id", "cons_no", "bill_id", "pay_time", "channel", "amount",
                                            "reversal_of"])
    pay = latest_per_key(pay, ["pay_id"])
    pay["pay_date"] = pd.to_datetime(pay["pay_time"].str.strip(), format="mixed", errors="coerce").dt.normalize()
    pay["amount"] = to_num(pay["amount"])
    pay = pay.dropna(subset=["pay_date", "amount"])
    pay["is_reversed"] = pay["pay_id"].isin(pay["reversal_of"].dropna())
    return pay


# ------------------------------------------------------------------------------------ marts

def sales_volume_monthly(bills: pd.DataFrame) -> pd.DataFrame:
    keys = ["month", "org_no", "elec_type", "voltage", "industry_section"]
    g = (bills.groupby(keys, dropna=False)
         .agg(customers_billed=("cons_no", "nunique"), sales_kwh=("kwh", "sum"), amount_yuan=("amount", "sum"))
         .reset_index())
    prev = g[keys + ["sales_kwh"]].rename(columns={"sales_kwh": "sales_kwh_prev_year"})
    prev["month"] = prev["month"] + pd.DateOffset(months=12)
    g = g.merge(prev, on=keys, how="left")  # pandas matches NaN keys (residential: no industry)
    g["sales_kwh_yoy_rate"] = g["sales_kwh"] / g["sales_kwh_prev_year"].where(g["sales_kwh_prev_year"] != 0) - 1
    for c in ("sales_kwh", "amount_yuan", "sales_kwh_prev_year"):
        g[c] = g[c].round(2)
    return g


def recovery_monthly(bills: pd.DataFrame, pay: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    issued = bills[bills["issue_date"] <= as_of]
    recv = issued[issued["amount"] > 0][["bill_id", "month", "org_no", "elec_type", "amount", "due_date"]]
    named = pay[pay["bill_id"].notna() & (pay["pay_date"] <= as_of)][["bill_id", "pay_date", "amount"]]
    named = named.merge(recv[["bill_id", "due_date"]], on="bill_id")
    collected = named.groupby("bill_id")["amount"].sum().rename("collected_yuan")
    by_due = (named[named["pay_date"] <= named["due_date"]].groupby("bill_id")["amount"].sum()
              .rename("collected_by_due_yuan"))
    recv = recv.join(collected, on="bill_id").join(by_due, on="bill_id").fillna(
        {"collected_yuan": 0.0, "collected_by_due_yuan": 0.0})
    recv = recv.rename(columns={"amount": "billed_yuan"}).assign(refund_yuan=0.0)
    refunds = issued[(issued["bill_type"] == "ADJUST") & (issued["amount"] <= 0)]
    refunds = refunds[["month", "org_no", "elec_type", "amount"]].rename(columns={"amount": "refund_yuan"}).assign(
        billed_yuan=0.0, collected_yuan=0.0, collected_by_due_yuan=0.0)
    cols = ["billed_yuan", "collected_yuan", "collected_by_due_yuan", "refund_yuan"]
    g = (pd.concat([recv, refunds], ignore_index=True)
         .groupby(["month", "org_no", "elec_type"], dropna=False)[cols].sum().reset_index())
    billed = g["billed_yuan"].where(g["billed_yuan"] != 0)
    g["recovery_rate"] = g["collected_yuan"] / billed
    g["on_time_recovery_rate"] = g["collected_by_due_yuan"] / billed
    g[cols] = g[cols].round(2)
    return g


def cost_prices(landing: Path) -> pd.DataFrame:
    """tariff_code × valid_from/valid_to: PURCHASE + LOSS + SYSTEM (period ALL) rows of the latest snapshot."""
    t = read_extract(landing, "tariff", ["tariff_code", "component", "tou_period", "tier", "price", "valid_from",
                                         "valid_to"], latest_only=True)
    t = t[t["component"].isin(["PURCHASE", "LOSS", "SYSTEM"]) & (t["tou_period"] == "ALL")].copy()
    t["price"] = to_num(t["price"])
    t["valid_from"] = pd.to_datetime(t["valid_from"], errors="coerce")
    t["valid_to"] = pd.to_datetime(t["valid_to"], errors="coerce")
    return t[["tariff_code", "component", "price", "valid_from", "valid_to"]]


def customer_profit_monthly(landing: Path, bills: pd.DataFrame) -> pd.DataFrame:
    items = read_extract(landing, "bill_item", ["bill_id", "item_no", "item", "amount"])
    items = latest_per_key(items, ["bill_id", "item_no"])
    items["amount"] = to_num(items["amount"])
    revenue = items[items["item"] != "FUND"].groupby("bill_id")["amount"].sum().rename("revenue")
    del items
    log("bill_item read")
    b = bills.join(revenue, on="bill_id").fillna({"revenue": 0.0})

    # energy cost: bill kWh × cost price of the bill's tariff in force on the 1st of the billing month
    prices = cost_prices(landing)
    tm = b[["tariff_code", "month"]].drop_duplicates().merge(prices, on="tariff_code")
    tm = tm[(tm["valid_from"] <= tm["month"]) & (tm["valid_to"].isna() | (tm["valid_to"] >= tm["month"]))]
    tm = (tm.groupby(["tariff_code", "month", "component"])["price"].min()  # lowest tier per component
          .groupby(["tariff_code", "month"]).sum().rename("cost_price"))
    b = b.join(tm, on=["tariff_code", "month"]).fillna({"cost_price": 0.0})
    b["energy_cost"] = b["kwh"] * b["cost_price"]
    b["is_normal"] = b["bill_type"] == "NORMAL"

    cm = (b.groupby(["cons_no", "month"])
          .agg(org_no=("org_no", "first"), elec_type=("elec_type", "first"), kwh=("kwh", "sum"),
               revenue_yuan=("revenue", "sum"), energy_cost_yuan=("energy_cost", "sum"),
               has_normal_bill=("is_normal", "any"))
          .reset_index())
    cm["energy_cost_yuan"] = round_half_up(cm["energy_cost_yuan"])

    # station cost pools shared among the station's customers with a NORMAL bill in the month
    cost = read_extract(landing, "cost", ["org_no", "billing_month", "marketing_cost", "operating_cost"])
    cost = latest_per_key(cost, ["org_no", "billing_month"])
    cost["month"] = pd.to_datetime(cost["billing_month"].str.strip() + "-01", errors="coerce")
    cost["marketing_cost"] = to_num(cost["marketing_cost"])
    cost["operating_cost"] = to_num(cost["operating_cost"])
    sharing = cm[cm["has_normal_bill"] & cm["org_no"].notna()]
    base = sharing.groupby(["org_no", "month"]).agg(n=("cons_no", "size"), kwh_total=("kwh", "sum"))
    s = sharing.join(base, on=["org_no", "month"]).merge(
        cost[["org_no", "month", "marketing_cost", "operating_cost"]], on=["org_no", "month"])
    s["marketing_cost_yuan"] = round_half_up(s["marketing_cost"] / s["n"])
    s["operating_cost_yuan"] = round_half_up(np.where(
        s["kwh_total"] == 0, s["operating_cost"] / s["n"], s["operating_cost"] * s["kwh"] / s["kwh_total"]))
    cm = cm.merge(s[["cons_no", "month", "marketing_cost_yuan", "operating_cost_yuan"]], on=["cons_no", "month"],
                  how="left").fillna({"marketing_cost_yuan": 0.0, "operating_cost_yuan": 0.0})
    cm["profit_yuan"] = (cm["revenue_yuan"] - cm["energy_cost_yuan"] - cm["marketing_cost_yuan"]
                         - cm["operating_cost_yuan"])
    return cm


def ntile(order_rank: pd.Series, group_size: pd.Series, n: int = 5) -> pd.Series:
    """SQL ntile(n) from a 0-based position within the group and the group's size."""
    q, rem = group_size // n, group_size % n
    big = rem * (q + 1)  # the first `rem` tiles hold one row more
    small = (order_rank - big) // q.where(q > 0, 1) + rem + 1
    return (order_rank // (q + 1) + 1).where(order_rank < big, small).astype("int64")


def customer_value(cm: pd.DataFrame, pay: pd.DataFrame, versions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    first = as_of.to_period("M").to_timestamp()
    start, end = first - pd.DateOffset(months=12), first - pd.DateOffset(months=1)
    w = cm[(cm["month"] >= start) & (cm["month"] <= end)]
    v = w.groupby("cons_no")[["profit_yuan", "revenue_yuan", "kwh"]].sum().reset_index()

    # ABC: positive profit ranked descending (ties by cons_no); A while the share accumulated BEFORE < 0.8
    pos = v[v["profit_yuan"] > 0].sort_values(["profit_yuan", "cons_no"], ascending=[False, True])
    before = (pos["profit_yuan"].cumsum() - pos["profit_yuan"]) / pos["profit_yuan"].sum()
    v["abc_class"] = "C"
    v.loc[pos.index, "abc_class"] = np.where(before < 0.80, "A", "B")

    # RFM within the elec_type in force at the data date
    at = v[["cons_no"]].assign(at=as_of + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))
    v = v.merge(attributes_at(at, "at", versions)[["cons_no", "elec_type"]], on="cons_no", how="left")
    money = pay[(pay["channel"] != "BALANCE") & ~pay["is_reversed"] & (pay["amount"] > 0)
                & (pay["pay_date"] <= as_of)]
    recent = money["pay_date"] > as_of - pd.Timedelta(days=365)
    beh = money.assign(recent=recent).groupby("cons_no").agg(last=("pay_date", "max"), frequency=("recent", "sum"))
    v = v.join(beh, on="cons_no")
    v["recency_days"] = (as_of - v["last"]).dt.days.astype("Int64")
    v["frequency"] = v["frequency"].fillna(0).astype("int64")
    v["monetary_yuan"] = v["revenue_yuan"]
    size = v.groupby("elec_type", dropna=False)["cons_no"].transform("size")

    def score(by: list[str], ascending: list[bool], na_position: str = "last") -> pd.Series:
        order = v.sort_values(by, ascending=ascending, na_position=na_position)
        pos = order.groupby("elec_type", dropna=False).cumcount()
        return ntile(pos, size.loc[order.index]).reindex(v.index)

    v["r_score"] = score(["recency_days", "cons_no"], [False, True], na_position="first")
    v["f_score"] = score(["frequency", "cons_no"], [True, True])
    v["m_score"] = score(["monetary_yuan", "cons_no"], [True, True])
    for c in ("profit_yuan", "revenue_yuan", "kwh", "monetary_yuan"):
        v[c] = v[c].round(2)
    return v[["cons_no", "elec_type", "profit_yuan", "revenue_yuan", "kwh", "abc_class", "recency_days",
              "frequency", "monetary_yuan", "r_score", "f_score", "m_score"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="pandas peer: sales_volume_monthly, recovery_monthly and "
                                             "customer_value from a landing folder (METRICS.md rules)")
    ap.add_argument("--landing", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="folder for <table>.parquet")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    as_of = data_date(args.landing)
    log(f"data date {as_of.date()}")
    versions = customer_versions(args.landing)
    log(f"cust: {len(versions):,} versions")
    bills = read_bills(args.landing, versions)
    log(f"bill: {len(bills):,} bills")
    sales_volume_monthly(bills).to_parquet(args.out / "sales_volume_monthly.parquet", index=False)
    log("sales_volume_monthly written")
    pay = read_payments(args.landing)
    log(f"payment: {len(pay):,} rows")
    recovery_monthly(bills, pay, as_of).to_parquet(args.out / "recovery_monthly.parquet", index=False)
    log("recovery_monthly written")
    cm = customer_profit_monthly(args.landing, bills)
    del bills
    customer_value(cm, pay, versions, as_of).to_parquet(args.out / "customer_value.parquet", index=False)
    log("customer_value written")
    (args.out / "_peer.json").write_text(json.dumps({"data_date": str(as_of.date()),
                                                      "written": date.today().isoformat()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
