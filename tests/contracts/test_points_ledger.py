"""PointsLedger unit tests: test_<function>_<outcome>."""
from __future__ import annotations

from eth_account import Account

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
    assert not env.ledger.functions.isRefUsed(SCHEME, ref(1)).call()


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
    send(w3, env.ledger_operator, env.ledger.functions.burnFrom(SCHEME, a, 4, ref("burn")))
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == 6


def test_mintTo_ignoresCapAndQuota(w3, env):
    a = env.residents[0].address
    send(w3, env.ledger_operator, env.ledger.functions.mintTo(SCHEME, a, CAP * 3, ref("x")))
    assert env.ledger.functions.balanceOf(a, SCHEME).call() == CAP * 3
    assert env.ledger.functions.receivedToday(SCHEME, a).call() == 0


def test_setDayOffset_revertsWhenOutOfRange(w3, env):
    expect_revert(w3, env.consortium.address, env.ledger.functions.setDayOffset(15 * 3600),
                  "PointsLedgerInvalidDayOffset", (15 * 3600,))


def test_supportsInterface_erc1155(w3, env):
    f = env.ledger.functions
    assert f.supportsInterface(bytes.fromhex("d9b67a26")).call()
    assert f.supportsInterface(bytes.fromhex("0e89341c")).call()
    assert not f.supportsInterface(bytes.fromhex("ffffffff")).call()
