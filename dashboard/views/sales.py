"""Sales volume 售电量: monthly kWh and amount, by county and category, against the same month last year."""

import streamlit as st

import common

T = "marts.sales_volume_monthly"
f = common.page_header("Sales volume 售电量", f"`{T}` (one row per month × station × category × voltage × industry)")

if common.has(T, "sales volume"):
    by_month = common.read(T, "month, sum(sales_kwh) as sales_kwh, sum(sales_kwh_prev_year) as sales_kwh_prev_year, "
                           "sum(amount_yuan) as amount_yuan, sum(customers_billed) as customers_billed",
                           group_by="month", order_by="month")
    if not common.empty_note(by_month, "sales"):
        tot = by_month[["sales_kwh", "amount_yuan"]].sum()
        c1, c2, c3 = st.columns(3)
        c1.metric("Sales in the months chosen", common.kwh(tot["sales_kwh"]))
        c2.metric("Billed amount", common.yuan(tot["amount_yuan"]))
        c3.metric("Months", len(by_month))

        st.subheader("Monthly sales and the same month last year")
        st.caption("Σ `sales_kwh` and Σ `sales_kwh_prev_year`; the latter sums only the groups that had a row "
                   "a year earlier (the mart leaves it empty otherwise).")
        st.line_chart(common.month_label(by_month).rename(columns={
            "sales_kwh": "this year (kWh)", "sales_kwh_prev_year": "same month last year (kWh)"}),
            x="month", y=["this year (kWh)", "same month last year (kWh)"], y_label="kWh")

        by_org = common.read(T, "org_no, sum(sales_kwh) as sales_kwh, sum(sales_kwh_prev_year) as sales_kwh_prev_year",
                             group_by="org_no")
        orgs = common.orgs()
        if by_org is not None and not by_org.empty and orgs is not None:
            county = dict(zip(orgs["org_no"], orgs["county_name"].fillna(orgs["org_name"]), strict=False))
            by_org["county"] = by_org["org_no"].map(county).fillna(by_org["org_no"])
            by_county = by_org.groupby("county", as_index=False)[["sales_kwh", "sales_kwh_prev_year"]].sum()
            left, right = st.columns(2)
            with left:
                st.subheader("By county 县公司")
                st.bar_chart(by_county.melt("county", var_name="figure", value_name="kWh"),
                             x="county", y="kWh", color="figure", stack=False, horizontal=True)
            with right:
                st.subheader("By station 供电所")
                by_station = common.with_names(by_org)
                st.bar_chart(by_station, x="station", y="sales_kwh", horizontal=True, y_label="kWh")

        by_cat = common.read(T, "month, elec_type, sum(sales_kwh) as sales_kwh", group_by="month, elec_type",
                             order_by="month")
        if not common.empty_note(by_cat):
            st.subheader("By customer category 用电类别")
            st.bar_chart(common.with_elec_names(common.month_label(by_cat)), x="month", y="sales_kwh",
                         color="category", y_label="kWh")

        st.subheader("Year-on-year by group (latest month chosen)")
        latest = common.Filters(f.month_to, f.month_to, f.counties, f.stations, f.elec_types)
        rows = common.read(T, "month, org_no, elec_type, voltage, industry_section, customers_billed, sales_kwh, "
                           "sales_kwh_prev_year, sales_kwh_yoy_rate, amount_yuan", f=latest,
                           order_by="sales_kwh desc", limit=200)
        if not common.empty_note(rows):
            rows = common.with_names(rows)
            st.dataframe(rows, hide_index=True, column_config={
                "month": st.column_config.DateColumn(format="YYYY-MM"),
                "sales_kwh_yoy_rate": st.column_config.NumberColumn("YoY", format="percent"),
                "sales_kwh": st.column_config.NumberColumn(format="localized"),
                "sales_kwh_prev_year": st.column_config.NumberColumn(format="localized"),
                "amount_yuan": st.column_config.NumberColumn(format="localized"),
            })
