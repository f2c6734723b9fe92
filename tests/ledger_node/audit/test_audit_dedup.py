"""The audit replays the ledger's dedup window of sequence numbers exactly, and proves that no issuer event id was
issued twice: one issued again under another number (two sequence books numbering the same event) is a violation."""
from __future__ import annotations

from web3 import Web3

from ledger_node.issuance_refs import WINDOW, sequenced_ref

S1 = 1


def batch(city, refs: list[bytes], amount: int = 5):
    residents = [city.residents[k % len(city.residents)].address for k in range(len(refs))]
    return city.send(city.issuer1, city["PointsLedger"].functions.issueBatch(S1, residents, [amount] * len(refs), refs))


def test_sequencedIssuanceWithRetriesAndAWindowTurn_auditsClean(audit_city, run_audit):
    event = lambda k: Web3.keccak(text=f"shift-{k}")  # noqa: E731
    refs = [sequenced_ref(42, k, event(k)) for k in range(30)]
    batch(audit_city, refs[:20])
    batch(audit_city, refs[10:])  # a retry overlapping the last batch: 10 skipped
    batch(audit_city, [sequenced_ref(42, WINDOW + 3, event(100))])  # the ring turns: numbers 0-223 fall behind
    batch(audit_city, [refs[5]])  # behind the window: skipped, and never issued twice
    result = run_audit()
    assert result.report["problems"] == []


def test_anEventIdIssuedUnderTwoNumbers_isAViolationNamingIt(audit_city, run_audit):
    event = Web3.keccak(text="ticket-77")
    batch(audit_city, [sequenced_ref(7, 0, event)])
    second = batch(audit_city, [sequenced_ref(9, 0, event)])  # another book's lane, the same event
    problems = run_audit().report["problems"]
    assert [p["code"] for p in problems] == ["ref-reissued"]
    assert problems[0]["tx"] == second["transactionHash"].to_0x_hex()
    assert problems[0]["evidence"]["ref"] == "0x" + sequenced_ref(9, 0, event).hex()
