"""IssuerClient against the real node: issue, batches, duplicates, refusals, revoke, views."""
from __future__ import annotations

import pytest

from issuer_sdk import (CapExceeded, Issuance, InvalidIssuance, IssuerError, NotIssuer, QuotaExceeded,
                        ResidentNotRegistered, errors)

from isdk_helpers import SCHEME, TIGHT_CAP, TIGHT_QUOTA, TIGHT_SCHEME


def test_issue_issuesOnceAndReportsDuplicate(city):
    client = city.client()
    resident = city.residents[0]
    first = client.issue(resident, 25, "shift-1", reason=3)
    again = client.issue(resident, 25, "shift-1", reason=3)
    assert (first.status, first.balance_after) == ("issued", 25)
    assert again.status == "duplicate"
    assert client.balance(resident) == 25 == city.balance(resident)
    assert client.status("shift-1").used and not client.status("shift-2").used


def test_issueMany_batchesSkipsDuplicatesAndTotals(city):
    client = city.client(max_batch_items=7)
    items = [Issuance(city.residents[i % 5], 10 + i, f"r{i}") for i in range(30)]
    items.append(Issuance(city.residents[0], 999, "r3"))  # a ref used earlier in the same stream
    summary = client.issue_many(items, keep_results=True)
    assert (summary.batches, summary.items, summary.issued, summary.duplicates) == (5, 31, 30, 1)
    assert summary.issued_amount == sum(10 + i for i in range(30)) == city.supply()
    assert summary.results[-1].skipped == [2]  # the last batch is items 28, 29, 30: the duplicate is its third
    rerun = client.issue_many(items)
    assert (rerun.issued, rerun.duplicates, city.supply()) == (0, 31, summary.issued_amount)


def test_issueMany_withReasonCodesUsesReasonVariant(city):
    client = city.client()
    summary = client.issue_many([(city.residents[1], 5, "a", 1), (city.residents[2], 6, "b")], keep_results=True)
    assert summary.issued == 2
    logs = city.ledger.events.PointsIssued().process_receipt(
        city.ledger.w3.eth.get_transaction_receipt(summary.results[0].tx_hash))
    assert list(logs[0]["args"]["reasonCodes"]) == [1, 0]


