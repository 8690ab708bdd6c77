"""Key accounts 重点客户: volume, load and power factor of the large users, and their alerts."""

import streamlit as st

import common

T = "marts.key_account_monthly"
f = common.page_header("Key accounts 重点客户用电管理", f"`{T}` (one row per key account or two-part customer × month)")
st.caption("Alerts as the mart sets them: `DROP` when kWh < 0.7 × the same month last year, `OVERLOAD` when "
           "maximum demand exceeds the contracted kVA.")

if common.has(T, "key accounts"):
    cols = set(common.columns(T) or ())
    latest = common.Filters(f.month_to, f.month_to, f.counties, f.stations, f.elec_types)
    summary = common.read(T, "count(distinct cons_no) as accounts, sum(kwh) as kwh, sum(arrears_yuan) as arrears_yuan, "
                          "count(alert) as alerts", f=latest)
    if summary is not None and not summary.empty:
        c1, c2, c3, c4 = st.columns(4)
        c1.metric(f"Accounts in {f.month_to:%Y-%m}" if f.month_to else "Accounts", f"{int(summary['accounts'][0]):,}")
        c2.metric("kWh", common.kwh(summary["kwh"][0]))
        c3.metric("Arrears at month end", common.yuan(summary["arrears_yuan"][0]))
        c4.metric("Alerts", f"{int(summary['alerts'][0]):,}")

    st.subheader("Alerts 预警")
    alerts = common.read(T, "*", extra="alert is not null", order_by="month desc, alert, kwh desc", limit=500)
    if alerts is not None:
        if alerts.empty:
            st.success("No alerts in the months chosen.")
        else:
            per_month = (common.month_label(alerts).groupby(["month", "alert"], as_index=False)
                         .agg(accounts=("cons_no", "count")))
            left, right = st.columns([2, 3])
            with left:
                st.bar_chart(per_month, x="month", y="accounts", color="alert")
            with right:
                show = [c for c in ("month", "cons_no", "org_no", "elec_type", "alert", "kwh", "kwh_prev_year",
                                    "kwh_yoy_rate", "max_demand_kw", "contract_kva", "demand_utilisation",
                                    "power_factor", "arrears_yuan") if c in alerts.columns]
                pct = st.column_config.NumberColumn(format="percent")
                st.dataframe(alerts[show], hide_index=True, column_config={
                    "month": st.column_config.DateColumn(format="YYYY-MM"), "kwh_yoy_rate": pct,
                    "demand_utilisation": pct, "power_factor": st.column_config.NumberColumn(format="%.3f")})

    st.subheader("Monthly kWh of the largest accounts")
    top = common.read(T, "cons_no, sum(kwh) as kwh", group_by="cons_no", order_by="kwh desc, cons_no", limit=8)
    if not common.empty_note(top, "accounts"):
        ids = top["cons_no"].tolist()
        trend = common.read(T, "month, cons_no, kwh", extra=f"cons_no in ({', '.join('?' for _ in ids)})",
                            extra_params=ids, order_by="month")
        if not common.empty_note(trend):
            st.line_chart(common.month_label(trend), x="month", y="kwh", color="cons_no", y_label="kWh")

    st.subheader(f"Load factor and demand utilisation ({f.month_to:%Y-%m})" if f.month_to else "Load")
    load_cols = [c for c in ("load_factor", "demand_utilisation") if c in cols]
    if len(load_cols) == 2:
        pts = common.read(T, "cons_no, load_factor, demand_utilisation, alert", f=latest,
                          extra="load_factor is not null and demand_utilisation is not null")
        if not common.empty_note(pts, "accounts with a demand reading"):
            pts["alert"] = pts["alert"].fillna("none")
            st.scatter_chart(pts, x="load_factor", y="demand_utilisation", color="alert",
                             x_label="load factor", y_label="max demand / contract kVA")
