"""PointsLedger unit tests: test_<function>_<outcome>."""
from __future__ import annotations

from eth_account import Account

from ledger_node.issuance_refs import SEQ_BITS, WINDOW, sequenced_ref

from .conftest import CAP, OTHER_SCHEME, SCHEME
from .helpers import advance_time, expect_revert, ref, send, send_impersonated


def _issued(env, receipt):
    return env.ledger.events.PointsIssued().process_receipt(receipt)[0]["args"]


def test_issue_creditsResidentAndEmitsEvents(w3, env):
    r = env.residents[0].address
    supply = env.ledger.functions.totalSupply(SCHEME).call()  # other tests' session set-up may hold points too
    receipt = send(w3, env.issuer, env.ledger.functions.issue(SCHEME, r, 40, ref(1)))
    assert env.ledger.functions.balanceOf(r, SCHEME).call() == 40
    assert env.ledger.functions.totalSupply(SCHEME).call() == supply + 40
    transfer = env.ledger.events.TransferSingle().process_receipt(receipt)[0]["args"]
    assert (transfer["from"], transfer["to"], transfer["id"], transfer["value"]) == ("0x" + "00" * 20, r, SCHEME, 40)
    event = _issued(env, receipt)
    assert list(event["balancesAfter"]) == [40] and event["quotaUsedAfter"] == 40 and list(event["skipped"]) == []


def test_issueBatch_skipsDuplicateRefs(w3, env):
    a, b = env.residents[0].address, env.residents[1].address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 10, ref(1)))
    receipt = send(w3, env.issuer, env.ledger.functions.issueBatch(SCHEME, [a, b, b], [10, 20, 30],
                                                                    [ref(1), ref(2), ref(2)]))
    assert list(_issued(env, receipt)["skipped"]) == [0, 2]
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == 10
    assert env.ledger.functions.balanceOf(b, SCHEME).call() == 20


def test_issueBatch_dedupIsPerScheme(w3, env):
    a = env.residents[0].address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 10, ref(1)))
    send(w3, env.other_issuer, env.ledger.functions.issue(OTHER_SCHEME, a, 10, ref(1)))
    assert env.ledger.functions.balanceOf(a, OTHER_SCHEME).call() == 10


UNUSED, USED, BEHIND = 0, 1, 2  # IPointsLedger.RefState


def seq(lane: int, counter: int, label: str | int = "") -> bytes:
    return sequenced_ref(lane, counter, ref(f"{lane}/{counter}/{label}"))


def test_issueBatch_sequentialRefsWriteOneDedupWordPerWordOfNumbers(w3, env):
    """State grows with issuers, not items: 448 sequential numbers of one lane cost two dedup words, so a batch of
    them costs far less than a batch of the same items under unrelated refs (a word each)."""
    a = env.residents[0].address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 1, seq(7, 10_000)))  # the holder's record exists
    n = 200
    sequential = send(w3, env.issuer, env.ledger.functions.issueBatch(
        SCHEME, [a] * n, [1] * n, [seq(7, k) for k in range(n)]))
    scattered = send(w3, env.issuer, env.ledger.functions.issueBatch(
        SCHEME, [a] * n, [1] * n, [seq(1000 + k, 0) for k in range(n)]))  # a lane each: a new word each
    assert list(_issued(env, sequential)["skipped"]) == [] and list(_issued(env, scattered)["skipped"]) == []
    saved = (scattered["gasUsed"] - sequential["gasUsed"]) / n
    assert saved > 15_000  # about a new storage slot (22,100 gas) an item
    assert (sequential["gasUsed"] - 21_000) / n < 20_000  # issue 25's floor for existing holders
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == 1 + 2 * n


def test_refState_followsTheWindow(w3, env):
    a = env.residents[0].address
    state = lambda r: env.ledger.functions.refState(SCHEME, r).call()  # noqa: E731
    first = seq(3, 5)
    assert state(first) == UNUSED
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 1, first))
    assert state(first) == USED
    assert env.ledger.functions.refState(OTHER_SCHEME, first).call() == UNUSED  # per scheme
    receipt = send(w3, env.issuer_b, env.ledger.functions.issue(SCHEME, a, 1, first))  # the scheme's, not the account's
    assert list(_issued(env, receipt)["skipped"]) == [0]
    assert env.ledger.functions.REF_WINDOW().call() == WINDOW == 57_344
    # a number one window on uses the same ring word: the older word's numbers fall behind the window
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 1, seq(3, 5 + WINDOW)))
    assert state(first) == BEHIND and state(seq(3, 6)) == BEHIND and state(seq(3, 5 + WINDOW)) == USED
    assert state(seq(3, 5 + SEQ_BITS)) == UNUSED  # the next word of the ring is untouched


