"""Service 服务: complaints and satisfaction against outages, complaint categories and hotspots."""

import streamlit as st

import common

T_CMP = "marts.complaint_monthly"
T_SAT = "marts.satisfaction_monthly"
T_OUT = "marts.outage_monthly"
T_SQ = "marts.service_quality_monthly"
T_HOT = "marts.complaint_hotspot"
f = common.page_header("Service & outages 投诉、满意度与停电", f"`{T_CMP}`, `{T_SAT}`, `{T_OUT}`, `{T_SQ}`")

st.subheader("Complaints and outages month by month")
left, right = st.columns(2)
with left:
    if common.has(T_CMP, "complaints"):
        cm = common.read(T_CMP, "month, category_l1, sum(complaints) as complaints", group_by="month, category_l1",
                         order_by="month")
        if not common.empty_note(cm, "complaints"):
            if common.columns("core.dim_complaint_category") is not None:
                names = common.query("select category_l1, name_en from core.dim_complaint_category")
                cm = cm.merge(names, on="category_l1", how="left")
                cm["category"] = cm["name_en"].fillna(cm["category_l1"])
            else:
                cm["category"] = cm["category_l1"]
            st.caption("Complaints 投诉 by category")
            st.bar_chart(common.month_label(cm), x="month", y="complaints", color="category")
with right:
    if common.has(T_OUT, "outages"):
        out = common.read(T_OUT, "month, outage_type, sum(customer_hours) as customer_hours, sum(events) as events",
                          group_by="month, outage_type", order_by="month")
        if not common.empty_note(out, "outages"):
            st.caption("Outages 停电: customer-hours lost, by outage type")
            st.bar_chart(common.month_label(out), x="month", y="customer_hours", color="outage_type",
                         y_label="customer-hours")

st.subheader("Stations: complaints and satisfaction against outages")
if common.columns(T_SQ) is not None:
    sq = common.read(T_SQ, "month, org_no, complaints, complaints_per_10k_customers, satisfaction_index, "
                     "saidi_hours, customer_hours, outage_events", order_by="month, org_no")
    if not common.empty_note(sq):
        sq = common.with_names(sq)
        st.caption(f"Each point is one station × month of `{T_SQ}`, as published.")
        a, b = st.columns(2)
        with a:
            st.scatter_chart(sq.dropna(subset=["complaints_per_10k_customers"]), x="saidi_hours",
                             y="complaints_per_10k_customers", color="station",
                             x_label="SAIDI (hours per customer)", y_label="complaints per 10k customers")
        with b:
            st.scatter_chart(sq.dropna(subset=["satisfaction_index"]), x="saidi_hours", y="satisfaction_index",
                             color="station", x_label="SAIDI (hours per customer)", y_label="satisfaction index")
else:
    # older files: put the complaint and outage marts side by side per station and month
    cmp_ = common.read(T_CMP, "month, org_no, sum(complaints) as complaints", group_by="month, org_no") \
        if common.columns(T_CMP) is not None else None
    out_ = common.read(T_OUT, "month, org_no, sum(customer_hours) as customer_hours", group_by="month, org_no") \
        if common.columns(T_OUT) is not None else None
    if cmp_ is not None and out_ is not None and not cmp_.empty:
        both = cmp_.merge(out_, on=["month", "org_no"], how="left").fillna({"customer_hours": 0})
        st.scatter_chart(common.with_names(both), x="customer_hours", y="complaints", color="station")
    else:
        common.missing_note(T_SQ, "the station comparison")

st.subheader("Satisfaction 满意度")
if common.columns(T_SQ) is not None:
    by_station = common.read(T_SQ, "month, org_no, satisfaction_index", order_by="month",
                             extra="satisfaction_index is not null")
    if not common.empty_note(by_station, "surveys"):
        st.caption(f"Satisfaction index (10 × mean overall score) of each station, as `{T_SQ}` publishes it.")
        st.line_chart(common.month_label(common.with_names(by_station)), x="month", y="satisfaction_index",
                      color="station", y_label="satisfaction index")
if common.has(T_SAT, "satisfaction"):
    sat = common.read(T_SAT, "month, org_no, elec_type, surveys, avg_score_overall, satisfaction_index, "
                      "satisfied_share", order_by="month desc, org_no, elec_type")
    if not common.empty_note(sat, "surveys"):
        if common.columns(T_SQ) is None:
            st.caption("Satisfaction index (10 × mean overall score) of each station × category, as published.")
            sat_l = common.with_elec_names(common.with_names(sat))
            sat_l["group"] = sat_l["station"] + " · " + sat_l["category"]
            st.line_chart(common.month_label(sat_l.dropna(subset=["satisfaction_index"])), x="month",
                          y="satisfaction_index", color="group", y_label="satisfaction index")
        with st.expander(f"Satisfaction by station and category (`{T_SAT}` rows)"):
            st.dataframe(common.with_elec_names(common.with_names(sat)), hide_index=True, column_config={
                "month": st.column_config.DateColumn(format="YYYY-MM"),
                "satisfied_share": st.column_config.NumberColumn(format="percent")})

if common.columns(T_HOT) is not None:
    with st.expander("Complaint hotspots 投诉热点 (as of the data date)"):
        hot = common.read(T_HOT, "*", period=None, elec=None, order_by="unit_level, hotspot_rank", limit=40)
        if hot is not None:
            st.dataframe(common.with_names(hot), hide_index=True)
