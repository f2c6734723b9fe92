"""Each program's adapter (its mapping file): its rules, its rejections (each with a reason, none silent), its files
and push call.

The rule tests read records the way the programs export them; the push and file tests issue on the real node. The
expected amounts, refs and reasons are those the programmes' Python adapter classes gave before the mapping files
replaced them (the parity test of that change compared both over these records and 160,000 generated ones).
"""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from issuer_sdk import RecordRejected
from issuer_sdk.adapters import MAPPINGS_DIR, MappedAdapter, adapter_for, parse_mapping

RESIDENT = "0x" + "ab" * 20
CHECKSUMMED = "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
TOMORROW = (date.today() + timedelta(days=2)).isoformat()  # still ahead if the run crosses midnight after collection


def volunteer(**over):
    return {"record_id": "v-1", "resident": RESIDENT, "hours": "2.5", "confirmed_by": "org-7", "date": YESTERDAY,
            "activity": "care", **over}


def edited(program: str, old: str, new: str) -> MappedAdapter:
    """The programme's adapter with one rule changed in its mapping file."""
    text = (MAPPINGS_DIR / f"{program}.yaml").read_text()
    assert old in text
    return MappedAdapter(parse_mapping(text.replace(old, new)))


def rejection(adapter, record) -> str:
    with pytest.raises(RecordRejected) as info:
        adapter.convert(record)
    assert info.value.detail  # every rejection says why in words too
    return info.value.reason


# -- volunteer --------------------------------------------------------------------------------------------------

def test_volunteer_hoursTimesRateRoundedDown():
    item = adapter_for("volunteer").convert(volunteer(hours="2.55"))
    assert (item.amount, item.reason, item.ref, item.resident) == (25, 1, "volunteer:v-1", CHECKSUMMED)
    twelve = edited("volunteer", "reason: 1, points_per_unit: 10", "reason: 1, points_per_unit: 12")
    assert twelve.convert(volunteer(hours="0.25")).amount == 3


@pytest.mark.parametrize("over,reason", [
    ({"confirmed_by": ""}, "missing_field"),
    ({"confirmed_by": "   "}, "missing_field"),
    ({"hours": 2.5}, "inexact_number"),
    ({"hours": "two"}, "bad_hours"),
    ({"hours": "NaN"}, "bad_hours"),
    ({"hours": "0.1"}, "hours_out_of_range"),
    ({"hours": "25"}, "hours_out_of_range"),
    ({"activity": "partying"}, "unknown_activity"),
    ({"date": TOMORROW}, "future_date"),
    ({"date": "23/11/2026"}, "bad_date"),
    ({"resident": "0x1234"}, "bad_resident"),
    ({"resident": CHECKSUMMED.replace("B", "b", 1)}, "bad_resident"),  # a typo breaks the checksum
    ({"record_id": "has space"}, "bad_record_id"),
    ({"record_id": None}, "missing_field"),
])
def test_volunteer_rejectionsHaveReasons(over, reason):
    assert rejection(adapter_for("volunteer"), volunteer(**over)) == reason


def test_unknownProgram_isRefusedNamingTheKnownOnes():
    with pytest.raises(ValueError, match="volunteer"):
        adapter_for("parking")


# -- traffic ----------------------------------------------------------------------------------------------------

def test_traffic_kinds():
    a = adapter_for("traffic")
    base = {"record_id": "t-1", "resident": RESIDENT, "date": YESTERDAY}
    assert a.convert({**base, "kind": "pedestrian_yield"}).amount == 5
    assert a.convert({**base, "kind": "transit_trip", "trips": "3"}).amount == 3
    assert a.convert({**base, "kind": "transit_trip"}).amount == 1
    month = {"record_id": "t-2", "resident": RESIDENT, "kind": "violation_free_month", "month": "2026-01"}
    item = a.convert(month)
    assert (item.amount, item.reason) == (50, 2)
    # the same resident-month from another record id is the same ref: it cannot be awarded twice
    assert a.convert({**month, "record_id": "t-99"}).ref == item.ref
    assert rejection(a, {**month, "month": date.today().strftime("%Y-%m")}) == "month_not_over"
    assert rejection(a, {**month, "month": "2026-13"}) == "bad_month"
    assert rejection(a, {**base, "kind": "transit_trip", "trips": "1.5"}) == "bad_trips"
    assert rejection(a, {**base, "kind": "transit_trip", "trips": "201"}) == "trips_out_of_range"
    assert rejection(a, {**base, "kind": "speeding"}) == "unknown_kind"


# -- culture ----------------------------------------------------------------------------------------------------

def test_culture_kinds():
    a = adapter_for("culture")
    base = {"record_id": "c-1", "resident": RESIDENT, "date": YESTERDAY, "venue": "City Museum"}
    assert a.convert({**base, "kind": "museum_visit"}).amount == 10
    assert a.convert({**base, "kind": "library_loan"}).amount == 2
    assert a.convert({**base, "kind": "performance_ticket", "price": "129.90"}).amount == 12  # 12.99 -> 12
    assert a.convert({**base, "kind": "performance_ticket", "price": "3"}).amount == 1  # minimum
    assert rejection(a, {**base, "kind": "performance_ticket", "price": "0"}) == "free_ticket"
    assert rejection(a, {**base, "kind": "performance_ticket", "price": "1.234"}) == "bad_price"
    assert rejection(a, {**base, "kind": "performance_ticket"}) == "missing_field"
    assert rejection(a, {**base, "venue": ""}) == "missing_field"


