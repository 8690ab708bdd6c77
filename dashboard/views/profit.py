"""Profit contribution 利润贡献: ABC classes, the Pareto curve, the value matrix, and the monthly margin."""

import streamlit as st

import common

T_VAL = "marts.customer_value"
T_PM = "marts.customer_profit_monthly"
f = common.page_header("Profit contribution 利润贡献", f"`{T_VAL}` (12 billing months before the data date's month), "
                       f"`{T_PM}`")


def value_rows():
    """customer_value with the customer's current station (the mart itself has no station column)."""
    cols = common.columns(T_VAL) or []
    w, params = common.where(T_VAL, f, period=None, org=None)
    org_join, org_col = "", "cast(null as varchar)"
    if "org_no" in cols:
        org_col = "v.org_no"
    elif common.columns("core.dim_customer") is not None:
        org_join = "left join (select cons_no, org_no from core.dim_customer where is_current) c using (cons_no)"
        org_col = "c.org_no"
    sql = f"select v.*, {org_col} as org_no_ from (select * from {T_VAL} {w}) v {org_join}"
    df = common.query(sql, params)
    if "org_no" in df.columns:
        df = df.drop(columns=["org_no"])
    df = df.rename(columns={"org_no_": "org_no"})
    org_set = f.org_set(common.orgs())
    if org_set is not None:
        df = df.loc[df["org_no"].isin(org_set)]
    return df


if common.has(T_VAL, "the ABC classes"):
    val = value_rows()
    if not common.empty_note(val, "customers"):
        st.caption("The ABC class, RFM scores and 12-month figures are the mart's (the month filter does not apply "
                   "to them); the station and category filters choose customers.")
        cls = val.groupby("abc_class", as_index=False).agg(customers=("cons_no", "count"),
                                                           profit_yuan=("profit_yuan", "sum"))
        cols = st.columns(len(cls) or 1)
        for col, r in zip(cols, cls.itertuples(index=False), strict=False):
            col.metric(f"Class {r.abc_class}", f"{r.customers:,} customers",
                       f"12-month profit {common.yuan(r.profit_yuan)}", delta_color="off", delta_arrow="off")

        st.subheader("Pareto curve 二八分析")
        st.caption("Customers ranked by 12-month profit (largest first, ties by customer number); the curve is the "
                   "running total of their profit, coloured by the mart's ABC class.")
        ranked = val.sort_values(["profit_yuan", "cons_no"], ascending=[False, True]).reset_index(drop=True)
        ranked["customer rank"] = ranked.index + 1
        ranked["cumulative profit (yuan)"] = ranked["profit_yuan"].cumsum()
        st.scatter_chart(ranked, x="customer rank", y="cumulative profit (yuan)", color="abc_class", size=20)

        st.subheader("Value matrix 价值矩阵")
        st.caption("Current value (12-month profit) against growth (kWh year-on-year of the latest month chosen, "
                   f"from `{T_PM}`).")
        growth = None
        if f.month_to and common.columns(T_PM) is not None:
            latest = common.Filters(f.month_to, f.month_to, (), (), ())
            growth = common.read(T_PM, "cons_no, kwh_yoy_rate", f=latest, org=None, elec=None)
        if growth is not None and not growth.empty:
            mat = val.merge(growth, on="cons_no", how="inner").dropna(subset=["kwh_yoy_rate"])
            if not common.empty_note(mat, "customers with a row a year earlier"):
                st.scatter_chart(mat, x="profit_yuan", y="kwh_yoy_rate", color="abc_class",
                                 x_label="12-month profit (yuan)", y_label="kWh year-on-year")
        else:
            st.caption("No year-on-year figures for the latest month chosen.")

        with st.expander("RFM scores: customers by recency and monetary score"):
            rfm = val.pivot_table(index="r_score", columns="m_score", values="cons_no", aggfunc="count", fill_value=0)
            st.dataframe(rfm)
        with st.expander("Customers (mart rows)"):
            st.dataframe(common.with_names(ranked.drop(columns=["cumulative profit (yuan)"])), hide_index=True)

st.subheader("Margin and profit month by month")
if common.has(T_PM, "monthly profit"):
    pm = common.read(T_PM, "month, sum(revenue_yuan) as revenue_yuan, sum(energy_cost_yuan) as energy_cost_yuan, "
                     "sum(margin_yuan) as margin_yuan, sum(profit_yuan) as profit_yuan", group_by="month",
                     order_by="month")
    if not common.empty_note(pm):
        st.line_chart(common.month_label(pm), x="month",
                      y=["revenue_yuan", "energy_cost_yuan", "margin_yuan", "profit_yuan"], y_label="yuan")
