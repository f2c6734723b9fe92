"""The auditor and points held for people who have not joined (PointsLedger.issueToIdentities): issuance to a held
account is lawful, a registration takes its holding, the report lists what is still unclaimed (count, totals per
scheme, each holding by identity hash), and a held balance changed behind the contracts' back is caught."""
from __future__ import annotations

from eth_account import Account
from web3 import Web3

from ledger_node.domain import held_account_of

S1 = 1  # the audit city's scheme issued by issuer1 (conftest.py)


def hold(city, label: str, amount: int, ref: str):
    h = Web3.keccak(text=f"identity:{label}")
    city.send(city.issuer1, city["PointsLedger"].functions.issueToIdentities(
        S1, 0, [h], [amount], [Web3.keccak(text=ref)], []))
    return h


def test_heldThenClaimed_auditsClean_andTheReportListsWhatIsUnclaimed(audit_city, run_audit):
    c = audit_city
    joins, waits = hold(c, "joins", 30, "h-1"), hold(c, "waits", 12, "h-2")
    hold(c, "waits", 5, "h-3")
    person = Account.create().address
    c.send(c.onboarding, c["Membership"].functions.registerResident(person, joins))
    result = run_audit()
    report = result.report
    assert report["problems"] == [], report["problems"]
    holdings = report["holdings"]
    assert (holdings["count"], holdings["open"]) == (1, 1)
    assert holdings["totals"] == [{"scheme": S1, "points": 17}]
    (listed,) = holdings["listed"]
    assert listed["identityHash"] == "0x" + waits.hex() and listed["heldAccount"] == held_account_of(waits).lower()
    assert listed["points"] == [{"scheme": S1, "points": 17}]
    lines = {(line["account"], line["scheme"]): line["balance"] for line in report["merkle"]["lines"]}
    assert lines[(person.lower(), S1)] == 30  # the claimed points are the resident's in the attested balances


def test_aHeldBalanceChangedBehindTheContracts_isAProblem(audit_city, run_audit, tamper):
    c = audit_city
    waits = hold(c, "forged", 40, "f-1")
    held = held_account_of(waits)
    slot = tamper.slot("PointsLedger", "_holders", S1, held)
    tamper.write("PointsLedger", slot, tamper.read("PointsLedger", slot) + 1_000)
    report = run_audit().report
    assert report["status"] == "failed"
    assert any(held.lower() in str(p).lower() for p in report["problems"]), report["problems"]
