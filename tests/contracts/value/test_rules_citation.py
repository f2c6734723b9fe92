"""PointsLedger.issueBatchCitingRules: an issuance batch names the version of its scheme's published rules it
applied; the ledger refuses a version the SchemeRegistry has not published for that scheme, and the citation is an
event (IssuanceRulesCited) the auditor and the indexer read before the batch's own events."""
from __future__ import annotations

from ledger_node.deploy.system import call

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import expect_revert, ref, send, send_impersonated

VALUED = 1
PROFILE = ("志愿服务积分", "Volunteer points", "分", "points", "Volunteer office", bytes.fromhex("2e7d32"), VALUED)
HASH_1, HASH_2 = b"\x11" * 32, b"\x22" * 32


def publish(w3, value, scheme: int, *hashes: bytes) -> None:
    registry = value.contracts["SchemeRegistry"]
    calls = [call(registry, "describeScheme", scheme, PROFILE)]
    calls += [call(registry, "publishRules", scheme, h, f"https://rules.example/{scheme}/v{k}.json")
              for k, h in enumerate(hashes, start=1)]
    value.city.govern(w3, calls)


def cite(value, version: int, label: str, *, scheme: int = SCHEME, n: int = 3, reasons=None):
    residents = [r.address for r in value.city.residents[:n]]
    return value.ledger.functions.issueBatchCitingRules(
        scheme, version, residents, [10] * n, [ref(f"{label}-{i}") for i in range(n)],
        reasons if reasons is not None else [1] * n)


def test_issueBatchCitingRules_refusesAVersionNotPublishedForTheScheme(w3, value):
    issuer = value.city.issuer
    expect_revert(w3, issuer, cite(value, 1, "none"), "PointsLedgerRulesNotPublished", (SCHEME, 1))
    publish(w3, value, SCHEME, HASH_1)
    expect_revert(w3, issuer, cite(value, 0, "zero"), "PointsLedgerRulesNotPublished", (SCHEME, 0))
    expect_revert(w3, issuer, cite(value, 2, "later"), "PointsLedgerRulesNotPublished", (SCHEME, 2))
    # another scheme's published version is not this scheme's
    expect_revert(w3, value.city.other_issuer, cite(value, 1, "other", scheme=OTHER_SCHEME),
                  "PointsLedgerRulesNotPublished", (OTHER_SCHEME, 1))
    assert value.ledger.functions.balanceOf(value.city.residents[0].address, SCHEME).call() == 500  # nothing issued


def test_issueBatchCitingRules_emitsTheCitationBeforeTheBatchsEvents(w3, value):
    publish(w3, value, SCHEME, HASH_1, HASH_2)
    receipt = send(w3, value.city.issuer, cite(value, 1, "v1", reasons=[1, 2, 9]))
    (cited,) = value.ledger.events.IssuanceRulesCited().process_receipt(receipt)
    (issued,) = value.ledger.events.PointsIssued().process_receipt(receipt)
    assert dict(cited["args"]) == {"scheme": SCHEME, "issuer": value.city.issuer.address, "rulesVersion": 1,
                                   "rulesHash": HASH_1}
    assert cited["logIndex"] < issued["logIndex"]
    assert list(issued["args"]["reasonCodes"]) == [1, 2, 9]
    assert value.ledger.functions.balanceOf(value.city.residents[0].address, SCHEME).call() == 510
    # an older published version may still be cited (a batch prepared under it), and the newest
    receipt = send(w3, value.city.issuer, cite(value, 2, "v2"))
    (cited,) = value.ledger.events.IssuanceRulesCited().process_receipt(receipt)
    assert (cited["args"]["rulesVersion"], cited["args"]["rulesHash"]) == (2, HASH_2)


def test_issueBatchCitingRules_retryOfACitedBatch_isSkippedLikeAnyRetry(w3, value):
    publish(w3, value, SCHEME, HASH_1)
    send(w3, value.city.issuer, cite(value, 1, "again"))
    receipt = send(w3, value.city.issuer, cite(value, 1, "again"))
    (issued,) = value.ledger.events.PointsIssued().process_receipt(receipt)
    assert list(issued["args"]["skipped"]) == [0, 1, 2] and issued["args"]["issuedAmount"] == 0


def test_issueBatchCitingRules_needsReasonCodesForEveryItem(w3, value):
    publish(w3, value, SCHEME, HASH_1)
    expect_revert(w3, value.city.issuer, cite(value, 1, "short", reasons=[1]), "PointsLedgerLengthMismatch")


def test_setSchemeRegistry_isGovernanceAndAnEvent(w3, value):
    ledger, registry = value.ledger, value.contracts["SchemeRegistry"]
    assert ledger.functions.schemeRegistry().call() == registry.address  # wired at bootstrap
    receipt = send_impersonated(w3, value.city.consortium.address, ledger.functions.setSchemeRegistry(
        "0x" + "00" * 20))
    assert ledger.events.SchemeRegistrySet().process_receipt(receipt)[0]["args"]["registry"] == "0x" + "00" * 20
    publish(w3, value, SCHEME, HASH_1)
    # no registry: nothing counts as published
    expect_revert(w3, value.city.issuer, cite(value, 1, "noreg"), "PointsLedgerRulesNotPublished", (SCHEME, 1))
    expect_revert(w3, value.city.stranger, ledger.functions.setSchemeRegistry(registry.address),
                  "ConsortiumGovernedUnauthorized")
