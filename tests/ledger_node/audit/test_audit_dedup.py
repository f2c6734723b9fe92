"""The audit replays the ledger's dedup window of sequence numbers exactly, and proves that no issuer event id was
issued twice: one issued again under another number (two sequence books numbering the same event) is a violation."""
from __future__ import annotations

import random

from web3 import Web3

from ledger_node.issuance_refs import WINDOW, SequenceWindow, sequenced_ref

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


def test_takeEach_answersAndLeavesTheWindowAsTakeOneAtATime():
    """The replay takes a batch's numbers in one pass (SequenceWindow.take_each): over runs of sequential numbers,
    retries, numbers behind the window, ring turns and lanes side by side, it answers as `take` does one at a time
    (the ledger's own rule, which the contracts' state machine holds the ledger to) and leaves the same words."""
    rng = random.Random(25)
    edges = (0, 1, 223, 224, 225, 447, 448, WINDOW - 1, WINDOW, WINDOW + 1, WINDOW + 224, 2 * WINDOW, 2**32 - 1)
    one, each = SequenceWindow(), SequenceWindow()
    for _ in range(200):
        lane = rng.choice((0, 1, 7, 2**32 - 1))
        start = rng.choice(edges) if rng.random() < 0.3 else rng.randrange(3 * WINDOW)
        counters = [min(start + k, 2**32 - 1) for k in range(rng.randrange(1, 600))]  # a batch, sequential
        counters += rng.sample(counters, min(len(counters), rng.randrange(3)))  # retried inside the batch
        refs = [sequenced_ref(rng.choice((lane, lane, 3)), c, rng.randbytes(32)) for c in counters]
        assert each.take_each(["0x" + r.hex() for r in refs]) == [one.take(r) for r in refs]
        assert each.words == one.words
