"""Volunteer service: hours confirmed by the organiser become points (default 1 hour = 10 points).

Record (CSV columns or JSON keys): record_id, resident, hours, confirmed_by, date, activity.
Points = floor(hours x points_per_hour). Hours are exact decimals ("2.5"), within min_hours..max_hours.
A shift nobody confirmed is rejected (`unconfirmed`); so is a date in the future.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from issuer_sdk.adapters.base import Adapter, Rules, choice_field, date_field, decimal_field, floor_points
from issuer_sdk.errors import RecordRejected


@dataclass(frozen=True)
class VolunteerRules(Rules):
    points_per_hour: Decimal = Decimal(10)
    min_hours: Decimal = Decimal("0.25")
    max_hours: Decimal = Decimal(24)
    # activity type -> reason code shown to the resident
    activities: dict = field(default_factory=lambda: {"care": 1, "teaching": 2, "environment": 3, "events": 4,
                                                      "other": 9})


class VolunteerAdapter(Adapter):
    program = "volunteer"
    default_scheme = 1
    rules_type = VolunteerRules
    required = ("record_id", "resident", "hours", "confirmed_by", "date", "activity")

    def build(self, record, record_id, resident=None):
        rules: VolunteerRules = self.rules
        if not str(record.get("confirmed_by", "")).strip():
            raise RecordRejected("unconfirmed", "the organiser has not confirmed these hours")
        hours = decimal_field(record, "hours", minimum=rules.min_hours, maximum=rules.max_hours)
        when = date_field(record, "date")
        if when > date.today():
            raise RecordRejected("future_date", f"date {when} is in the future")
        activity = choice_field(record, "activity", rules.activities)
        return floor_points(hours * rules.points_per_hour), int(rules.activities[activity]), None
