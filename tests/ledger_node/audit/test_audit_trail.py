"""The auditor replays the identity-use trail (IdentityTrail): a use whose purpose does not fit the actor's role is a
violation; bulk access by one actor, access at night (local time by the configured UTC offset), a lookup for
issuance with no issuance after it, and residents' objections are findings with their evidence; the report lists the
objections. A trail of ordinary uses audits clean."""
from __future__ import annotations

import os

from eth_account import Account
from web3 import Web3

from ledger_node.audit.patterns import Thresholds
from ledger_node.domain import TRAIL_PURPOSE_CODES
from ledger_node.typed_data import sign, typed_data

S1 = 1  # the audit city's scheme issued by issuer1 (conftest.py)

LOOKUP, RECOVERY = TRAIL_PURPOSE_CODES["issuance-lookup"], TRAIL_PURPOSE_CODES["recovery-verification"]


def record(city, sender, entries):
    """entries: (resident, actor, purpose); each with a fresh request reference."""
    return city.send(sender, city["IdentityTrail"].functions.record(
        [(r, a, p, os.urandom(32)) for r, a, p in entries]))


def offset_for(city, local_hour: int, block="latest") -> int:
    """The UTC offset (hours) that puts `block` (by default the chain's latest) at `local_hour` local time."""
    utc_hour = (city.w3.eth.get_block(block)["timestamp"] % 86400) // 3600
    return (local_hour - utc_hour + 12) % 24 - 12


def of(report, pattern: str) -> list[dict]:
    return [f for f in report["findings"] if f["pattern"] == pattern]


def test_ordinaryUses_byDay_auditClean(audit_city, run_audit):
    c = audit_city
    r = [x.address for x in c.residents]
    record(c, c.onboarding, [(r[0], c.onboarding.address, RECOVERY), (r[1], c.onboarding.address, RECOVERY)])
    record(c, c.relayer, [(r[2], c.issuer1.address, LOOKUP)])
    c.issue(c.issuer1, S1, [r[2]], 10, "after-lookup")  # the lookup's issuance
    result = run_audit(thresholds=Thresholds(trail_utc_offset_h=offset_for(c, 12)))
    assert result.report["problems"] == [], result.report["problems"]
    assert result.report["status"] == "clean", result.report["findings"]
    assert result.report["identityTrail"] == {"entries": 3, "objections": []}


def test_bulkLookupByOneIssuer_nightAccess_andLookupsWithoutIssuance_areFlaggedWithEvidence(audit_city, run_audit):
    c = audit_city
    strangers = [Account.create().address for _ in range(30)]
    looked_up = record(c, c.relayer, [(s, c.issuer1.address, LOOKUP) for s in strangers])
    c.issue(c.issuer1, S1, [c.residents[3].address], 10, "unrelated")  # issuance to someone else answers nothing
    c.w3.provider.make_request("evm_increaseTime", [120])
    c.w3.provider.make_request("evm_mine", [])
    # the night is the lookups' hour (the latest block, 120 s on, may be in the next hour)
    night_offset = offset_for(c, 3, looked_up["blockNumber"])
    result = run_audit(thresholds=Thresholds(trail_bulk_residents=20, trail_lookup_window_s=60,
                                             trail_utc_offset_h=night_offset))
    report = result.report
    assert report["problems"] == [] and report["status"] == "warnings"
    (bulk,) = of(report, "trail-bulk-access")
    e = bulk["evidence"]
    assert e["actor"].lower() == c.issuer1.address.lower() and e["residents"] == 30
    assert len(e["sample"]) == 25 and {s.lower() for s in e["sample"]} <= {s.lower() for s in strangers}
    assert "30 residents" in bulk["message"]
    (night,) = of(report, "trail-odd-hours")
    assert night["evidence"]["uses"] == 30 and night["evidence"]["entries"][0]["localHour"] == 3
    assert night["evidence"]["entries"][0]["purpose"] == "issuance-lookup"
    missing = of(report, "trail-lookup-without-issuance")
    assert len(missing) == 30
    assert {f["evidence"]["resident"].lower() for f in missing} == {s.lower() for s in strangers}
    assert missing[0]["evidence"]["schemes"] == [S1] and missing[0]["evidence"]["tx"]
    # by day, with a long window, the same uses are only bulk access
    result = run_audit(thresholds=Thresholds(trail_bulk_residents=20, trail_utc_offset_h=offset_for(c, 12)))
    assert [f["pattern"] for f in result.report["findings"]] == ["trail-bulk-access"]


def test_purposeNotFittingTheActorsRole_isAViolation(audit_city, run_audit):
    c = audit_city
    # a relayer names the merchant as the actor of an issuance lookup: the chain lets it, the auditor does not
    record(c, c.relayer, [(c.residents[0].address, c.merchant.address, LOOKUP)])
    result = run_audit(thresholds=Thresholds(trail_utc_offset_h=offset_for(c, 12)))
    (problem,) = result.report["problems"]
    assert (problem["kind"], problem["code"]) == ("violation", "trail-purpose-role")
    assert problem["evidence"]["purpose"] == "issuance-lookup" and not result.report["ok"]


def test_residentsObjection_isListedInTheReport_andAFinding(audit_city, run_audit):
    c = audit_city
    resident = c.residents[4]
    record(c, c.onboarding, [(resident.address, c.onboarding.address, RECOVERY)])
    trail = c["IdentityTrail"]
    message = {"entryId": trail.functions.entryCount().call(), "resident": resident.address,
               "nonce": os.urandom(32), "deadline": c.w3.eth.get_block("latest")["timestamp"] + 600}
    signature = sign(resident, typed_data("TrailObjection", c.w3.eth.chain_id, trail.address, message))
    c.send(c.relayer, trail.functions.object(tuple(message.values()), signature))
    result = run_audit(thresholds=Thresholds(trail_utc_offset_h=offset_for(c, 12)))
    report = result.report
    assert report["ok"]
    (objection,) = report["identityTrail"]["objections"]
    assert objection["entryId"] == message["entryId"] and objection["byTheEntrysResident"]
    assert objection["entry"]["purpose"] == "recovery-verification"
    assert objection["entry"]["actor"].lower() == c.onboarding.address.lower()
    (finding,) = of(report, "trail-objection")
    assert "objected to by the entry's resident" in finding["message"]
    assert Web3.to_checksum_address(finding["evidence"]["resident"]) == resident.address
