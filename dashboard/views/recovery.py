"""Recovery and arrears 电费回收与欠费: billed against collected, ageing, top debtors, payment channels."""

import pandas as pd
import streamlit as st

import common

T_REC = "marts.recovery_monthly"
T_AGE = "marts.arrears_ageing"
T_TOP = "marts.arrears_top_customers"
T_CH = "marts.payment_channel_monthly"
f = common.page_header("Recovery & arrears 电费回收", f"`{T_REC}`, `{T_AGE}`, `{T_TOP}`, `{T_CH}`")

st.subheader("Billed and collected, by billing month")
if common.has(T_REC, "recovery"):
    rec = common.read(T_REC, "month, sum(billed_yuan) as billed_yuan, sum(collected_yuan) as collected_yuan, "
                      "sum(collected_by_due_yuan) as collected_by_due_yuan, sum(refund_yuan) as refund_yuan",
                      group_by="month", order_by="month")
    if not common.empty_note(rec):
        st.caption("Σ over the receivables of each billing month: collected = payments dated up to the data date "
                   "that name them; by due date = those dated up to each bill's due date.")
        st.bar_chart(common.month_label(rec).melt("month", ["billed_yuan", "collected_yuan", "collected_by_due_yuan"],
                                                  var_name="figure", value_name="yuan"),
                     x="month", y="yuan", color="figure", stack=False)
        rows = common.read(T_REC, "*", order_by="month desc, recovery_rate nulls first")
        if not common.empty_note(rows):
            with st.expander("Recovery rate by station and category (mart rows)"):
                pct = st.column_config.NumberColumn(format="percent")
                st.dataframe(common.with_names(rows), hide_index=True, column_config={
                    "month": st.column_config.DateColumn(format="YYYY-MM"), "recovery_rate": pct,
                    "on_time_recovery_rate": pct})

st.subheader("Arrears ageing 欠费账龄")
if common.has(T_AGE, "arrears ageing"):
    age = common.read(T_AGE, "snapshot_date, ageing_bucket, sum(arrears_yuan) as arrears_yuan, "
                      "sum(receivables) as receivables, sum(penalty_accrued_yuan) as penalty_accrued_yuan",
                      group_by="snapshot_date, ageing_bucket", order_by="snapshot_date")
    if not common.empty_note(age, "arrears"):
        age["snapshot"] = pd.to_datetime(age["snapshot_date"]).dt.strftime("%Y-%m-%d")
        order = {b: i for i, b in enumerate(common.AGEING_BUCKETS)}
        age["bucket"] = [f"{order.get(b, 9)} {b}" for b in age["ageing_bucket"]]
        last = age.loc[age["snapshot_date"] == age["snapshot_date"].max()].sort_values("bucket")
        c1, c2, c3 = st.columns(3)
        c1.metric(f"Arrears at {last['snapshot'].iloc[0]}", common.yuan(last["arrears_yuan"].sum()))
        c2.metric("Receivables in arrears", f"{int(last['receivables'].sum()):,}")
        c3.metric("Penalty accrued 违约金", common.yuan(last["penalty_accrued_yuan"].sum()))
        left, right = st.columns(2)
        with left:
            st.caption("Every snapshot (month ends and the data date), by ageing bucket (days overdue)")
            st.bar_chart(age, x="snapshot", y="arrears_yuan", color="bucket", y_label="yuan")
        with right:
            st.caption(f"At {last['snapshot'].iloc[0]}")
            st.bar_chart(last, x="bucket", y="arrears_yuan", y_label="yuan")

st.subheader("Top debtors 欠费排名 (at the data date)")
if common.has(T_TOP, "top debtors"):
    top = common.read(T_TOP, "*", period=None, order_by="arrears_yuan desc, org_no, arrears_rank", limit=50)
    if not common.empty_note(top, "customers in arrears"):
        st.dataframe(common.with_names(top), hide_index=True, column_config={
            "snapshot_date": st.column_config.DateColumn(format="YYYY-MM-DD"),
            "oldest_due_date": st.column_config.DateColumn(format="YYYY-MM-DD")})

st.subheader("Payment channels 缴费渠道")
if common.has(T_CH, "payment channels"):
    ch = common.read(T_CH, "month, channel, sum(amount_yuan) as amount_yuan, sum(payments) as payments",
                     org=None, group_by="month, channel", order_by="month")
    if not common.empty_note(ch, "payments"):
        if common.columns("core.dim_pay_channel") is not None:
            names = common.query("select channel, name_en from core.dim_pay_channel")
            ch = ch.merge(names, on="channel", how="left")
            ch["channel"] = ch["channel"] + " " + ch["name_en"].fillna("")
        st.caption("Money received by channel (share of each month); the station filter does not apply here.")
        st.bar_chart(common.month_label(ch), x="month", y="amount_yuan", color="channel", stack="normalize")
