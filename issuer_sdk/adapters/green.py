"""Environmental: recycling by category and weight, low-carbon trips by mode and distance.

Record: record_id, resident, kind, date, and
- recycling: category, weight_kg (exact decimal)   -> floor(weight_kg x points_per_kg[category])
- low_carbon_trip: mode, distance_km (exact)        -> floor(distance_km x points_per_km[mode]), capped per trip
Reason codes: recycling 10 + category index, trips 20 + mode index (see the rule tables' order).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from issuer_sdk.adapters.base import Adapter, Rules, choice_field, date_field, decimal_field, floor_points
from issuer_sdk.errors import RecordRejected

KINDS = ("recycling", "low_carbon_trip")


@dataclass(frozen=True)
class GreenRules(Rules):
    points_per_kg: dict = field(default_factory=lambda: {
        "paper": Decimal(2), "plastic": Decimal(3), "metal": Decimal(4), "glass": Decimal(1),
        "e_waste": Decimal(10)})
    max_kg_per_record: Decimal = Decimal(500)
    points_per_km: dict = field(default_factory=lambda: {
        "walk": Decimal(2), "bike": Decimal(2), "bus": Decimal(1), "metro": Decimal(1)})
    max_km_per_trip: Decimal = Decimal(100)
    max_points_per_trip: int = 100


class GreenAdapter(Adapter):
    program = "green"
    default_scheme = 4
    rules_type = GreenRules
    required = ("record_id", "resident", "kind", "date")

    def build(self, record, record_id, resident=None):
        rules: GreenRules = self.rules
        kind = choice_field(record, "kind", KINDS)
        when = date_field(record, "date")
        if when > date.today():
            raise RecordRejected("future_date", f"date {when} is in the future")
        if kind == "recycling":
            category = choice_field(record, "category", rules.points_per_kg)
            kg = decimal_field(record, "weight_kg", minimum=Decimal(0), maximum=rules.max_kg_per_record, places=3)
            reason = 10 + list(rules.points_per_kg).index(category)
            return floor_points(kg * rules.points_per_kg[category]), reason, None
        mode = choice_field(record, "mode", rules.points_per_km)
        km = decimal_field(record, "distance_km", minimum=Decimal(0), maximum=rules.max_km_per_trip, places=3)
        reason = 20 + list(rules.points_per_km).index(mode)
        return min(floor_points(km * rules.points_per_km[mode]), rules.max_points_per_trip), reason, None
