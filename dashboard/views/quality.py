"""Data quality 数据质量: what was checked, loaded and quarantined before these figures were published."""

import streamlit as st

import common

T_CHK = "audit.check_results"
T_LOG = "audit.load_log"
T_Q = "audit.quarantine"
T_PUB = "audit.publish_log"
st.title("Data quality 数据质量")
st.caption(f"Source: `{T_CHK}`, `{T_LOG}`, `{T_Q}`, `{T_PUB}`. The sidebar filters do not apply on this page: "
           "it shows the whole file.")


def status_of(cols: list[str]) -> str | None:
    return next((c for c in ("status", "result", "outcome") if c in cols), None)


st.subheader("Checks 质量检查")
cols = common.columns(T_CHK)
if cols is None:
    common.missing_note(T_CHK, "the check results")
else:
    sc = status_of(cols)
    if sc is None:
        st.dataframe(common.query(f"select * from {T_CHK} limit 500"), hide_index=True)
    else:
        counts = common.query(f"select lower(cast({sc} as varchar)) as status, count(*) as checks from {T_CHK} "
                              "group by 1 order by 1")
        if counts.empty:
            st.caption("No checks recorded.")
        else:
            mcols = st.columns(len(counts))
            for c, r in zip(mcols, counts.itertuples(index=False), strict=False):
                c.metric(str(r.status), f"{r.checks:,}")
            order = ", ".join(c for c in ("table_name", "check_name") if c in cols) or "1"
            failed = common.query(f"select * from {T_CHK} where lower(cast({sc} as varchar)) in "
                                  f"('fail', 'failed', 'failure', 'error') order by {order} limit 500")
            warned = common.query(f"select * from {T_CHK} where lower(cast({sc} as varchar)) in "
                                  f"('warn', 'warning') order by {order} limit 500")
            if failed.empty and warned.empty:
                st.success("Every recorded check passed.")
            if not failed.empty:
                st.error(f"{len(failed)} check(s) failed: do not trust the figures of the tables they name "
                         "until they are explained.")
                st.dataframe(failed, hide_index=True)
            if not warned.empty:
                st.warning(f"{len(warned)} check(s) gave a warning (published anyway): read them before "
                           "relying on the tables they name.")
                st.dataframe(warned, hide_index=True)
        with st.expander("All checks"):
            st.dataframe(common.query(f"select * from {T_CHK} limit 5000"), hide_index=True)

st.subheader("Loads 数据加载")
cols = common.columns(T_LOG)
if cols is None:
    common.missing_note(T_LOG, "the load log")
elif {"extract", "status"} <= set(cols):
    by = common.query(f"select extract, status, count(*) as partitions from {T_LOG} group by 1, 2 order by 1, 2")
    left, right = st.columns(2)
    with left:
        st.caption("Partitions loaded, per extract and outcome")
        st.bar_chart(by, x="extract", y="partitions", color="status", horizontal=True)
    with right:
        if {"rows_loaded", "rows_quarantined"} <= set(cols):
            rows = common.query(f"select extract, sum(rows_loaded) as rows_loaded, "
                                f"sum(rows_quarantined) as rows_quarantined from {T_LOG} group by 1 order by 1")
            st.caption("Rows loaded and quarantined, per extract")
            st.dataframe(rows, hide_index=True)
    rejected = common.query(f"select * from {T_LOG} where status = 'REJECTED' limit 200")
    if rejected.empty:
        st.success("No rejected partitions.")
    else:
        st.warning(f"{len(rejected)} partition(s) rejected: their data is not in the figures.")
        st.dataframe(rejected, hide_index=True)
    order = "loaded_at desc nulls last" if "loaded_at" in cols else "1"
    with st.expander("Latest loads"):
        st.dataframe(common.query(f"select * from {T_LOG} order by {order} limit 200"), hide_index=True)
else:
    st.dataframe(common.query(f"select * from {T_LOG} limit 500"), hide_index=True)

st.subheader("Quarantine 隔离记录")
cols = common.columns(T_Q)
if cols is None:
    common.missing_note(T_Q, "quarantined rows")
else:
    n = int(common.query(f"select count(*) as n from {T_Q}")["n"][0])
    st.metric("Rows quarantined (all runs)", f"{n:,}")
    if n and {"extract", "reason"} <= set(cols):
        # reasons carry the offending value after '='; group by the rule, not the value
        q = common.query(f"select extract, split_part(reason, '=', 1) as reason, count(*) as rows from {T_Q} "
                         "group by 1, 2 order by 3 desc")
        st.bar_chart(q, x="extract", y="rows", color="reason", horizontal=True)
    if n:
        with st.expander("Quarantined rows (personal data masked)"):
            st.dataframe(common.query(f"select * from {T_Q} limit 500"), hide_index=True)

if common.columns(T_PUB) is not None:
    st.subheader("Publishes 发布记录")
    order = "published_at desc nulls last" if "published_at" in (common.columns(T_PUB) or []) else "1"
    st.dataframe(common.query(f"select * from {T_PUB} order by {order} limit 50"), hide_index=True)
