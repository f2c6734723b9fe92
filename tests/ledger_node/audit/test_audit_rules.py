"""The audit checks cited issuance against the published rules document the citation's hash names: an entry whose
reason code is no rule of that version, or whose amount its rule cannot give, is a violation with its evidence; a
cited version whose document the audit lacks is unverifiable; issuance citing nothing in a scheme that published
rules is a finding."""
from __future__ import annotations

import hashlib
import json

from web3 import Web3

from issuer_sdk.adapters import adapter_for
from issuer_sdk.adapters.mapping import canonical_json
from ledger_node.deploy.system import call

S1, S2 = 1, 2
VALUED = 1


def profile(name: str) -> tuple:
    return (name, name, "分", "points", "Test office", bytes.fromhex("2e7d32"), VALUED)


def publish(city, scheme: int, *documents: bytes) -> None:
    registry = city["SchemeRegistry"]
    city.govern([call(registry, "describeScheme", scheme, profile(f"scheme {scheme}")),
                 *[call(registry, "publishRules", scheme, hashlib.sha256(d).digest(), f"https://r.example/{scheme}/{k}")
                   for k, d in enumerate(documents, start=1)]])


def cite(city, issuer, scheme: int, version: int, items: list[tuple[int, int]], label: str):
    """A cited batch of (amount, reason) items to the city's residents; returns the receipt."""
    residents = [r.address for r in city.residents[:len(items)]]
    refs = [Web3.keccak(text=f"{label}-{i}") for i in range(len(items))]
    return city.send(issuer, city["PointsLedger"].functions.issueBatchCitingRules(
        scheme, version, residents, [a for a, _ in items], refs, [r for _, r in items]))


def volunteer_document() -> bytes:
    return canonical_json(adapter_for("volunteer").spec.rules_document())


def test_aSyntheticBadBatch_isFlaggedEntryByEntry_withItsEvidence(audit_city, run_audit):
    publish(audit_city, S1, volunteer_document())
    cite(audit_city, audit_city.issuer1, S1, 1, [(20, 1), (15, 9)], "good")  # 2 h care, 1.5 h other
    bad = cite(audit_city, audit_city.issuer1, S1, 1, [(300, 1), (10, 7), (240, 4)], "bad")
    audit_city.issue(audit_city.issuer1, S1, [audit_city.residents[0].address], 5, "uncited")

    result = run_audit()
    problems = [p for p in result.report["problems"]]
    assert sorted(p["code"] for p in problems) == ["amount-breaks-rule", "entry-cites-no-rule"], problems
    issued = audit_city["PointsLedger"].events.PointsIssued().process_receipt(bad)[0]
    tx = bad["transactionHash"].to_0x_hex()
    by_code = {p["code"]: p for p in problems}
    over = by_code["amount-breaks-rule"]
    assert (over["tx"], over["block"]) == (tx, bad["blockNumber"])
    ev = over["evidence"]
    assert (ev["logIndex"], ev["item"], ev["found"], ev["reason"], ev["version"]) == (issued["logIndex"], 0, 300, 1, 1)
    assert ev["ref"] == Web3.keccak(text="bad-0").to_0x_hex() and "at most 240" in ev["expected"]
    assert ev["rulesHash"] == hashlib.sha256(volunteer_document()).hexdigest()
    stray = by_code["entry-cites-no-rule"]["evidence"]
    assert (stray["item"], stray["reason"], stray["found"]) == (1, 7, 10)
    # the uncited batch after the rules were published is a finding, not a failure
    (finding,) = [f for f in result.report["findings"] if f["pattern"] == "uncited-issuance"]
    assert finding["evidence"]["scheme"] == S1 and finding["evidence"]["items"] == 1
    summary = {s["scheme"]: s for s in result.report["schemes"]}[S1]
    assert summary["rulesCited"] == {"1": 5} and summary["uncitedAfterRules"] == 1


def test_aCleanCitedHistory_auditsClean(audit_city, run_audit):
    publish(audit_city, S2, canonical_json(adapter_for("traffic").spec.rules_document()))
    cite(audit_city, audit_city.issuer2, S2, 1, [(5, 1), (50, 2), (17, 3)], "traffic")  # yield, clean month, trips
    result = run_audit()
    assert result.report["problems"] == [] and result.report["status"] == "clean", result.report
    assert {s["scheme"]: s for s in result.report["schemes"]}[S2]["rulesCited"] == {"1": 3}


def test_aCitedDocumentTheAuditLacks_isUnverifiable_untilGivenWithRules(audit_city, run_audit, tmp_path):
    document = {"format": "citypoints-adapter/1", "program": "parks", "scheme": S2, "rules_version": "parks-1",
                "fields": {}, "rules": {"tree": {"reason": 5, "points": 7, "when": {}}}}
    data = json.dumps(document).encode()  # not canonical: the audit hashes the file's bytes too
    publish(audit_city, S2, data)
    receipt = cite(audit_city, audit_city.issuer2, S2, 1, [(7, 5), (8, 5)], "parks")
    cite(audit_city, audit_city.issuer2, S2, 1, [(7, 5)], "parks-again")

    lacking = run_audit().report["problems"]
    assert [(p["kind"], p["code"]) for p in lacking] == [("unverifiable", "rules-document-differs")]  # once
    assert lacking[0]["tx"] == receipt["transactionHash"].to_0x_hex()
    assert lacking[0]["evidence"]["known"] == [adapter_for("traffic").rules_sha256]  # the shipped scheme-2 file

    (tmp_path / "parks.json").write_bytes(data)
    given = run_audit(rules_dirs=(tmp_path,)).report["problems"]
    assert [(p["code"], p["evidence"]["found"], p["evidence"]["expected"]) for p in given] == [
        ("amount-breaks-rule", 8, "tree: exactly 7 points")]
