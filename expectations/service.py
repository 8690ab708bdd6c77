"""Suite `service`: 投诉, 满意度, 停电, 需求 (complaint_monthly, work_order_monthly, satisfaction_monthly,
outage_monthly, demand_monthly) and the surveys and work orders behind them.

- keys; mart counts = core counts month by month (complaints and work orders by month of
  acceptance, surveys by survey month, outages by month of start);
- survey scores 1–10 (a score outside is dirty source data: warning), mean scores 1–10,
  satisfaction index = 10 × mean overall score, shares 0–1;
- counts consistent: closed ≤ orders, closed on time ≤ closed, repeats ≤ complaints.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from powercrm.quality.checks import ERROR, WARN, Suite
from powercrm.quality.config import QualityConfig

SCORES = ["score_supply", "score_billing", "score_service", "score_channel", "score_overall"]
AVG_SCORES = ["avg_score_supply", "avg_score_billing", "avg_score_service", "avg_score_channel", "avg_score_overall"]


def build(cfg: QualityConfig) -> Suite:
    s = Suite("service", "Service: complaints, work orders, satisfaction, outages, demand")

    s.primary_key("marts.complaint_monthly", ["month", "org_no", "category_l1", "category_l2"],
                  nullable=("org_no", "category_l1", "category_l2"))
    s.primary_key("marts.work_order_monthly", ["month", "org_no", "order_type", "category_l1", "category_l2"],
                  nullable=("org_no", "category_l1", "category_l2"))
    s.primary_key("marts.satisfaction_monthly", ["month", "org_no", "elec_type"], nullable=("org_no", "elec_type"))
    s.primary_key("marts.outage_monthly", ["month", "org_no", "outage_type"], nullable=("org_no",))
    s.primary_key("marts.demand_monthly", ["month", "org_no", "industry_section"],
                  nullable=("org_no", "industry_section"))

    # ---- surveys
    surveys = s.table("core.fct_survey", name="fct_survey.rows", context=["survey_id", "survey_month", "org_no"])
    for col in SCORES:
        surveys.expect(
            f"fct_survey.{col}_range", gxe.ExpectColumnValuesToBeBetween(column=col, min_value=1, max_value=10),
            WARN, f"{col} lies between 1 and 10 (NULL = not answered)",
            "A score outside 1–10 is a typing error in the survey system; it still counts in the "
            "means of satisfaction_monthly. Mention it if the station's mean moves because of it.")

    sat = s.query("satisfaction_monthly.rules", "marts.satisfaction_monthly", """
        select month, org_no, elec_type, surveys, avg_score_supply, avg_score_billing, avg_score_service,
               avg_score_channel, avg_score_overall, satisfied_share,
               satisfaction_index - 10 * avg_score_overall as index_diff
        from marts.satisfaction_monthly
    """, {"marts.satisfaction_monthly": ["month", "org_no", "elec_type", "surveys", *AVG_SCORES,
                                         "satisfaction_index", "satisfied_share"]})
    for col in AVG_SCORES:
        sat.expect(f"satisfaction_monthly.{col}_range",
                   gxe.ExpectColumnValuesToBeBetween(column=col, min_value=1, max_value=10), WARN,
                   f"{col} lies between 1 and 10",
                   "See fct_survey: a score outside 1–10 was delivered.")
    sat.expect(
        "satisfaction_monthly.index_is_10x_overall",
        gxe.ExpectColumnValuesToBeBetween(column="index_diff", min_value=-1e-6, max_value=1e-6), ERROR,
        "satisfaction_index = 10 × avg_score_overall",
    ).expect(
        "satisfaction_monthly.satisfied_share_range",
        gxe.ExpectColumnValuesToBeBetween(column="satisfied_share", min_value=0, max_value=1), ERROR,
        "satisfied_share lies between 0 and 1")

    s.totals_match("satisfaction_monthly.totals", "marts.satisfaction_monthly", """
        with mart as (select month, sum(surveys) as surveys from marts.satisfaction_monthly group by 1),
        core as (select survey_month as month, count(*) as surveys from core.fct_survey group by 1)
        select coalesce(mart.month, core.month) as month,
               coalesce(mart.surveys, 0) - coalesce(core.surveys, 0) as surveys_diff
        from mart full outer join core on mart.month = core.month
        order by 1
    """, {"marts.satisfaction_monthly": ["month", "surveys"], "core.fct_survey": ["survey_month"]},
        {"surveys": 0}, what="satisfaction_monthly, month by month")

    # ---- work orders and complaints
    s.totals_match("complaint_monthly.totals", "marts.complaint_monthly", """
        with mart as (select month, sum(complaints) as complaints from marts.complaint_monthly group by 1),
        core as (
            select accept_month as month, count(*) as complaints
            from core.fct_work_order where order_type = 'COMPLAINT' group by 1
        )
        select coalesce(mart.month, core.month) as month,
               coalesce(mart.complaints, 0) - coalesce(core.complaints, 0) as complaints_diff
        from mart full outer join core on mart.month = core.month
        order by 1
    """, {"marts.complaint_monthly": ["month", "complaints"], "core.fct_work_order": ["accept_month", "order_type"]},
        {"complaints": 0}, what="complaint_monthly, month by month")
    s.totals_match("work_order_monthly.totals", "marts.work_order_monthly", """
        with mart as (select month, sum(orders) as orders from marts.work_order_monthly group by 1),
        core as (select accept_month as month, count(*) as orders from core.fct_work_order group by 1)
        select coalesce(mart.month, core.month) as month,
               coalesce(mart.orders, 0) - coalesce(core.orders, 0) as orders_diff
        from mart full outer join core on mart.month = core.month
        order by 1
    """, {"marts.work_order_monthly": ["month", "orders"], "core.fct_work_order": ["accept_month"]},
        {"orders": 0}, what="work_order_monthly, month by month")

    s.table("marts.complaint_monthly", name="complaint_monthly.rows",
            context=["month", "org_no", "category_l1", "category_l2"]).expect(
        "complaint_monthly.closed_not_above_complaints", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="complaints", column_B="closed", or_equal=True, ignore_row_if="either_value_is_missing"),
        ERROR, "closed ≤ complaints",
    ).expect(
        "complaint_monthly.on_time_not_above_closed", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="closed", column_B="closed_on_time", or_equal=True, ignore_row_if="either_value_is_missing"),
        ERROR, "closed_on_time ≤ closed",
    ).expect(
        "complaint_monthly.repeats_not_above_complaints", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="complaints", column_B="repeat_complaints", or_equal=True,
            ignore_row_if="either_value_is_missing"),
        ERROR, "repeat_complaints ≤ complaints",
    ).expect(
        "complaint_monthly.satisfied_rate_range",
        gxe.ExpectColumnValuesToBeBetween(column="satisfied_rate", min_value=0, max_value=1), ERROR,
        "satisfied_rate lies between 0 and 1")

    s.table("core.fct_work_order", name="fct_work_order.rows", context=["order_id", "org_no"]).expect(
        "fct_work_order.finish_after_accept", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="finish_time", column_B="accept_time", or_equal=True, ignore_row_if="either_value_is_missing"),
        WARN, "a work order is finished after it was accepted",
        "Handling hours of these orders are negative and pull the station's average down; quote "
        "avg_handle_hours with that caveat.")

    # ---- outages and demand
    s.totals_match("outage_monthly.totals", "marts.outage_monthly", """
        with mart as (select month, sum(events) as events from marts.outage_monthly group by 1),
        core as (select start_month as month, count(*) as events from core.fct_outage group by 1)
        select coalesce(mart.month, core.month) as month,
               coalesce(mart.events, 0) - coalesce(core.events, 0) as events_diff
        from mart full outer join core on mart.month = core.month
        order by 1
    """, {"marts.outage_monthly": ["month", "events"], "core.fct_outage": ["start_month"]},
        {"events": 0}, what="outage_monthly, month by month")
    s.table("marts.outage_monthly", name="outage_monthly.rows", context=["month", "org_no", "outage_type"]).expect(
        "outage_monthly.notified_share_range",
        gxe.ExpectColumnValuesToBeBetween(column="notified_share", min_value=0, max_value=1), ERROR,
        "notified_share lies between 0 and 1",
    ).expect(
        "outage_monthly.saidi_not_negative", gxe.ExpectColumnValuesToBeBetween(column="saidi_hours", min_value=0),
        WARN, "SAIDI is ≥ 0",
        "An outage ending before it starts was delivered; the station's SAIDI is understated.")

    s.table("marts.demand_monthly", name="demand_monthly.rows", context=["month", "org_no", "industry_section"]).expect(
        "demand_monthly.new_accounts_not_negative",
        gxe.ExpectColumnValuesToBeBetween(column="new_accounts", min_value=0), ERROR, "new_accounts ≥ 0",
    ).expect(
        "demand_monthly.closed_accounts_not_negative",
        gxe.ExpectColumnValuesToBeBetween(column="closed_accounts", min_value=0), ERROR, "closed_accounts ≥ 0")
    return s
