"""Unit price 电价分析: what the bills are made of, and the comprehensive average price by group."""

import streamlit as st

import common

T = "marts.unit_price_monthly"
f = common.page_header("Unit price composition 电价构成", f"`{T}` (one row per month × station × category × voltage)")

COMPONENTS = {"energy_yuan": "energy 电度电费", "basic_yuan": "basic 基本电费", "pf_adj_yuan": "power factor 力调电费",
              "fund_yuan": "funds 政府性基金"}

if common.has(T, "unit prices"):
    sums = ", ".join(f"sum({c}) as {c}" for c in COMPONENTS)
    by_cat = common.read(T, f"elec_type, sum(billed_kwh) as billed_kwh, {sums}, sum(total_yuan) as total_yuan",
                         group_by="elec_type", order_by="elec_type")
    if not common.empty_note(by_cat):
        by_cat = common.with_elec_names(by_cat)
        long = by_cat.melt(id_vars=["category"], value_vars=list(COMPONENTS), var_name="component",
                           value_name="yuan")
        long["component"] = long["component"].map(COMPONENTS)
        left, right = st.columns(2)
        with left:
            st.subheader("Composition by category (share of the bill)")
            st.bar_chart(long, x="category", y="yuan", color="component", stack="normalize", horizontal=True)
        with right:
            st.subheader("Amounts by category (yuan)")
            st.bar_chart(long, x="category", y="yuan", color="component", horizontal=True)

        by_month = common.read(T, f"month, {sums}", group_by="month", order_by="month")
        if not common.empty_note(by_month):
            st.subheader("Bill components month by month")
            lm = common.month_label(by_month).melt(id_vars=["month"], value_vars=list(COMPONENTS),
                                                   var_name="component", value_name="yuan")
            lm["component"] = lm["component"].map(COMPONENTS)
            st.bar_chart(lm, x="month", y="yuan", color="component")

        st.subheader("Comprehensive average price 综合平均电价 by group")
        st.caption("Each point is one row of the mart (month × station × category × voltage): "
                   "`avg_price_yuan_per_kwh` = total / billed kWh, as published.")
        pts = common.read(T, "month, org_no, elec_type, voltage, billed_kwh, avg_price_yuan_per_kwh, "
                          "avg_price_ex_fund_yuan_per_kwh", extra="avg_price_yuan_per_kwh is not null")
        if not common.empty_note(pts):
            st.scatter_chart(common.with_elec_names(pts), x="billed_kwh", y="avg_price_yuan_per_kwh", color="category",
                             x_label="billed kWh", y_label="yuan per kWh")

        latest = common.Filters(f.month_to, f.month_to, f.counties, f.stations, f.elec_types)
        st.subheader(f"Groups in {f.month_to:%Y-%m}" if f.month_to else "Groups")
        rows = common.read(T, "month, org_no, elec_type, voltage, billed_kwh, total_yuan, avg_price_yuan_per_kwh, "
                           "avg_price_ex_fund_yuan_per_kwh, energy_share, basic_share, pf_adj_share, fund_share, "
                           "peak_kwh_share, valley_kwh_share", f=latest, order_by="billed_kwh desc")
        if not common.empty_note(rows):
            pct = st.column_config.NumberColumn(format="percent")
            st.dataframe(common.with_names(rows), hide_index=True, column_config={
                "month": st.column_config.DateColumn(format="YYYY-MM"),
                "avg_price_yuan_per_kwh": st.column_config.NumberColumn(format="%.4f"),
                "avg_price_ex_fund_yuan_per_kwh": st.column_config.NumberColumn(format="%.4f"),
                **{c: pct for c in ("energy_share", "basic_share", "pf_adj_share", "fund_share", "peak_kwh_share",
                                    "valley_kwh_share")}})
