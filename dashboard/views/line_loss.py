"""Line loss 线损: the worst transformer areas and the loss-rate trend of counties and stations."""

import streamlit as st

import common

T_AREA = "marts.line_loss_monthly"
T_STATION = "marts.line_loss_station_monthly"
T_COUNTY = "marts.line_loss_county_monthly"
f = common.page_header("Line loss 线损", f"`{T_AREA}`, `{T_STATION}`, `{T_COUNTY}`")
st.caption("Loss rate = (supply − sales) / supply, as the marts publish it: 2–8 % is normal for a transformer "
           "area, above 10 % (`HIGH`) suggests theft or wrong wiring, negative suggests a metering or "
           "customer–area mapping error.")

if common.columns(T_AREA) is not None:
    latest = common.Filters(f.month_to, f.month_to, f.counties, f.stations, f.elec_types)
    st.subheader(f"Worst transformer areas 高损台区 ({f.month_to:%Y-%m})" if f.month_to else "Worst transformer areas")
    worst = common.read(T_AREA, "tg_id, org_no, month, supply_kwh, sales_kwh, loss_kwh, loss_rate, status", f=latest,
                        extra="loss_rate is not null", order_by="loss_rate desc, tg_id", limit=15)
    if not common.empty_note(worst, "transformer areas with a usable supply reading"):
        worst = common.with_names(worst)
        if common.columns("core.dim_transformer_area") is not None:
            tg = common.query("select tg_id, tg_name from core.dim_transformer_area")
            worst = worst.merge(tg, on="tg_id", how="left")
            worst["area"] = worst["tg_name"].fillna(worst["tg_id"])
        else:
            worst["area"] = worst["tg_id"]
        left, right = st.columns([3, 2])
        with left:
            wide, ys, palette = common.wide_by(worst, "area", "status", "loss_rate", common.LOSS_STATUS_COLOURS)
            st.bar_chart(wide, x="area", y=ys, color=palette, horizontal=True,
                         y_label="loss rate")
        with right:
            st.dataframe(worst[["area", "station", "supply_kwh", "sales_kwh", "loss_kwh", "loss_rate", "status"]],
                         hide_index=True,
                         column_config={"loss_rate": st.column_config.NumberColumn(format="percent")})

    st.subheader("Areas by status, month by month")
    status = common.read(T_AREA, "month, status, count(*) as areas", group_by="month, status", order_by="month")
    if not common.empty_note(status):
        wide, ys, palette = common.wide_by(common.month_label(status), "month", "status", "areas",
                                           common.LOSS_STATUS_COLOURS)
        st.bar_chart(wide, x="month", y=ys, color=palette, y_label="transformer areas")
else:
    common.missing_note(T_AREA, "transformer areas")

left, right = st.columns(2)
with left:
    st.subheader("Loss rate by county 县公司")
    if common.has(T_COUNTY, "the county trend"):
        county = common.read(T_COUNTY, "month, county_org_no, county_name, loss_rate", org=None,
                             county="county_org_no", order_by="month")
        if not common.empty_note(county):
            county["county"] = county["county_name"].fillna(county["county_org_no"])
            st.line_chart(common.month_label(county), x="month", y="loss_rate", color="county", y_label="loss rate")
with right:
    st.subheader("Loss rate by station 供电所")
    if common.has(T_STATION, "the station trend"):
        station = common.read(T_STATION, "month, org_no, loss_rate", order_by="month")
        if not common.empty_note(station):
            st.line_chart(common.month_label(common.with_names(station)), x="month", y="loss_rate", color="station",
                          y_label="loss rate")

if common.columns(T_STATION) is not None:
    st.subheader("Station figures")
    rows = common.read(T_STATION, "*", order_by="month desc, loss_rate desc")
    if not common.empty_note(rows):
        st.dataframe(common.with_names(rows), hide_index=True, column_config={
            "month": st.column_config.DateColumn(format="YYYY-MM"),
            "loss_rate": st.column_config.NumberColumn(format="percent")})