def test_issueBatch_skipsNumbersBehindTheWindowAndIssuesTheRest(w3, env):
    a = env.residents[0].address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 1, seq(4, 2 * WINDOW)))
    before = env.ledger.functions.balanceOf(a, SCHEME).call()
    receipt = send(w3, env.issuer, env.ledger.functions.issueBatch(
        SCHEME, [a, a, a], [10, 20, 30], [seq(4, 0), seq(4, 2 * WINDOW + 1), seq(4, WINDOW)]))
    assert list(_issued(env, receipt)["skipped"]) == [0, 2]  # both behind: never issued, however often resent
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == before + 20


def test_issueBatch_sameNumberWithAnotherEventIdIsSkipped(w3, env):
    """The chain dedups the issuer's sequence number; which event id rides with it is the issuer's (the SDK's book)
    and the auditor's business."""
    a = env.residents[0].address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 5, seq(9, 1, "x")))
    receipt = send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 5, seq(9, 1, "y")))
    assert list(_issued(env, receipt)["skipped"]) == [0]


def test_revoke_sharesTheIssuersSequenceNumbers(w3, env):
    a = env.residents[0].address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 50, seq(11, 1)))
    receipt = send(w3, env.issuer, env.ledger.functions.revoke(SCHEME, a, 10, seq(11, 1), 0))
    assert env.ledger.events.RevocationSkipped().process_receipt(receipt)
    send(w3, env.issuer, env.ledger.functions.revoke(SCHEME, a, 10, seq(11, 2), 0))
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == 40
    receipt = send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 5, seq(11, 2)))
    assert list(_issued(env, receipt)["skipped"]) == [0]


def test_issue_revertsWhenOverResidentCap(w3, env):
    a = env.residents[0].address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, CAP - 5, ref(1)))
    args = expect_revert(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 6, ref(2)),
                         "PointsLedgerResidentDailyCapExceeded")
    assert args[2] == a and args[4:] == (CAP - 5, 6, CAP)


def test_issueBatch_revertsWholeBatchWhenOverQuota(w3, env):
    send_impersonated(w3, env.consortium.address, env.ledger.functions.setIssuerDailyQuota(SCHEME, 100))
    a, b = env.residents[0].address, env.residents[1].address
    expect_revert(w3, env.issuer, env.ledger.functions.issueBatch(SCHEME, [a, b], [60, 41], [ref(1), ref(2)]),
                  "PointsLedgerIssuerDailyQuotaExceeded")
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == 0
    assert env.ledger.functions.refState(SCHEME, ref(1)).call() == UNUSED


def test_issue_capResetsNextDay(w3, env):
    a = env.residents[0].address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, CAP, ref(1)))
    advance_time(w3, 86400)
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, CAP, ref(2)))
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == 2 * CAP


def test_issue_revertsForUnregisteredAccount(w3, env):
    stranger = Account.create().address
    expect_revert(w3, env.issuer, env.ledger.functions.issue(SCHEME, stranger, 1, ref(1)), "PointsLedgerNotResident",
                  (stranger,))


def test_issue_revertsForIssuerOfAnotherScheme(w3, env):
    expect_revert(w3, env.other_issuer, env.ledger.functions.issue(SCHEME, env.residents[0].address, 1, ref(1)),
                  "PointsLedgerNotIssuer", (SCHEME, env.other_issuer.address))


def test_issue_revertsWhenSchemePaused(w3, env):
    send_impersonated(w3, env.consortium.address, env.ledger.functions.pauseScheme(SCHEME))
    expect_revert(w3, env.issuer, env.ledger.functions.issue(SCHEME, env.residents[0].address, 1, ref(1)),
                  "PointsLedgerSchemeNotActive", (SCHEME, 2))


def test_issue_revertsWhenZeroAmount(w3, env):
    expect_revert(w3, env.issuer, env.ledger.functions.issue(SCHEME, env.residents[0].address, 0, ref(1)),
                  "PointsLedgerZeroAmount", (0,))


def test_issueBatchWithReason_revertsOnLengthMismatch(w3, env):
    a = env.residents[0].address
    expect_revert(w3, env.issuer, env.ledger.functions.issueBatchWithReason(SCHEME, [a], [1], [ref(1)], []),
                  "PointsLedgerLengthMismatch")


