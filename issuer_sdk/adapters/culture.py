"""Cultural consumption: museum visits, library loans, performance tickets.

Record: record_id, resident, kind, date, venue, and for performance_ticket: price (exact decimal, in
currency units). museum_visit -> points_per_visit; library_loan -> points_per_loan;
performance_ticket -> floor(price x points_per_currency_unit), at least min_ticket_points.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from issuer_sdk.adapters.base import Adapter, Rules, choice_field, date_field, decimal_field, floor_points
from issuer_sdk.errors import RecordRejected

KINDS = {"museum_visit": 1, "library_loan": 2, "performance_ticket": 3}


@dataclass(frozen=True)
class CultureRules(Rules):
    points_per_visit: int = 10
    points_per_loan: int = 2
    points_per_currency_unit: Decimal = Decimal("0.1")
    min_ticket_points: int = 1
    max_ticket_price: Decimal = Decimal(5000)


class CultureAdapter(Adapter):
    program = "culture"
    default_scheme = 3
    rules_type = CultureRules
    required = ("record_id", "resident", "kind", "date", "venue")

    def build(self, record, record_id, resident=None):
        rules: CultureRules = self.rules
        kind = choice_field(record, "kind", KINDS)
        when = date_field(record, "date")
        if when > date.today():
            raise RecordRejected("future_date", f"date {when} is in the future")
        if kind == "museum_visit":
            return rules.points_per_visit, KINDS[kind], None
        if kind == "library_loan":
            return rules.points_per_loan, KINDS[kind], None
        price = decimal_field(record, "price", minimum=Decimal(0), maximum=rules.max_ticket_price, places=2)
        if price == 0:
            raise RecordRejected("free_ticket", "a free ticket earns no points")
        return max(floor_points(price * rules.points_per_currency_unit), rules.min_ticket_points), KINDS[kind], None
