"""The interface of the billing system's extracts (../shared/SOURCE_EXTRACTS.md) as data.

One place says, for each of the 14 extracts, its columns and their types, its key, which
columns carry codes (and from which code list), and which columns are personal data. The
loader validates rows with it; the code lists themselves live in `seeds/` (the same CSVs dbt
loads as dimensions), so a code list is written down exactly once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
SEEDS_DIR = PROJECT_DIR / "seeds"

# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space map to their half-width forms:
# the part of Unicode NFKC that codes in a real extract need (`ＷＥＣＨＡＴ`, `２００`).
FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
HALFWIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " "

TS_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M")


def _seed_codes(seed: str, column: str) -> frozenset[str]:
    with open(SEEDS_DIR / f"{seed}.csv", encoding="utf-8", newline="") as f:
        return frozenset(row[column] for row in csv.DictReader(f))


YES_NO = frozenset({"Y", "N"})


@cache
def code_lists() -> dict[str, frozenset[str]]:
    return {
        "elec_type": _seed_codes("elec_type", "elec_type"),
        "voltage": _seed_codes("voltage", "voltage"),
        "tou_period": _seed_codes("tou_period", "tou_period"),
        "pay_channel": _seed_codes("pay_channel", "channel"),
        "bill_item": _seed_codes("bill_item", "item"),
        "order_type": _seed_codes("order_type", "order_type"),
        "outage_type": _seed_codes("outage_type", "outage_type"),
        "category_l1": _seed_codes("complaint_category", "category_l1"),
        "yes_no": YES_NO,
        "cust_status": frozenset({"ACTIVE", "CLOSED"}),
        "bill_type": frozenset({"NORMAL", "ADJUST"}),
        "component": frozenset({"ENERGY", "BASIC_KVA", "BASIC_KW", "FUND", "TD", "PURCHASE", "LOSS", "SYSTEM"}),
        "event_type": frozenset({"SMS", "NOTICE", "DISCONNECT", "RECONNECT"}),
        "case_type": frozenset({"THEFT", "BREACH"}),
        "wo_channel": frozenset({"PHONE", "WEB", "APP", "WECHAT"}),
        "satisfaction": frozenset({"SATISFIED", "NEUTRAL", "UNSATISFIED"}),
        "survey_channel": frozenset({"PHONE", "SMS", "APP"}),
    }


@dataclass(frozen=True)
class Extract:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, type): str | int | dec | date | ts
    key: tuple[str, ...]
    nullable_key: frozenset[str] = frozenset()
    codes: dict[str, str] = field(default_factory=dict)  # column -> code list name
    pii: dict[str, str] = field(default_factory=dict)  # column -> "name" | "text"
    snapshot: bool = False  # full snapshot: the latest partition is the whole truth

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    out = []
    for part in spec.split():
        name, _, typ = part.partition(":")
        out.append((name, typ or "str"))
    return tuple(out)


EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in [
        Extract(
            "org",
            _cols("org_no org_name parent_org_no org_level:int tg_id tg_name tg_capacity_kva:dec"),
            key=("org_no", "tg_id"),
            nullable_key=frozenset({"tg_id"}),
            snapshot=True,
        ),
        Extract(
            "cust",
            _cols(
                "cons_no cons_name cert_no mobile address elec_type voltage contract_kva:dec industry_code "
                "org_no tg_id tariff_code is_key_account status open_date:date close_date:date updated_at:ts"
            ),
            key=("cons_no", "updated_at"),
            codes={"elec_type": "elec_type", "voltage": "voltage", "is_key_account": "yes_no",
                   "status": "cust_status"},
            pii={"cons_name": "name", "cert_no": "text", "mobile": "text", "address": "text"},
        ),
        Extract(
            "tariff",
            _cols(
                "tariff_code elec_type voltage component tou_period tier:int tier_floor_kwh:dec fund_name "
                "price:dec valid_from:date valid_to:date"
            ),
            key=("tariff_code", "component", "tou_period", "tier", "fund_name", "valid_from"),
            nullable_key=frozenset({"fund_name"}),
            codes={"elec_type": "elec_type", "voltage": "voltage", "component": "component",
                   "tou_period": "tou_period"},
            snapshot=True,
        ),
        Extract(
            "reading",
            _cols(
                "reading_id cons_no meter_id billing_month read_date:date tou_period start_reading:dec "
                "end_reading:dec multiplier:int meter_digits:int kwh:dec max_demand_kw:dec kvarh:dec is_estimated"
            ),
            key=("reading_id",),
            codes={"tou_period": "tou_period", "is_estimated": "yes_no"},
        ),
        Extract(
            "bill",
            _cols(
                "bill_id cons_no billing_month bill_type ref_bill_id issue_date:date due_date:date kwh:dec "
                "amount:dec tariff_code"
            ),
            key=("bill_id",),
            codes={"bill_type": "bill_type"},
        ),
        Extract(
            "bill_item",
            _cols("bill_id item_no:int item tou_period tier:int fund_name kwh:dec price:dec amount:dec"),
            key=("bill_id", "item_no"),
            codes={"item": "bill_item", "tou_period": "tou_period"},
        ),
        Extract(
            "payment",
            _cols("pay_id cons_no bill_id pay_time:ts channel amount:dec penalty_amount:dec reversal_of"),
            key=("pay_id",),
            codes={"channel": "pay_channel"},
        ),
        Extract(
            "dunning",
            _cols("event_id cons_no bill_id event_type event_time:ts operator"),
            key=("event_id",),
            codes={"event_type": "event_type"},
        ),
        Extract(
            "violation",
            _cols("case_id cons_no case_type found_date:date recovered_kwh:dec recovered_amount:dec penalty_amount:dec"),
            key=("case_id",),
            codes={"case_type": "case_type"},
        ),
        Extract(
            "supply",
            _cols("tg_id billing_month supply_kwh:dec is_estimated"),
            key=("tg_id", "billing_month"),
            codes={"is_estimated": "yes_no"},
        ),
        Extract(
            "workorder",
            _cols(
                "order_id cons_no accept_time:ts channel order_type category_l1 category_l2 org_no content "
                "deadline_time:ts finish_time:ts is_repeat is_escalated satisfaction"
            ),
            key=("order_id",),
            codes={"channel": "wo_channel", "order_type": "order_type", "category_l1": "category_l1",
                   "is_repeat": "yes_no", "is_escalated": "yes_no", "satisfaction": "satisfaction"},
            pii={"content": "text"},
        ),
        Extract(
            "survey",
            _cols(
                "survey_id cons_no survey_date:date channel score_supply:int score_billing:int "
                "score_service:int score_channel:int score_overall:int comment"
            ),
            key=("survey_id",),
            codes={"channel": "survey_channel"},
            pii={"comment": "text"},
        ),
        Extract(
            "outage",
            _cols("event_id outage_type tg_id cons_no start_time:ts end_time:ts customers_affected:int "
                  "notified_in_advance"),
            key=("event_id",),
            codes={"outage_type": "outage_type", "notified_in_advance": "yes_no"},
        ),
        Extract(
            "cost",
            _cols("org_no billing_month marketing_cost:dec operating_cost:dec"),
            key=("org_no", "billing_month"),
        ),
    ]
}

# billing_month is text `YYYY-MM` in the extracts but must parse: it is checked like a date.
MONTH_COLUMNS = frozenset({"billing_month"})
