"""Overview: what this file holds, its data date, and headline figures of the latest month chosen."""

from datetime import datetime

import streamlit as st

import common

f = common.page_header("PowerCRM overview 概览", "the published warehouse file")

path = common.warehouse_path()
stat = path.stat()
cat = common.catalog()
c1, c2, c3 = st.columns(3)
c1.metric("File replaced at", f"{datetime.fromtimestamp(stat.st_mtime):%Y-%m-%d %H:%M}")
data_date = None
if "audit.publish_log" in cat:
    pl = common.query("select * from audit.publish_log order by published_at desc nulls last limit 1")
    if not pl.empty and "data_date" in pl.columns and pl["data_date"].notna().any():
        data_date = pl["data_date"].iloc[0]
if data_date is None and "marts.customer_credit" in cat:
    d = common.query("select max(as_of_date) as d from marts.customer_credit")
    data_date = d["d"].iloc[0] if not d.empty else None
c2.metric("Data date 数据日期", "–" if data_date is None else f"{data_date:%Y-%m-%d}")
c3.metric("Tables", f"{sum(1 for t in cat if t.split('.')[0] in ('core', 'marts', 'audit'))}")

st.subheader(f"Latest month chosen: {f.month_to:%Y-%m}" if f.month_to else "Headline figures")
if f.month_to:
    last = common.Filters(f.month_to, f.month_to, f.counties, f.stations, f.elec_types)
    k1, k2, k3, k4 = st.columns(4)
    s = common.read("marts.sales_volume_monthly", "sum(sales_kwh) as kwh, sum(sales_kwh_prev_year) as prev, "
                    "sum(amount_yuan) as amount", f=last, what="sales")
    if s is not None and not s.empty:
        k1.metric("Sales 售电量", common.kwh(s["kwh"].iloc[0]),
                  help="Σ sales_kwh of marts.sales_volume_monthly")
        k2.metric("Billed amount 电费", common.yuan(s["amount"].iloc[0]))
    r = common.read("marts.recovery_monthly", "sum(billed_yuan) as billed, sum(collected_yuan) as collected",
                    f=last, what="recovery")
    if r is not None and not r.empty:
        k3.metric("Collected 已回收 (of that month's bills)", common.yuan(r["collected"].iloc[0]),
                  help="Σ collected_yuan of marts.recovery_monthly for the bills of this billing month")
    a = common.read("marts.arrears_ageing", "snapshot_date, sum(arrears_yuan) as arrears", f=last,
                    group_by="snapshot_date", order_by="snapshot_date desc", limit=1, what="arrears")
    if a is not None and not a.empty:
        k4.metric(f"Arrears 欠费 at {a['snapshot_date'].iloc[0]:%Y-%m-%d}", common.yuan(a["arrears"].iloc[0]))

st.subheader("Pages")
st.markdown(
    """
| page | the question | tables |
| --- | --- | --- |
| Sales volume | how much did we sell, where, to whom, against last year? | `marts.sales_volume_monthly` |
| Line loss | which transformer areas lose the most energy? | `marts.line_loss_monthly`, `line_loss_station_monthly`, `line_loss_county_monthly` |
| Unit price | what is the average price made of? | `marts.unit_price_monthly` |
| Recovery & arrears | how much of what we billed came in; who owes, for how long? | `marts.recovery_monthly`, `arrears_ageing`, `arrears_top_customers`, `payment_channel_monthly` |
| Profit contribution | which customers bring the profit (ABC, Pareto, value matrix)? | `marts.customer_value`, `customer_profit_monthly` |
| Credit & segments | how trustworthy are customers; which service strategy? | `marts.customer_credit`, `customer_segment`, `dim_segment` |
| Key accounts | large users: volume drops and overloads | `marts.key_account_monthly` |
| Service & outages | complaints and satisfaction against outages | `marts.complaint_monthly`, `satisfaction_monthly`, `outage_monthly` |
| Data quality | what was checked, loaded and quarantined | `audit.check_results`, `audit.load_log`, `audit.quarantine` |
"""
)
st.caption("Every figure is read from the marts as published; pages only filter and add them up. "
           "The file is replaced each night; reload the page to see the new night's data.")