def test_revoke_recordsCorrectionAndSkipsRetry(w3, env):
    a = env.residents[0].address
    supply = env.ledger.functions.totalSupply(SCHEME).call()
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 50, ref(1)))
    receipt = send(w3, env.issuer, env.ledger.functions.revoke(SCHEME, a, 20, ref("fix-1"), 9))
    event = env.ledger.events.PointsRevoked().process_receipt(receipt)[0]["args"]
    assert (event["balanceAfter"], event["reasonCode"], event["totalSupplyAfter"]) == (30, 9, supply + 30)
    retry = send(w3, env.issuer, env.ledger.functions.revoke(SCHEME, a, 20, ref("fix-1"), 9))
    assert env.ledger.events.RevocationSkipped().process_receipt(retry)
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == 30


def test_revoke_revertsWhenOverBalance(w3, env):
    a = env.residents[0].address
    expect_revert(w3, env.issuer, env.ledger.functions.revoke(SCHEME, a, 1, ref(1), 0),
                  "PointsLedgerInsufficientBalance", (SCHEME, a, 0, 1))


def test_safeTransferFrom_revertsNonTransferable(w3, env):
    a, b = env.residents[0].address, env.residents[1].address
    expect_revert(w3, env.issuer, env.ledger.functions.safeTransferFrom(a, b, SCHEME, 1, b""),
                  "PointsLedgerNonTransferable")


def test_pauseAll_blocksIssuanceUntilUnpaused(w3, env):
    a = env.residents[0].address
    send_impersonated(w3, env.consortium.address, env.ledger.functions.pauseAll())
    expect_revert(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 1, ref(1)), "PointsLedgerPaused")
    send_impersonated(w3, env.consortium.address, env.ledger.functions.unpauseAll())
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 1, ref(1)))


def test_retireScheme_allowsBurnButNotIssue(w3, env):
    a = env.residents[0].address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 10, ref(1)))
    send_impersonated(w3, env.consortium.address, env.ledger.functions.retireScheme(SCHEME))
    expect_revert(w3, env.issuer, env.ledger.functions.issue(SCHEME, a, 1, ref(2)), "PointsLedgerSchemeNotActive")
    send(w3, env.ledger_operator, env.ledger.functions.spend(SCHEME, a, 4, RATE, 4 * RATE, ref("burn")))
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == 6


def test_mintValue_ignoresCapAndQuota(w3, env):
    a = env.residents[0].address
    send(w3, env.ledger_operator, env.ledger.functions.mintValue(SCHEME, a, CAP * 3 * RATE, RATE, ref("x")))
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == CAP * 3
    assert env.ledger.functions.receivedToday(SCHEME, a).call() == 0
    assert env.ledger.functions.changeOf(a, SCHEME).call() == 0


# ---- exact change: spend, mintValue, restoreValue, changeOf (value units: credit cents x 1e6) ----------------

RATE = 10 * 10**6  # 10 credit cents a point


def _change_events(env, receipt) -> list[tuple]:
    return [(e["args"]["scheme"], e["args"]["account"], e["args"]["operator"], e["args"]["changeBefore"],
             e["args"]["changeAfter"], e["args"]["ref"]) for e in env.ledger.events.ChangeUpdated().process_receipt(receipt)]


def test_spend_burnsPointsTakesTheValueAndKeepsTheRestAsChange(w3, env):
    a, f = env.residents[0].address, env.ledger.functions
    send(w3, env.issuer, f.issue(SCHEME, a, 10, ref(1)))
    supply = f.totalSupply(SCHEME).call()
    receipt = send(w3, env.ledger_operator, f.spend(SCHEME, a, 3, RATE, 25 * 10**6, ref("pay")))  # 30 cents for 25
    assert f.balanceOf(a, SCHEME).call() == 7 and f.totalSupply(SCHEME).call() == supply - 3
    assert f.changeOf(a, SCHEME).call() == 5 * 10**6
    burned = env.ledger.events.PointsBurned().process_receipt(receipt)[0]["args"]
    assert (burned["amount"], burned["balanceAfter"]) == (3, 7)
    assert _change_events(env, receipt) == [(SCHEME, a, env.ledger_operator.address, 0, 5 * 10**6, ref("pay"))]
    # change alone pays (no point burned): 4 of the 5 cents
    receipt = send(w3, env.ledger_operator, f.spend(SCHEME, a, 0, RATE, 4 * 10**6, ref("pay2")))
    assert not env.ledger.events.PointsBurned().process_receipt(receipt)
    assert _change_events(env, receipt) == [(SCHEME, a, env.ledger_operator.address, 5 * 10**6, 10**6, ref("pay2"))]
    assert (f.balanceOf(a, SCHEME).call(), f.changeOf(a, SCHEME).call()) == (7, 10**6)
    # the change is spent first: 1 cent of change and 2 points pay 21 cents, nothing left
    send(w3, env.ledger_operator, f.spend(SCHEME, a, 2, RATE, 21 * 10**6, ref("pay3")))
    assert (f.balanceOf(a, SCHEME).call(), f.changeOf(a, SCHEME).call()) == (5, 0)
    assert f.changeOf(a, OTHER_SCHEME).call() == 0  # change is per scheme


