"""Customer profit shares (ABC) computed straight from a landing folder with pandas.

Independent of the warehouse: it reads the extracts as text and applies the METRICS.md
customer_value rule (12 billing months ending with the month before the data date's month):
profit = revenue excluding FUND - bill kWh x (PURCHASE + LOSS + SYSTEM) of the tariff in force on
the first day of the billing month - the station's marketing cost shared equally among its
customers with a NORMAL bill in the month - its operating cost shared in proportion to their kWh.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd


def read_extract(landing: Path, extract: str) -> pd.DataFrame:
    """All loadable partitions of an extract (manifest present and matching), as text, with business_date."""
    frames = []
    base = Path(landing) / extract
    if not base.exists():
        return pd.DataFrame()
    for part in sorted(base.iterdir()):
        mf = part / "_manifest.json"
        if not mf.exists():
            continue
        man = json.loads(mf.read_text(encoding="utf-8"))
        for f in man["files"]:
            raw = (part / f["name"]).read_bytes()
            if hashlib.sha256(raw).hexdigest() != f["sha256"]:
                break
            data = gzip.decompress(raw) if f["name"].endswith(".gz") else raw
            df = pd.read_csv(io.StringIO(data.decode(f["encoding"])), dtype=str, keep_default_na=False)
            if len(df) != f["rows"]:
                break
            df["business_date"] = man["business_date"]
            frames.append(df)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def data_date(landing: Path) -> str:
    dates = []
    for mf in Path(landing).glob("*/*/_manifest.json"):
        dates.append(json.loads(mf.read_text(encoding="utf-8"))["business_date"])
    return max(dates)


def _norm(s: pd.Series) -> pd.Series:
    return s.map(lambda v: unicodedata.normalize("NFKC", v).strip() if isinstance(v, str) else v)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.where(s != ""), errors="coerce")


def _cents(x: pd.Series) -> pd.Series:
    """Round half-up to 0.01 (exact decimal arithmetic on the float's shortest repr)."""
    return x.map(lambda v: float(Decimal(repr(float(v))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)))


def customer_profit(landing: Path) -> pd.DataFrame:
    """Profit per customer over the 12 billing months before the data date's month."""
    landing = Path(landing)
    dd = pd.Timestamp(data_date(landing))
    last = (dd.to_period("M") - 1)
    months = [str(last - i) for i in range(12)]
    bills = read_extract(landing, "bill").drop_duplicates(subset=None)
    bills = bills.drop(columns=["business_date"]).drop_duplicates()
    bills = bills[bills["billing_month"].isin(months)].copy()
    bills["kwh_n"] = _num(bills["kwh"])
    items = read_extract(landing, "bill_item").drop(columns=["business_date"]).drop_duplicates()
    items = items[items["bill_id"].isin(bills["bill_id"])].copy()
    items["amount_n"] = _num(items["amount"])
    items["item"] = _norm(items["item"])
    rev = items[items["item"] != "FUND"].groupby("bill_id")["amount_n"].sum()
    bills["revenue"] = bills["bill_id"].map(rev).fillna(0.0)
    tariff = read_extract(landing, "tariff")
    tariff = tariff[tariff["business_date"] == tariff["business_date"].max()].copy()
    tariff["component"] = _norm(tariff["component"])
    cost_rows = tariff[tariff["component"].isin(["PURCHASE", "LOSS", "SYSTEM"]) & (_norm(tariff["tou_period"]) == "ALL")]
    cost_rows = cost_rows.assign(price_n=_num(cost_rows["price"]), vf=pd.to_datetime(cost_rows["valid_from"]),
                                 vt=pd.to_datetime(cost_rows["valid_to"].where(cost_rows["valid_to"] != "")))
    unit = {}
    for code in bills["tariff_code"].unique():
        for m in months:
            d = pd.Timestamp(m + "-01")
            r = cost_rows[(cost_rows["tariff_code"] == code) & (cost_rows["vf"] <= d)
                          & (cost_rows["vt"].isna() | (cost_rows["vt"] >= d))]
            unit[(code, m)] = float(r["price_n"].sum())
    bills["unit_cost"] = [unit[(c, m)] for c, m in zip(bills["tariff_code"], bills["billing_month"], strict=True)]
    bills["energy_cost"] = bills["kwh_n"] * bills["unit_cost"]
    cm = bills.groupby(["cons_no", "billing_month"]).agg(kwh=("kwh_n", "sum"), revenue=("revenue", "sum"),
                                                         energy_cost=("energy_cost", "sum")).reset_index()
    cm["energy_cost"] = _cents(cm["energy_cost"])
    normal = bills[bills["bill_type"] == "NORMAL"][["cons_no", "billing_month"]].drop_duplicates()
    normal["has_normal"] = True
    cm = cm.merge(normal, on=["cons_no", "billing_month"], how="left")
    cm["has_normal"] = cm["has_normal"].fillna(False).astype(bool)
    # station of the customer at each month end
    cust = read_extract(landing, "cust")
    cust = cust[cust["cons_no"] != ""].copy()
    cust["upd"] = pd.to_datetime(cust["updated_at"], errors="coerce")
    cust = cust.dropna(subset=["upd"]).sort_values(["cons_no", "upd"])
    station = {}
    for m in months:
        end = pd.Timestamp(m + "-01") + pd.offsets.MonthEnd(0) + pd.Timedelta(hours=23, minutes=59, seconds=59)
        v = cust[cust["upd"] <= end].groupby("cons_no").tail(1)
        first = cust.groupby("cons_no").head(1)
        s = first.set_index("cons_no")["org_no"].copy()
        s.update(v.set_index("cons_no")["org_no"])
        station[m] = s
    cm["org_no"] = [station[m].get(c) for c, m in zip(cm["cons_no"], cm["billing_month"], strict=True)]
    costs = read_extract(landing, "cost").drop(columns=["business_date"]).drop_duplicates()
    costs["mk"] = _num(costs["marketing_cost"])
    costs["op"] = _num(costs["operating_cost"])
    costs = costs.set_index(["org_no", "billing_month"])
    sharers = cm[cm["has_normal"]]
    grp = sharers.groupby(["org_no", "billing_month"]).agg(n=("cons_no", "size"), kwh_st=("kwh", "sum"))
    cm = cm.join(grp, on=["org_no", "billing_month"]).join(costs[["mk", "op"]], on=["org_no", "billing_month"])
    share_kwh = np.where(cm["kwh_st"] > 0, cm["kwh"] / cm["kwh_st"].where(cm["kwh_st"] > 0), 1.0 / cm["n"])
    cm["mk_share"] = np.where(cm["has_normal"], cm["mk"].fillna(0) / cm["n"], 0.0)
    cm["op_share"] = np.where(cm["has_normal"], cm["op"].fillna(0) * share_kwh, 0.0)
    cm["mk_share"] = _cents(pd.Series(cm["mk_share"]).fillna(0.0))
    cm["op_share"] = _cents(pd.Series(cm["op_share"]).fillna(0.0))
    cm["profit"] = cm["revenue"] - cm["energy_cost"] - cm["mk_share"] - cm["op_share"]
    out = cm.groupby("cons_no").agg(profit=("profit", "sum"), revenue=("revenue", "sum"), kwh=("kwh", "sum"))
    return out.reset_index()


def profit_shares(landing: Path) -> dict:
    """ABC calibration figures: share of positive profit from the top 20 % and the bottom 70 % of customers,
    the share of customers losing money, and the METRICS.md A/B/C class shares."""
    prof = customer_profit(landing)
    p = prof.sort_values(["profit", "cons_no"], ascending=[False, True])["profit"].to_numpy()
    n = len(p)
    pos = np.clip(p, 0, None)
    total = pos.sum()
    top = pos[: int(round(n * 0.2))].sum() / total
    bottom = pos[n - int(round(n * 0.7)):].sum() / total
    positive = np.sort(p[p > 0])[::-1]
    before = np.concatenate([[0.0], np.cumsum(positive)[:-1]]) / positive.sum()
    a = int((before < 0.8).sum())
    return {"customers": n, "top20_share": float(top), "bottom70_share": float(bottom),
            "loss_share": float((p < 0).mean()), "a_share": a / n, "b_share": (len(positive) - a) / n,
            "c_share": float((p <= 0).mean())}