# -- green ------------------------------------------------------------------------------------------------------

def test_green_kinds():
    a = edited("green", "reason: 14, points_per_unit: 10,", "reason: 14, points_per_unit: 12,")
    base = {"record_id": "g-1", "resident": RESIDENT, "date": YESTERDAY}
    assert a.convert({**base, "kind": "recycling", "category": "paper", "weight_kg": "1.75"}).amount == 3
    assert a.convert({**base, "kind": "recycling", "category": "e_waste", "weight_kg": "0.5"}).amount == 6
    trip = a.convert({**base, "kind": "low_carbon_trip", "mode": "bike", "distance_km": "7.9"})
    assert (trip.amount, trip.reason) == (15, 21)
    assert a.convert({**base, "kind": "low_carbon_trip", "mode": "walk", "distance_km": "99"}).amount == 100  # cap
    assert rejection(a, {**base, "kind": "recycling", "category": "paper", "weight_kg": "0.2"}) == "zero_points"
    assert rejection(a, {**base, "kind": "recycling", "category": "batteries", "weight_kg": "1"}) == \
        "unknown_category"
    assert rejection(a, {**base, "kind": "recycling", "category": "paper", "weight_kg": "-1"}) == \
        "weight_kg_out_of_range"
    assert rejection(a, {**base, "kind": "low_carbon_trip", "mode": "car", "distance_km": "5"}) == "unknown_mode"


# -- files and push, on the node --------------------------------------------------------------------------------

def test_readFile_csvAndJsonLines_everyRecordAccountedFor(tmp_path):
    csv_path = tmp_path / "volunteer.csv"
    csv_path.write_text("record_id,resident,hours,confirmed_by,date,activity\n"
                        f"v1,{RESIDENT},2.5,org,{YESTERDAY},care\n"
                        f"v2,{RESIDENT},abc,org,{YESTERDAY},care\n"
                        "\n"
                        f"v3,{RESIDENT},1,org\n"
                        f'v4,{RESIDENT},"1.5",org,{YESTERDAY},"events"\n')
    outcomes = list(adapter_for("volunteer").read_file(csv_path))
    assert [(o.line, o.rejected, o.reason) for o in outcomes] == [
        (2, False, None), (3, True, "bad_hours"), (5, True, "malformed_record"), (6, False, None)]
    assert outcomes[-1].offset == csv_path.stat().st_size
    assert [o.rule for o in outcomes] == ["care", None, None, "events"]  # the rule each issued line cites
    resumed = list(adapter_for("volunteer").read_file(csv_path, start_offset=outcomes[1].offset, start_line=3))
    assert [o.line for o in resumed] == [5, 6]

    jsonl = tmp_path / "green.jsonl"
    jsonl.write_text(json.dumps({"record_id": "g1", "resident": RESIDENT, "kind": "recycling", "category": "metal",
                                 "date": YESTERDAY}).replace("}", ', "weight_kg": 2.5}') + "\n"
                     + "{not json\n" + "[1, 2]\n")
    outcomes = list(adapter_for("green").read_file(jsonl))
    assert outcomes[0].issuance.amount == 10  # the JSON number 2.5 was read as Decimal, not float
    assert [o.reason for o in outcomes[1:]] == ["malformed_record", "malformed_record"]


def test_push_issuesOneRecordAndRefusesBadOnesBeforeSending(city):
    client = city.client()
    adapter = adapter_for("volunteer")
    record = volunteer(resident=city.residents[0], hours="3")
    assert adapter.push(client, record).status == "issued"
    assert adapter.push(client, record).status == "duplicate"
    with pytest.raises(RecordRejected):
        adapter.push(client, volunteer(resident=city.residents[0], hours=3.0, record_id="v-2"))
    assert city.balance(city.residents[0]) == 30


@pytest.mark.parametrize("program,record,points", [
    ("traffic", {"kind": "pedestrian_yield", "date": YESTERDAY}, 5),
    ("culture", {"kind": "performance_ticket", "price": "88.00", "date": YESTERDAY, "venue": "Opera"}, 8),
    ("green", {"kind": "low_carbon_trip", "mode": "metro", "distance_km": "12.5", "date": YESTERDAY}, 12),
])
def test_pushMany_issuesValidAndReturnsRejected(city, program, record, points):
    client = city.client()
    good = [{"record_id": f"r{i}", "resident": city.residents[i], **record} for i in range(3)]
    bad = [{**good[0], "record_id": "bad", "resident": "nobody"}]
    summary, rejected = adapter_for(program).push_many(client, good + bad)
    assert (summary.issued, [o.reason for o in rejected]) == (3, ["bad_resident"])
    assert [city.balance(r) for r in city.residents[:3]] == [points] * 3