def test_spend_revertsWhenThePointsAndChangeAreWorthTooLittle(w3, env):
    a, f = env.residents[0].address, env.ledger.functions
    send(w3, env.issuer, f.issue(SCHEME, a, 10, ref(1)))
    expect_revert(w3, env.ledger_operator, f.spend(SCHEME, a, 2, RATE, 20 * 10**6 + 1, ref("short")),
                  "PointsLedgerValueShort", (SCHEME, a, 20 * 10**6, 20 * 10**6 + 1))
    expect_revert(w3, env.ledger_operator, f.spend(SCHEME, a, 11, RATE, 10**6, ref("over")),
                  "PointsLedgerInsufficientBalance", (SCHEME, a, 10, 11))
    expect_revert(w3, env.ledger_operator, f.spend(SCHEME, a, 0, RATE, 0, ref("zero")), "PointsLedgerZeroAmount")
    assert (f.balanceOf(a, SCHEME).call(), f.changeOf(a, SCHEME).call()) == (10, 0)


def test_mintValue_mintsWholePointsWithTheChangeAndKeepsTheRest(w3, env):
    a, f = env.residents[0].address, env.ledger.functions
    send(w3, env.issuer, f.issue(SCHEME, a, 10, ref(1)))
    send(w3, env.ledger_operator, f.spend(SCHEME, a, 1, RATE, 3 * 10**6, ref("pay")))  # 7 cents of change
    receipt = send(w3, env.ledger_operator, f.mintValue(SCHEME, a, 15 * 10**6, RATE, ref("buy")))  # 7 + 15 = 22
    minted = env.ledger.events.PointsMinted().process_receipt(receipt)[0]["args"]
    assert (minted["amount"], minted["balanceAfter"]) == (2, 11)
    assert _change_events(env, receipt) == [(SCHEME, a, env.ledger_operator.address, 7 * 10**6, 2 * 10**6,
                                             ref("buy"))]
    # less than a point: only the change grows, no point and no TransferSingle
    receipt = send(w3, env.ledger_operator, f.mintValue(SCHEME, a, 3 * 10**6, RATE, ref("buy2")))
    assert not env.ledger.events.TransferSingle().process_receipt(receipt)
    assert (f.balanceOf(a, SCHEME).call(), f.changeOf(a, SCHEME).call()) == (11, 5 * 10**6)


def test_mintValue_revertsForAPausedSchemeButRestoreValueGivesBack(w3, env):
    a, f = env.residents[0].address, env.ledger.functions
    send_impersonated(w3, env.consortium.address, f.pauseScheme(SCHEME))
    expect_revert(w3, env.ledger_operator, f.mintValue(SCHEME, a, 25 * 10**6, RATE, ref("m")),
                  "PointsLedgerSchemeNotActive")
    receipt = send(w3, env.ledger_operator, f.restoreValue(SCHEME, a, 25 * 10**6, RATE, ref("r")))
    restored = env.ledger.events.PointsRestored().process_receipt(receipt)[0]["args"]
    assert restored["amount"] == 2
    assert (f.balanceOf(a, SCHEME).call(), f.changeOf(a, SCHEME).call()) == (2, 5 * 10**6)


def test_mintValue_revertsForAnUnregisteredAccountEvenBelowAPoint(w3, env):
    stranger, f = Account.create().address, env.ledger.functions
    for value in (10**6, 25 * 10**6):  # change only; points and change
        expect_revert(w3, env.ledger_operator, f.mintValue(SCHEME, stranger, value, RATE, ref("s")),
                      "PointsLedgerNotResident", (stranger,))
    assert f.changeOf(stranger, SCHEME).call() == 0


