"""PowerCRM dashboard: the entrypoint (`make dashboard`, or `streamlit run dashboard/app.py`).

Reads the published warehouse file read-only (env POWERCRM_WAREHOUSE, default
warehouse/powercrm.duckdb). The sidebar filters apply to every page.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # pages import `common` from here
    sys.path.insert(0, str(HERE))

import streamlit as st  # noqa: E402

import common  # noqa: E402

st.set_page_config(page_title="PowerCRM", page_icon=":material/bolt:", layout="wide")

PAGES = {
    "PowerCRM": [
        st.Page(HERE / "views" / "overview.py", title="Overview 概览", icon=":material/home:", default=True),
    ],
    "Business areas": [
        st.Page(HERE / "views" / "sales.py", title="Sales volume 售电量", icon=":material/show_chart:"),
        st.Page(HERE / "views" / "line_loss.py", title="Line loss 线损", icon=":material/electric_bolt:"),
        st.Page(HERE / "views" / "price.py", title="Unit price 电价", icon=":material/payments:"),
        st.Page(HERE / "views" / "recovery.py", title="Recovery & arrears 电费回收", icon=":material/receipt_long:"),
        st.Page(HERE / "views" / "profit.py", title="Profit contribution 利润贡献", icon=":material/leaderboard:"),
        st.Page(HERE / "views" / "credit.py", title="Credit & segments 信用与分群", icon=":material/verified_user:"),
        st.Page(HERE / "views" / "key_accounts.py", title="Key accounts 重点客户", icon=":material/factory:"),
        st.Page(HERE / "views" / "service.py", title="Service & outages 服务与停电", icon=":material/support_agent:"),
    ],
    "Trust": [
        st.Page(HERE / "views" / "quality.py", title="Data quality 数据质量", icon=":material/fact_check:"),
    ],
}

path = common.warehouse_path()
try:
    tables = common.catalog()
except common.WarehouseUnavailable as e:
    st.title("PowerCRM")
    st.error(f"No published warehouse to show: {e}. Run `make run` to build and publish it, or set "
             f"{common.WAREHOUSE_ENV} to the published file's path.")
    st.stop()

page = st.navigation(PAGES)
st.sidebar.caption(f"Published file: `{path}`")
common.sidebar_filters()
page.run()