def test_issue_quotaOverrunRaisesQuotaExceeded(city):
    client = city.client(TIGHT_SCHEME, city.tight_issuer)
    items = [Issuance(city.residents[i], TIGHT_CAP, f"q{i}") for i in range(TIGHT_QUOTA // TIGHT_CAP + 1)]
    with pytest.raises(QuotaExceeded) as info:
        client.issue_many(items)
    exc = info.value
    assert isinstance(exc, IssuerError) and type(exc).__name__ == "PointsLedgerIssuerDailyQuotaExceeded"
    assert exc.fields["quota"] == TIGHT_QUOTA and exc.attempted["operation"] == "issueBatch"
    assert exc.tx_hash and exc.summary.issued == 0
    assert city.supply(TIGHT_SCHEME) == 0  # all or nothing
    assert client.quota_remaining() == TIGHT_QUOTA


def test_issue_capOverrunRaisesCapExceeded(city):
    client = city.client(TIGHT_SCHEME, city.tight_issuer)
    client.issue(city.residents[0], TIGHT_CAP - 1, "c1")
    assert client.cap_remaining(city.residents[0]) == 1
    with pytest.raises(CapExceeded) as info:
        client.issue(city.residents[0], 2, "c2")
    assert info.value.fields["cap"] == TIGHT_CAP and info.value.attempted["ref"] == "c2"
    assert errors.by_name("PointsLedgerResidentDailyCapExceeded") is type(info.value)
    # the failed send left no stuck nonce
    assert client.issue(city.residents[0], 1, "c3").status == "issued"


def test_issue_refusalsByRole(city):
    with pytest.raises(NotIssuer):
        city.client(SCHEME, city.stranger).issue(city.residents[0], 1, "x")
    with pytest.raises(ResidentNotRegistered):
        city.client().issue(city.unregistered, 1, "y")


def test_issueMany_malformedItemSendsNothingOfItsBatch(city):
    client = city.client(max_batch_items=2)
    items = [Issuance(city.residents[0], 1, "m1"), Issuance(city.residents[0], 1, "m2"),
             Issuance(city.residents[0], 1, "m3"), Issuance(city.residents[0], 2.5, "m4")]
    with pytest.raises(InvalidIssuance):
        client.issue_many(items)
    assert city.supply() == 2


def test_revoke_takesBackOnceAndViewsAgree(city):
    client = city.client()
    resident = city.residents[3]
    client.issue(resident, 50, "e1")
    result = client.revoke(resident, 20, "e1-correction", reason=7)
    assert (result.status, result.balance_after) == ("revoked", 30)
    assert client.revoke(resident, 20, "e1-correction", reason=7).status == "duplicate"
    allowance = client.allowance(resident)
    assert allowance.quota_used == 50 and allowance.received == 50
    assert client.balance(resident) == 30


def test_stream_failedMiddleBatch_laterBatchesReportedAfterFailure(city):
    client = city.client(TIGHT_SCHEME, city.tight_issuer, max_batch_items=2, max_in_flight=4)
    r = city.residents
    items = [Issuance(r[0], 50, "b1-0"), Issuance(r[1], 50, "b1-1"),     # batch 1: fine
             Issuance(r[0], 60, "b2-0"), Issuance(r[2], 10, "b2-1"),     # batch 2: r0 over the cap of 100
             Issuance(r[3], 10, "b3-0"), Issuance(r[4], 10, "b3-1")]     # batch 3: fine, sent before 2 failed
    seen = []
    with pytest.raises(CapExceeded) as info:
        for batch in client.stream(items):
            seen.append((batch.items[0].ref, batch.after_failure))
    assert seen == [("b1-0", False), ("b3-0", True)]
    assert info.value.fields["resident"] == r[0] and info.value.attempted["firstRef"] == "b2-0"
    assert city.balance(r[0], TIGHT_SCHEME) == 50 and city.balance(r[2], TIGHT_SCHEME) == 0  # batch 2: nothing


def test_issueMany_underestimatedGas_isResentOnceWithEnough(city):
    client = city.client(max_batch_items=50, gas_per_item_bound=3_000, gas_per_item_floor=1_000, gas_base=30_000)
    summary = client.issue_many([Issuance(city.residents[i % 20], 1, f"gas-{i}") for i in range(100)])
    assert summary.issued == 100 and city.supply() == 100


def test_issueMany_outOfGasBatchMadeCheaperByAResentOne_isStillResent(city):
    """Batch 1 and 2 go to the same fresh residents with too little gas for fresh residents and both run out.
    Batch 1 is re-sent first, which makes the residents cheap to write: an estimate for batch 2 taken now is
    below what batch 2 had. Running out of gas still means more gas, never a report of a bare revert."""
    client = city.client(max_batch_items=20, max_in_flight=4, gas_per_item_bound=48_000)
    items = [Issuance(city.residents[i % 20], 1, f"oog-{i}") for i in range(60)]
    summary = client.issue_many(items)
    assert summary.issued == 60 and city.supply() == 60


def test_statuses_manyRefsInOrder_acrossBatches(city):
    client = city.client()
    issued = {7: "st-7", 640: "st-640", 1199: "st-1199"}  # in the first, second and third batch of 500
    client.issue_many(Issuance(city.residents[0], 1, ref) for ref in issued.values())
    refs = [issued.get(i, f"st-{i}") for i in range(1200)]
    found = client.statuses(refs)
    assert [s.ref for s in found] == refs
    assert [i for i, s in enumerate(found) if s.used] == sorted(issued)
    assert found[7].onchain_ref == client.status("st-7").onchain_ref and client.statuses([]) == []
