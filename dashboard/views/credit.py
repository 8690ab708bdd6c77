"""Credit and segments 信用评级与客户分群: grades, the value × credit matrix, segment strategies and movements."""

import pandas as pd
import streamlit as st

import common

T_CR = "marts.customer_credit"
T_SEG = "marts.customer_segment"
T_DSEG = "marts.dim_segment"
T_HIST = "marts.customer_segment_history"
f = common.page_header("Credit & segments 信用与分群", f"`{T_CR}`, `{T_SEG}`, `{T_DSEG}`, `{T_HIST}` "
                       "(as of the data date; the month filter applies to the segment movements only)")
GRADES = ["AAA", "AA", "A", "B", "C"]

left, right = st.columns(2)
with left:
    st.subheader("Credit grades 信用等级")
    if common.has(T_CR, "credit grades"):
        g = common.read(T_CR, "credit_grade, count(*) as customers, sum(arrears_yuan) as arrears_yuan", period=None,
                        group_by="credit_grade")
        if not common.empty_note(g, "customers"):
            g["grade"] = [f"{GRADES.index(x) + 1} {x}" if x in GRADES else str(x) for x in g["credit_grade"]]
            st.bar_chart(g.sort_values("grade"), x="grade", y="customers")
with right:
    st.subheader("Credit scores 信用分")
    if common.columns(T_CR) is not None:
        h = common.read(T_CR, "least(floor(credit_score / 10) * 10, 90) as score_band, count(*) as customers",
                        period=None, group_by="1", order_by="1")
        if not common.empty_note(h, "customers"):
            h["score band"] = [f"{int(b)}–{int(b) + 10 if b < 90 else 100}" for b in h["score_band"]]
            st.bar_chart(h, x="score band", y="customers")

if common.has(T_SEG, "customer segments"):
    # the segment's Chinese label: `segment_label_zh` (older files: `segment_name_zh`)
    seg_cols = common.columns(T_SEG) or []
    zh = next((c for c in ("segment_label_zh", "segment_name_zh") if c in seg_cols), None)
    zh_sel = f"{zh} as segment_zh" if zh else "cast(null as varchar) as segment_zh"
    seg = common.read(T_SEG, f"segment_no, {zh_sel}, abc_class, credit_grade, count(*) as customers",
                      period=None, group_by="segment_no, segment_zh, abc_class, credit_grade")
    if not common.empty_note(seg, "customers"):
        st.subheader("Value class × credit grade 价值 × 信用")
        mat = seg.pivot_table(index="abc_class", columns="credit_grade", values="customers", aggfunc="sum",
                              fill_value=0)
        mat = mat.reindex(columns=[c for c in GRADES if c in mat.columns] + [c for c in mat.columns
                                                                             if c not in GRADES])
        st.dataframe(mat)
        st.subheader("Segments and their service strategy 分群与服务策略")
        per = seg.groupby(["segment_no", "segment_zh"], as_index=False, dropna=False)["customers"].sum()
        if common.columns(T_DSEG) is not None:
            d = common.query(f"select * from {T_DSEG} order by segment_no")
            per = d.merge(per, on="segment_no", how="left").fillna({"customers": 0})
        per["segment"] = [f"{n} {z}" if isinstance(z, str) else f"{n}"
                          for n, z in zip(per["segment_no"], per["segment_zh"], strict=False)]
        c1, c2 = st.columns([2, 3])
        with c1:
            st.bar_chart(per, x="segment", y="customers")
        with c2:
            st.dataframe(per.drop(columns=["segment", "segment_zh"]), hide_index=True)

st.subheader("Segment movements at month ends 分群迁移")
if common.has(T_HIST, "segment movements"):
    mv = common.read(T_HIST, "month, movement, sum(customers) as customers", org=None, elec=None,
                     group_by="month, movement", order_by="month")
    if not common.empty_note(mv, "movements"):
        mv = mv.loc[mv["movement"] != "SAME"]
        if mv.empty:
            st.caption("No customer changed segment in the months chosen.")
        else:
            st.caption("Customers who moved up, down or left a segment between two month ends (all stations).")
            st.bar_chart(common.month_label(mv), x="month", y="customers", color="movement")

if common.columns(T_CR) is not None:
    with st.expander("Customers with the lowest scores"):
        low = common.read(T_CR, "*", period=None, order_by="credit_score, cons_no", limit=100)
        if low is not None:
            st.dataframe(common.with_names(low) if "org_no" in low.columns else low, hide_index=True)
            if isinstance(low, pd.DataFrame) and low.empty:
                st.caption("No customers for the current filters.")
