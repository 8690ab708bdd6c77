"""Suite `payment`: 电费回收 (payment_channel_monthly, recovery_monthly, arrears_ageing,
arrears_top_customers, customer_payment_behaviour) and the receivables behind them.

- keys; mart totals = core totals (money received by month, billed and refunds by billing month,
  arrears and penalties by snapshot date);
- the late-payment penalty never exceeds what the rule allows: ≤ arrears × 0.003 × days overdue
  (the highest daily rate), or 1 yuan (the minimum), receivable by receivable;
- ranges: recovery and on-time rates in 0–1, ranks from 1, ageing buckets;
- dirty but valid: late payers only warn.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from powercrm.quality.checks import ERROR, WARN, Suite
from powercrm.quality.config import QualityConfig
from powercrm.quality.scope import PAID_BILLS

MONEY = 0.005
BUCKETS = ["1-30", "31-60", "61-90", "91-180", "181-365", ">365"]
MAX_DAILY_RATE = 0.003  # 0.3 % a day: the highest rate of the penalty rule
DATA_DATE = "(select max(business_date) from meta.partitions where status = 'LOADED')"


def build(cfg: QualityConfig) -> Suite:
    s = Suite("payment", "Payments, recovery and arrears: totals against core, penalty rule, rates")

    s.primary_key("marts.payment_channel_monthly", ["month", "channel", "elec_type"], nullable=("elec_type",))
    s.primary_key("marts.recovery_monthly", ["month", "org_no", "elec_type"], nullable=("org_no", "elec_type"))
    s.primary_key("marts.arrears_ageing", ["snapshot_date", "org_no", "elec_type", "ageing_bucket"],
                  nullable=("org_no", "elec_type"))
    s.primary_key("marts.arrears_top_customers", ["snapshot_date", "org_no", "arrears_rank"], nullable=("org_no",))
    s.primary_key("marts.customer_payment_behaviour", ["cons_no"])

    # ---- money received by channel
    s.totals_match("payment_channel_monthly.totals", "marts.payment_channel_monthly", """
        with mart as (
            select month, sum(amount_yuan) as amount_yuan, sum(amount_share) as amount_share
            from marts.payment_channel_monthly group by 1
        ),
        core as (
            select date_trunc('month', pay_time)::date as month, sum(amount_yuan) as amount_yuan
            from core.fct_payment where channel <> 'BALANCE' group by 1
        )
        select coalesce(mart.month, core.month) as month,
               coalesce(mart.amount_yuan, 0) - coalesce(core.amount_yuan, 0) as amount_yuan_diff,
               case when core.amount_yuan <> 0 then mart.amount_share - 1 end as amount_share_diff
        from mart full outer join core on mart.month = core.month
        order by 1
    """, {"marts.payment_channel_monthly": ["month", "amount_yuan", "amount_share"],
          "core.fct_payment": ["pay_time", "amount_yuan", "channel"]},
        {"amount_yuan": MONEY, "amount_share": 1e-6},
        what="payment_channel_monthly (money received, channel ≠ BALANCE; shares add up to 1), month by month")
    s.table("marts.payment_channel_monthly", name="payment_channel_monthly.rows",
            context=["month", "elec_type"]).expect(
        "payment_channel_monthly.no_balance_transfers",
        gxe.ExpectColumnValuesToNotBeInSet(column="channel", value_set=["BALANCE"]), ERROR,
        "transfers from the prepaid balance are not money received (no BALANCE rows)")

    # ---- recovery
    s.totals_match("recovery_monthly.totals", "marts.recovery_monthly", """
        with mart as (
            select month, sum(billed_yuan) as billed_yuan, sum(refund_yuan) as refund_yuan
            from marts.recovery_monthly group by 1
        ),
        core as (
            select billing_month as month,
                   sum(amount_yuan) filter (where amount_yuan > 0) as billed_yuan,
                   sum(amount_yuan) filter (where bill_type = 'ADJUST' and amount_yuan < 0) as refund_yuan
            from core.fct_bill group by 1
        )
        select coalesce(mart.month, core.month) as month,
               coalesce(mart.billed_yuan, 0) - coalesce(core.billed_yuan, 0) as billed_yuan_diff,
               coalesce(mart.refund_yuan, 0) - coalesce(core.refund_yuan, 0) as refund_yuan_diff
        from mart full outer join core on mart.month = core.month
        where coalesce(mart.billed_yuan, 0) <> 0 or coalesce(core.billed_yuan, 0) <> 0
           or coalesce(mart.refund_yuan, 0) <> 0 or coalesce(core.refund_yuan, 0) <> 0
        order by 1
    """, {"marts.recovery_monthly": ["month", "billed_yuan", "refund_yuan"],
          "core.fct_bill": ["billing_month", "amount_yuan", "bill_type"]},
        {"billed_yuan": MONEY, "refund_yuan": MONEY},
        what="recovery_monthly (receivables billed, downward corrections), billing month by billing month")

    s.table("marts.recovery_monthly", name="recovery_monthly.rows", context=["month", "org_no", "elec_type"]).expect(
        "recovery_monthly.refund_not_positive", gxe.ExpectColumnValuesToBeBetween(column="refund_yuan", max_value=0),
        ERROR, "refund_yuan is ≤ 0 (it sums downward corrections)",
    ).expect(
        "recovery_monthly.recovery_rate_range",
        gxe.ExpectColumnValuesToBeBetween(column="recovery_rate", min_value=0, max_value=1), WARN,
        "recovery rate lies between 0 and 1",
        "Above 1 a group collected more than it billed (payments naming bills of another group, "
        "overpayments); below 0 reversals exceed payments. Quote the group's rate with that caveat.",
    ).expect(
        "recovery_monthly.on_time_rate_range",
        gxe.ExpectColumnValuesToBeBetween(column="on_time_recovery_rate", min_value=0, max_value=1), WARN,
        "on-time recovery rate lies between 0 and 1",
        "As for recovery_rate.")

    s.query("recovery.company", "marts.recovery_monthly", f"""
        select month, sum(billed_yuan) as billed_yuan, sum(collected_yuan) as collected_yuan,
               sum(collected_yuan) / nullif(sum(billed_yuan), 0) as recovery_rate
        from marts.recovery_monthly
        where month < date_trunc('month', {DATA_DATE}) - interval 2 month
        group by 1 order by 1
    """, {"marts.recovery_monthly": ["month", "billed_yuan", "collected_yuan"],
          "meta.partitions": ["business_date", "status"]}).expect(
        "recovery.company_rate_plausible",
        gxe.ExpectColumnValuesToBeBetween(column="recovery_rate", min_value=0.5, max_value=1.05), WARN,
        "the company collects between 50 % and 105 % of each billing month older than two months",
        "A month collected below half usually means payments of that period were not delivered "
        "(see audit.load_log for payment partitions); do not report recovery for it until explained.")

    # ---- late payers (dirty but valid)
    # nightly: the bills tonight's build re-derived (paid, billed or re-attributed tonight: a bill's
    # days late change only when it is re-derived); the weekly full check counts every bill
    s.query("fct_bill.payment", "core.fct_bill", """
        select rowid as _rowid, billing_month, days_late
        from core.fct_bill
        where REDERIVED(_loaded_at)
    """, {"core.fct_bill": ["billing_month", "days_late"]}, partition_by="billing_month",
        context=["bill_id", "cons_no", "due_date", "paid_date"], scope_of=PAID_BILLS,
        nightly_rows="the bills this run re-derived").expect(
        "fct_bill.paid_late", gxe.ExpectColumnValuesToBeBetween(column="days_late", max_value=0), WARN,
        "receivables are paid by their due date (days_late = 0)",
        "Late payers are normal; the count shows how many receivables were paid late. A sudden rise "
        "with the same customers is worth a look at payment deliveries.")

    # ---- arrears and penalties
    s.query("fct_arrears_snapshot.penalty", "core.fct_arrears_snapshot", f"""
        select rowid as _rowid, snapshot_date, arrears_yuan, days_overdue, penalty_accrued_yuan,
               case when arrears_yuan > 0 and days_overdue > 0
                    then greatest(1.00, round(arrears_yuan * {MAX_DAILY_RATE} * days_overdue, 2))
                    else 0 end as penalty_allowed_yuan,
               penalty_accrued_yuan - case when arrears_yuan > 0 and days_overdue > 0
                    then greatest(1.00, round(arrears_yuan * {MAX_DAILY_RATE} * days_overdue, 2))
                    else 0 end as penalty_excess_yuan
        from core.fct_arrears_snapshot
    """, {"core.fct_arrears_snapshot": ["snapshot_date", "bill_id", "elec_type", "arrears_yuan", "days_overdue",
                                        "penalty_accrued_yuan"]}, partition_by="snapshot_date",
        context=["bill_id", "cons_no", "elec_type"]).expect(
        "fct_arrears_snapshot.penalty_within_rule",
        gxe.ExpectColumnValuesToBeBetween(column="penalty_excess_yuan", max_value=MONEY), ERROR,
        "a receivable's penalty ≤ arrears × 0.003 × days overdue, or 1 yuan (none without arrears)",
        "A penalty above what the rule allows would be demanded from customers: nothing is published.",
    ).expect(
        "fct_arrears_snapshot.penalty_not_negative",
        gxe.ExpectColumnValuesToBeBetween(column="penalty_accrued_yuan", min_value=0), ERROR,
        "a penalty is ≥ 0")

    s.table("core.fct_arrears_snapshot", name="fct_arrears_snapshot.rows", partition_by="snapshot_date",
            context=["bill_id"]).expect(
        "fct_arrears_snapshot.arrears_not_negative",
        gxe.ExpectColumnValuesToBeBetween(column="arrears_yuan", min_value=0), ERROR,
        "arrears are ≥ 0 (an overpayment is overpaid_yuan)")

    s.totals_match("arrears_ageing.totals", "marts.arrears_ageing", """
        with mart as (
            select snapshot_date, sum(arrears_yuan) as arrears_yuan,
                   sum(penalty_accrued_yuan) as penalty_accrued_yuan, sum(receivables) as receivables
            from marts.arrears_ageing group by 1
        ),
        core as (
            select snapshot_date, sum(arrears_yuan) as arrears_yuan,
                   sum(penalty_accrued_yuan) as penalty_accrued_yuan, count(*) as receivables
            from core.fct_arrears_snapshot where arrears_yuan > 0 group by 1
        )
        select coalesce(mart.snapshot_date, core.snapshot_date) as snapshot_date,
               coalesce(mart.arrears_yuan, 0) - coalesce(core.arrears_yuan, 0) as arrears_yuan_diff,
               coalesce(mart.penalty_accrued_yuan, 0) - coalesce(core.penalty_accrued_yuan, 0)
                   as penalty_accrued_yuan_diff,
               coalesce(mart.receivables, 0) - coalesce(core.receivables, 0) as receivables_diff
        from mart full outer join core on mart.snapshot_date = core.snapshot_date
        order by 1
    """, {"marts.arrears_ageing": ["snapshot_date", "arrears_yuan", "penalty_accrued_yuan", "receivables"],
          "core.fct_arrears_snapshot": ["snapshot_date", "arrears_yuan", "penalty_accrued_yuan"]},
        {"arrears_yuan": MONEY, "penalty_accrued_yuan": MONEY, "receivables": 0},
        what="arrears_ageing, snapshot date by snapshot date")
    s.table("marts.arrears_ageing", name="arrears_ageing.rows", context=["snapshot_date", "org_no", "elec_type"]).expect(
        "arrears_ageing.bucket_valid", gxe.ExpectColumnValuesToBeInSet(column="ageing_bucket", value_set=BUCKETS),
        ERROR, "ageing_bucket is one of 1-30, 31-60, 61-90, 91-180, 181-365, >365",
    ).expect(
        "arrears_ageing.arrears_positive", gxe.ExpectColumnValuesToBeBetween(column="arrears_yuan", min_value=0.01),
        ERROR, "every ageing row holds arrears (> 0)")

    s.table("marts.arrears_top_customers", name="arrears_top_customers.rows",
            context=["snapshot_date", "org_no", "cons_no"]).expect(
        "arrears_top_customers.rank_from_1",
        gxe.ExpectColumnValuesToBeBetween(column="arrears_rank", min_value=1), ERROR, "ranks start at 1",
    ).expect(
        "arrears_top_customers.arrears_positive",
        gxe.ExpectColumnValuesToBeBetween(column="arrears_yuan", min_value=0.01), ERROR,
        "every ranked customer is in arrears")

    s.table("marts.customer_payment_behaviour", name="customer_payment_behaviour.rows", context=["cons_no"]).expect(
        "customer_payment_behaviour.on_time_rate_range",
        gxe.ExpectColumnValuesToBeBetween(column="on_time_rate", min_value=0, max_value=1), ERROR,
        "on-time rate lies between 0 and 1",
    ).expect(
        "customer_payment_behaviour.on_time_not_above_due",
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="bills_due", column_B="bills_paid_on_time",
                                                    or_equal=True, ignore_row_if="either_value_is_missing"),
        ERROR, "bills paid on time ≤ bills due")
    return s
