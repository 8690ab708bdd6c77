"""Suite `core`: the star schema (schema `core`) and the load behind it.

- keys: every dimension and fact has a unique, non-NULL primary key; one current version per
  customer;
- row counts against the loader: every key loaded into `raw` (the partitions in force, see
  `meta.partitions`) is in its core table, and nothing else is (core.fct_bill rows = distinct
  bill_ids loaded); the raw tables hold Σ rows_loaded of meta.partitions; every LOADED
  partition of audit.load_log has rows_in = rows_loaded + rows_quarantined;
- Σ bill line items = bill amount, bill by bill;
- codes and values in range; dirty but valid source data (quarantined rows, rejected
  partitions, negative NORMAL bills, facts without a customer master) only warns;
- personal data: no personal column in a published schema, residential names masked.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from powercrm.extracts import EXTRACTS, code_lists
from powercrm.ingest.rules import norm_sql
from powercrm.quality.checks import ERROR, WARN, Suite
from powercrm.quality.config import QualityConfig

# (table, primary key, key parts that may be NULL)
PRIMARY_KEYS: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("core.dim_customer", ["customer_sk"], ()),
    ("core.dim_org", ["org_no"], ()),
    ("core.dim_transformer_area", ["tg_id"], ()),
    ("core.dim_tariff", ["tariff_sk"], ()),
    ("core.dim_date", ["date_day"], ()),
    ("core.dim_elec_type", ["elec_type"], ()),
    ("core.dim_voltage", ["voltage"], ()),
    ("core.dim_pay_channel", ["channel"], ()),
    ("core.dim_complaint_category", ["category_l1"], ()),
    ("core.dim_industry", ["industry_code"], ()),
    ("core.fct_bill", ["bill_id"], ()),
    ("core.fct_bill_line", ["bill_id", "item_no"], ()),
    ("core.fct_payment", ["pay_id"], ()),
    ("core.fct_consumption", ["cons_no", "billing_month"], ()),
    ("core.fct_supply", ["tg_id", "billing_month"], ()),
    ("core.fct_arrears_snapshot", ["snapshot_date", "bill_id"], ()),
    ("core.fct_work_order", ["order_id"], ()),
    ("core.fct_survey", ["survey_id"], ()),
    ("core.fct_outage", ["event_id"], ()),
    ("core.fct_dunning", ["event_id"], ()),
    ("core.fct_violation", ["case_id"], ()),
]

# extract → core table, and the key compared: (raw column, core column, kind)
LOADED_KEYS: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    ("bill", "core.fct_bill", [("bill_id", "bill_id", "text")]),
    ("bill_item", "core.fct_bill_line", [("bill_id", "bill_id", "text"), ("item_no", "item_no", "int")]),
    ("payment", "core.fct_payment", [("pay_id", "pay_id", "text")]),
    ("reading", "core.fct_consumption", [("cons_no", "cons_no", "text"), ("billing_month", "billing_month", "month")]),
    ("supply", "core.fct_supply", [("tg_id", "tg_id", "text"), ("billing_month", "billing_month", "month")]),
    ("workorder", "core.fct_work_order", [("order_id", "order_id", "text")]),
    ("survey", "core.fct_survey", [("survey_id", "survey_id", "text")]),
    ("outage", "core.fct_outage", [("event_id", "event_id", "text")]),
    ("dunning", "core.fct_dunning", [("event_id", "event_id", "text")]),
    ("violation", "core.fct_violation", [("case_id", "case_id", "text")]),
    ("cust", "core.dim_customer", [("cons_no", "cons_no", "text")]),
]

# on an incremental night (powercrm.quality.scope) the big facts' keys are checked on the rows of
# the changed months: a key within one month (bill lines carry their bill's month; consumption is
# keyed by month), or, for a single key, every row sharing a key with a row of a changed month
SCOPED_KEYS: dict[str, str] = {
    "core.fct_bill": "NIGHTLY[[bill_id in (select bill_id from core.fct_bill where SCOPE_MONTHS(billing_month))]]",
    "core.fct_bill_line": "SCOPE_MONTHS(billing_month)",
    "core.fct_payment": "NIGHTLY[[pay_id in (select pay_id from core.fct_payment where SCOPE_MONTHS(pay_month))]]",
    "core.fct_consumption": "SCOPE_MONTHS(billing_month)",
}
# extracts whose keys are compared with a big fact: nightly, only the keys of this run's partitions
# are looked up (loaded → present); "in the fact, never loaded" needs every key: full checks only
SCOPED_LOADS = frozenset({"bill", "bill_item", "payment", "reading"})

PERSONAL_COLUMNS = ("cert_no", "mobile", "address", "content", "comment")
RESIDENTIAL = "100"


def _raw_part(col: str, kind: str) -> str:
    """A key part of a raw (all text) row, normalised as the loader does; never NULL."""
    n = norm_sql(f'"{col}"')
    if kind == "int":
        return f"coalesce(try_cast({n} as bigint), -1)"
    if kind == "month":  # `YYYY-MM` text in raw
        return f"coalesce(strftime(try_cast({n} || '-01' as date), '%Y-%m'), '')"
    return f"coalesce({n}, '')"


def _core_part(col: str, kind: str) -> str:
    if kind == "month":
        return f"coalesce(strftime(\"{col}\", '%Y-%m'), '')"
    if kind == "int":
        return f"coalesce(cast(\"{col}\" as bigint), -1)"
    text = norm_sql(f'cast("{col}" as varchar)')
    return f"coalesce({text}, '')"


def build(cfg: QualityConfig) -> Suite:
    s = Suite("core", "Star schema: keys, row counts against the loader, Σ items = bill, codes, personal data")

    for table, key, nullable in PRIMARY_KEYS:
        s.primary_key(table, key, nullable=nullable, where=SCOPED_KEYS.get(table))

    # one current version per customer, and every customer has one
    s.primary_key("core.dim_customer", ["cons_no"], where="is_current", label="dim_customer.current")
    s.query("dim_customer.current_missing", "core.dim_customer", """
        select cons_no, count(*) as versions
        from core.dim_customer
        group by cons_no
        having count(*) filter (where is_current) = 0
        order by cons_no
    """, {"core.dim_customer": ["cons_no", "is_current"]}, violations=True).expect(
        "dim_customer.current_version_exists", gxe.ExpectTableRowCountToEqual(value=0), ERROR,
        "every customer of dim_customer has exactly one current version (is_current)",
        "Customer attributes 'as of the data date' are missing for these customers: report it.")

    # ---- row counts against the loader
    for extract, table, parts in LOADED_KEYS:
        raw_cols = ", ".join(f"{_raw_part(r, k)} as k{i}" for i, (r, _, k) in enumerate(parts))
        core_cols = ", ".join(f"{_core_part(c, k)} as k{i}" for i, (_, c, k) in enumerate(parts))
        ks = ", ".join(f"k{i}" for i in range(len(parts)))
        key = "concat_ws('|', " + ", ".join(f"cast(k{i} as varchar)" for i in range(len(parts))) + ")"
        first_raw = norm_sql(f'"{parts[0][0]}"')
        short = table.split(".")[-1]
        keys = " × ".join(c for _, c, _ in parts)
        if extract in SCOPED_LOADS:
            loaded_scope = f"SCOPE_DATES({extract}, _business_date)"
            # the month of a key part narrows the fact's rows first (a night's readings: the rows of
            # one month, not the 25 M rows of the customers who have a reading tonight)
            months = "".join(
                f' and "{c}" in (select try_cast(k{i} || \'-01\' as date) from loaded)'
                for i, (_, c, k) in enumerate(parts) if k == "month")
            published_scope = f'NIGHTLY[[cast("{parts[0][1]}" as varchar) in (select k0 from loaded){months}]]'
            never_loaded = "SCOPE_FULL"
        else:
            loaded_scope = published_scope = never_loaded = "true"
        # both sides' keys in one grouping by a 64-bit hash of the key (a hash table of integers:
        # 1 000 000 customers, bill lines: 26 s where grouping the text keys took 56 s and two
        # distincts and a full outer join 77 s); only the few hashes seen on one side are looked up
        # again as keys. A lost key could hide only behind another key of the same hash: at 119 M
        # keys, odds of about 1 in 10^11 per lost key. `loaded` and `published` are not
        # materialized: the look-up reads them again, joined to the few hashes of `odd` (with `odd`
        # empty the whole query took 26.0 s against 27.1 s for the grouping alone).
        s.query(f"{short}.loaded", table, f"""
            with loaded as not materialized (
                select {raw_cols} from raw.{extract}
                where coalesce({first_raw}, '') <> '' and {loaded_scope}
            ),
            published as not materialized (select {core_cols} from {table} where {published_scope}),
            sides as (
                select hash({ks}) as _h, true as is_loaded, false as is_published from loaded
                union all
                select hash({ks}) as _h, false as is_loaded, true as is_published from published
            ),
            odd as materialized (
                select _h, bool_or(is_loaded) as is_loaded, bool_or(is_published) as is_published
                from sides group by _h
                having (not bool_or(is_loaded) and {never_loaded}) or not bool_or(is_published)
            ),
            keys as (
                select distinct {ks}, 'loaded, missing in {table}' as problem
                from loaded join odd on hash({ks}) = odd._h
                where not odd.is_published
                union all
                select distinct {ks}, 'in {table}, never loaded' as problem
                from published join odd on hash({ks}) = odd._h
                where not odd.is_loaded
            )
            select {key} as key, problem
            from keys
            order by 1
        """, {f"raw.{extract}": [r for r, _, _ in parts], table: [c for _, c, _ in parts]},
            violations=True).expect(
            f"{short}.rows_match_loaded", gxe.ExpectTableRowCountToEqual(value=0), ERROR,
            f"{table} holds exactly the distinct {keys} loaded from extract {extract} (raw.{extract})",
            "Rows were lost or invented between the load and the star schema; figures built on the "
            "table are wrong. The data engineers fix the model before anything is published.")

    raw_counts = " union all ".join(
        f"select '{name}' as extract, count(*) as raw_rows from raw.{name}" for name in EXTRACTS)
    s.query("load.raw_rows", "meta.partitions", f"""
        with raw_rows as ({raw_counts}),
        partitions as (
            select extract, sum(rows_loaded) as rows_loaded from meta.partitions where status = 'LOADED' group by 1
        )
        select raw_rows.extract, raw_rows.raw_rows, coalesce(partitions.rows_loaded, 0) as rows_loaded,
               raw_rows.raw_rows - coalesce(partitions.rows_loaded, 0) as diff
        from raw_rows left join partitions on raw_rows.extract = partitions.extract
        order by 1
    """, {"meta.partitions": ["extract", "rows_loaded", "status"], **{f"raw.{n}": [] for n in EXTRACTS}}).expect(
        "load.raw_rows_match_partitions", gxe.ExpectColumnValuesToBeBetween(column="diff", min_value=0, max_value=0),
        ERROR, "each raw table holds Σ rows_loaded of its partitions in force (meta.partitions)",
        "The working database is inconsistent (an interrupted load?): rerun the load.")

    s.query("load_log.balance", "audit.load_log", """
        select extract, business_date, rows_in, rows_loaded, rows_quarantined,
               rows_in - rows_loaded - rows_quarantined as diff
        from audit.load_log
        where status = 'LOADED'
    """, {"audit.load_log": ["extract", "business_date", "rows_in", "rows_loaded", "rows_quarantined", "status"]}
    ).expect(
        "load_log.rows_balance", gxe.ExpectColumnValuesToBeBetween(column="diff", min_value=0, max_value=0), ERROR,
        "every LOADED partition: rows_in = rows_loaded + rows_quarantined",
        "Rows of a partition went missing during the load: the data engineers reload it.")

    s.query("load_log.latest", "audit.load_log", """
        select extract, business_date, status, message
        from (
            select *, row_number() over (
                partition by extract, business_date order by loaded_at desc, status = 'REJECTED') as attempt
            from audit.load_log
            where status in ('LOADED', 'REJECTED')
        ) as attempts
        where attempt = 1
        order by extract, business_date
    """, {"audit.load_log": ["extract", "business_date", "status", "message", "loaded_at"]}).expect(
        "load_log.partitions_rejected", gxe.ExpectColumnValuesToNotBeInSet(column="status", value_set=["REJECTED"]),
        WARN, "no partition's latest delivery was rejected (a rejected redelivery leaves the earlier one in force)",
        "Figures of the partition's dates are missing or stale until the source system redelivers it; "
        "the message names the file. Mention it with figures of those dates.")

    s.query("quarantine", "audit.quarantine", """
        select extract, business_date, file, record_no, reason from audit.quarantine
        order by extract, business_date, file, record_no
    """, {"audit.quarantine": ["extract", "business_date", "file", "record_no", "reason"]}, violations=True).expect(
        "quarantine.rows", gxe.ExpectTableRowCountToEqual(value=0), WARN,
        "no source record was set aside as unusable (audit.quarantine)",
        "Each quarantined record is left out of every figure; the reason says why. A handful is normal; "
        "many of one extract means the source system has a problem: ask for a redelivery.")

    # ---- bills
    s.query("fct_bill.rows", "core.fct_bill", """
        select rowid as _rowid, billing_month, bill_type, customer_sk is not null as has_customer_master,
               issue_date, due_date,
               case when bill_type = 'NORMAL' then kwh end as normal_kwh,
               case when bill_type = 'NORMAL' then amount_yuan end as normal_amount_yuan
        from core.fct_bill
    """, {"core.fct_bill": ["bill_id", "billing_month", "bill_type", "cons_no", "customer_sk", "issue_date",
                            "due_date", "kwh", "amount_yuan"]}, partition_by="billing_month",
        context=["bill_id", "cons_no"]).expect(
        "fct_bill.billing_month_not_null", gxe.ExpectColumnValuesToNotBeNull(column="billing_month"), ERROR,
        "every bill has a billing month (a bill without one is in no monthly figure)",
    ).expect(
        "fct_bill.bill_type_valid", gxe.ExpectColumnValuesToBeInSet(column="bill_type", value_set=["NORMAL", "ADJUST"]),
        ERROR, "bill_type is NORMAL or ADJUST",
    ).expect(
        "fct_bill.customer_known",
        gxe.ExpectColumnValuesToBeInSet(column="has_customer_master", value_set=[True]), WARN,
        "every bill's customer has a master record (customer_sk)",
        "Bills of customers whose master record has not arrived count in company totals but under no "
        "station, area or elec_type. Usually fixed by the next master delivery.",
    ).expect(
        "fct_bill.normal_kwh_not_negative", gxe.ExpectColumnValuesToBeBetween(column="normal_kwh", min_value=0),
        WARN, "a NORMAL bill has kWh ≥ 0 (corrections are ADJUST bills)",
        "A negative NORMAL bill is a correction booked the wrong way in the billing system; it lowers "
        "the month's sales. Check the customer before quoting the figure.",
    ).expect(
        "fct_bill.normal_amount_not_negative",
        gxe.ExpectColumnValuesToBeBetween(column="normal_amount_yuan", min_value=0), WARN,
        "a NORMAL bill has amount ≥ 0",
        "As for negative kWh: a correction booked as a NORMAL bill.",
    ).expect(
        "fct_bill.due_after_issue", gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="due_date", column_B="issue_date", or_equal=True, ignore_row_if="either_value_is_missing"),
        WARN, "a bill is due on or after its issue date",
        "Days late and on-time rates of these bills are distorted; tell the billing team.")

    s.query("fct_bill.items", "core.fct_bill", """
        -- lines carry their bill's month: joining on it lets DuckDB read one month of lines
        -- when the frame is read month by month
        with lines as (
            select bill_id, billing_month, sum(amount_yuan) as items_yuan, count(*) as lines
            from core.fct_bill_line
            group by bill_id, billing_month
        )
        select bills.rowid as _rowid, bills.billing_month, bills.amount_yuan,
               coalesce(lines.items_yuan, 0) as items_yuan, coalesce(lines.lines, 0) as lines,
               bills.amount_yuan - coalesce(lines.items_yuan, 0) as diff_yuan
        from core.fct_bill as bills
        left join lines on bills.bill_id = lines.bill_id and bills.billing_month = lines.billing_month
    """, {"core.fct_bill": ["bill_id", "billing_month", "bill_type", "amount_yuan"],
          "core.fct_bill_line": ["bill_id", "billing_month", "amount_yuan"]}, partition_by="billing_month",
        context=["bill_id", "cons_no", "bill_type"]).expect(
        "fct_bill.items_sum_to_bill",
        gxe.ExpectColumnValuesToBeBetween(column="diff_yuan", min_value=-0.005, max_value=0.005), ERROR,
        "Σ bill line amounts (fct_bill_line) = the bill's amount_yuan, bill by bill",
        "Price composition and revenue would disagree with billed amounts: nothing is published until "
        "the bill lines are complete.")

    s.query("fct_bill_line.orphans", "core.fct_bill_line", """
        select lines.bill_id, lines.item_no, lines.item, lines.amount_yuan
        from core.fct_bill_line as lines
        anti join core.fct_bill as bills on lines.bill_id = bills.bill_id
        where SCOPE_MONTHS(lines.billing_month)
        order by 1, 2
    """, {"core.fct_bill_line": ["bill_id", "item_no", "item", "amount_yuan"], "core.fct_bill": ["bill_id"]},
        violations=True).expect(
        "fct_bill_line.bill_exists", gxe.ExpectTableRowCountToEqual(value=0), WARN,
        "every bill line belongs to a bill that was delivered",
        "These line amounts are in no bill-based figure; the bill will usually arrive with the next delivery.")

    s.table("core.fct_bill_line", name="fct_bill_line.rows", partition_by="billing_month",
            context=["bill_id", "item_no"]).expect(
        "fct_bill_line.item_valid", gxe.ExpectColumnValuesToBeInSet(
            column="item", value_set=sorted(code_lists()["bill_item"])), ERROR,
        "item is one of the bill item codes (ENERGY, BASIC, PF_ADJ, FUND)",
    ).expect(
        "fct_bill_line.amount_not_null", gxe.ExpectColumnValuesToNotBeNull(column="amount_yuan"), WARN,
        "every bill line has an amount",
        "A line without an amount counts as 0 in price composition and revenue.")

    # ---- payments, consumption, supply
    s.table("core.fct_payment", name="fct_payment.rows", partition_by="pay_month",
            context=["pay_id", "cons_no", "bill_id"]).expect(
        "fct_payment.channel_valid", gxe.ExpectColumnValuesToBeInSet(
            column="channel", value_set=sorted(code_lists()["pay_channel"])), ERROR,
        "channel is one of the payment channel codes",
    ).expect(
        "fct_payment.pay_time_not_null", gxe.ExpectColumnValuesToNotBeNull(column="pay_time"), ERROR,
        "every payment has a time (its month and its on-time status depend on it)",
    ).expect(
        "fct_payment.amount_not_null", gxe.ExpectColumnValuesToNotBeNull(column="amount_yuan"), ERROR,
        "every payment has an amount",
)
    s.query("fct_payment.penalties", "core.fct_payment", """
        select rowid as _rowid, pay_month, amount_yuan, penalty_yuan
        from core.fct_payment
        where not coalesce(is_reversal, false)
    """, {"core.fct_payment": ["pay_month", "amount_yuan", "penalty_yuan", "is_reversal"]},
        partition_by="pay_month", context=["pay_id", "cons_no", "bill_id", "channel"]).expect(
        "fct_payment.penalty_not_negative", gxe.ExpectColumnValuesToBeBetween(column="penalty_yuan", min_value=0),
        WARN, "a collected late-payment penalty is ≥ 0 (a reversal's negative penalty cancels its payment's)",
        "Negative penalties lower collected-penalty totals; ask the billing team about these payments.")

    s.table("core.fct_consumption", name="fct_consumption.rows", partition_by="billing_month",
            context=["cons_no"]).expect(
        "fct_consumption.kwh_not_negative", gxe.ExpectColumnValuesToBeBetween(column="kwh", min_value=0), WARN,
        "metered consumption of a customer-month is ≥ 0",
        "A negative reading total usually means a meter exchange or roll-over read wrong; the bill, "
        "not the reading, is what sales figures use.")

    s.table("core.fct_supply", name="fct_supply.rows", context=["tg_id", "billing_month"]).expect(
        "fct_supply.supply_not_negative", gxe.ExpectColumnValuesToBeBetween(column="supply_kwh", min_value=0),
        WARN, "energy supplied to a transformer area in a month is ≥ 0",
        "The area's line loss of that month is meaningless; leave it out of loss comparisons.")

    # ---- personal data in the published schemas
    personal = ", ".join(f"'{c}'" for c in PERSONAL_COLUMNS)
    s.query("pii.columns", "core, marts, audit", f"""
        select schema_name, table_name, column_name
        from duckdb_columns()
        where database_name = current_database()
          and schema_name in ('core', 'marts', 'audit')
          and lower(column_name) in ({personal})
        order by 1, 2, 3
    """, {}, violations=True).expect(
        "pii.no_personal_columns", gxe.ExpectTableRowCountToEqual(value=0), ERROR,
        "no published table has a cert_no, mobile, address, content or comment column",
        "Personal data must not reach the analysts' file.")
    s.query("pii.names", "core.dim_customer", f"""
        select customer_sk, cons_no, elec_type,
               cons_name is null or cons_name = left(cons_name, 1) || repeat('*', length(cons_name) - 1)
                   as is_masked
        from core.dim_customer
        where elec_type = '{RESIDENTIAL}'
    """, {"core.dim_customer": ["customer_sk", "cons_no", "elec_type", "cons_name"]}).expect(
        "dim_customer.residential_name_masked", gxe.ExpectColumnValuesToBeInSet(column="is_masked", value_set=[True]),
        ERROR, "residential customer names are masked (张三丰 → 张**)",
        "Personal data must not reach the analysts' file.")
    return s
