"""Traffic safety: yielding to pedestrians, violation-free months, public-transport trips.

Record: record_id, resident, kind, and per kind:
- pedestrian_yield: date                      -> points_per_yield
- violation_free_month: month (YYYY-MM)        -> points_per_clean_month, once per resident and month
  (its ref is the resident and month, not the record id, so two exports cannot both award one month;
  only a month that has ended counts)
- transit_trip: date, trips (default 1)       -> trips x points_per_trip, at most max_trips_per_record
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from issuer_sdk.adapters.base import Adapter, Rules, choice_field, date_field, int_field
from issuer_sdk.errors import RecordRejected

KINDS = {"pedestrian_yield": 1, "violation_free_month": 2, "transit_trip": 3}  # kind -> reason code


@dataclass(frozen=True)
class TrafficRules(Rules):
    points_per_yield: int = 5
    points_per_clean_month: int = 50
    points_per_trip: int = 1
    max_trips_per_record: int = 200


class TrafficAdapter(Adapter):
    program = "traffic"
    default_scheme = 2
    rules_type = TrafficRules
    required = ("record_id", "resident", "kind")

    def build(self, record, record_id, resident=None):
        rules: TrafficRules = self.rules
        kind = choice_field(record, "kind", KINDS)
        if kind == "violation_free_month":
            month = str(record.get("month") or "").strip()
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
                raise RecordRejected("bad_month", f"month {month!r} is not YYYY-MM")
            if month >= date.today().strftime("%Y-%m"):
                raise RecordRejected("month_not_over", f"month {month} has not ended")
            resident = str(record["resident"]).strip().lower()
            return rules.points_per_clean_month, KINDS[kind], f"traffic:clean-month:{resident}:{month}"
        when = date_field(record, "date")
        if when > date.today():
            raise RecordRejected("future_date", f"date {when} is in the future")
        if kind == "pedestrian_yield":
            return rules.points_per_yield, KINDS[kind], None
        trips = int_field(record, "trips", minimum=1, maximum=rules.max_trips_per_record, default=1)
        return trips * rules.points_per_trip, KINDS[kind], None