def test_mintValue_revertsWhenTheChangeWouldNotFitItsField(w3, env):
    a, f = env.residents[0].address, env.ledger.functions
    big_rate = 2**64  # no rule of the value contracts gets near; the field holds 2^63 - 1
    expect_revert(w3, env.ledger_operator, f.mintValue(SCHEME, a, 2**63, big_rate, ref("o")),
                  "PointsLedgerChangeOverflow", (SCHEME, a, 2**63))
    send(w3, env.ledger_operator, f.mintValue(SCHEME, a, 2**63 - 1, big_rate, ref("fits")))
    assert f.changeOf(a, SCHEME).call() == 2**63 - 1 and f.balanceOf(a, SCHEME).call() == 0


def test_issue_keepsTheChangeAndCountsReceiptsIn64Bits(w3, env):
    """The change shares the holder's slot with the balance and today's receipts: issuance leaves it alone, and a
    daily cap above 2^64 - 1 is read as 2^64 - 1, more than any day's issuance can reach below it (no cap)."""
    a, f = env.residents[0].address, env.ledger.functions
    send_impersonated(w3, env.consortium.address, f.setIssuerDailyQuota(SCHEME, 2**96 - 1))
    send_impersonated(w3, env.consortium.address, f.setResidentDailyCap(SCHEME, 2**96 - 1))
    send(w3, env.issuer, f.issue(SCHEME, a, 10, ref(1)))
    send(w3, env.ledger_operator, f.spend(SCHEME, a, 1, RATE, 3 * 10**6, ref("pay")))  # 7 cents of change
    send(w3, env.issuer, f.issue(SCHEME, a, 2**64 - 12, ref(2)))  # today's receipts: 2^64 - 2
    assert f.receivedToday(SCHEME, a).call() == 2**64 - 2
    send(w3, env.issuer, f.issue(SCHEME, a, 1, ref(3)))
    assert f.receivedToday(SCHEME, a).call() == 2**64 - 1  # the most a day's receipts field holds
    assert f.balanceOf(a, SCHEME).call() == 2**64 - 1 - 1
    assert f.changeOf(a, SCHEME).call() == 7 * 10**6  # untouched by the receipts beside it
    args = expect_revert(w3, env.issuer, f.issue(SCHEME, a, 1, ref(4)), "PointsLedgerResidentDailyCapExceeded")
    assert args[4:] == (2**64 - 1, 1, 2**64 - 1)  # the cap as read: clamped, so the field never wraps into change
    advance_time(w3, 86400)
    send(w3, env.issuer, f.issue(SCHEME, a, 5, ref(5)))
    assert f.receivedToday(SCHEME, a).call() == 5 and f.changeOf(a, SCHEME).call() == 7 * 10**6


def test_moveAccount_movesTheChangeWithThePoints(w3, env):
    old, new, f = env.residents[0].address, Account.create().address, env.ledger.functions
    send(w3, env.issuer, f.issue(SCHEME, old, 10, ref(1)))
    send(w3, env.ledger_operator, f.spend(SCHEME, old, 3, RATE, 25 * 10**6, ref("pay")))
    send(w3, env.onboarding, env.membership.functions.requestRecovery(old, new))
    receipt = send_impersonated(w3, env.consortium.address, env.membership.functions.approveRecovery(old))
    moved = env.ledger.events.AccountMoved().process_receipt(receipt)[0]["args"]
    assert (moved["account"], moved["newAccount"], moved["balance"]) == (old, new, 7)
    assert (f.balanceOf(new, SCHEME).call(), f.changeOf(new, SCHEME).call()) == (7, 5 * 10**6)
    assert (f.balanceOf(old, SCHEME).call(), f.changeOf(old, SCHEME).call()) == (0, 0)


def test_setDayOffset_revertsWhenOutOfRange(w3, env):
    expect_revert(w3, env.consortium.address, env.ledger.functions.setDayOffset(15 * 3600),
                  "PointsLedgerInvalidDayOffset", (15 * 3600,))


def test_supportsInterface_erc1155(w3, env):
    f = env.ledger.functions
    assert f.supportsInterface(bytes.fromhex("d9b67a26")).call()
    assert f.supportsInterface(bytes.fromhex("0e89341c")).call()
    assert not f.supportsInterface(bytes.fromhex("ffffffff")).call()
