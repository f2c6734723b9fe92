"""Redemption: consents, burn order, positions, refunds, and every way a consent must fail without effect."""
import math

from web3.logs import DISCARD
from eth_account import Account

from ledger_node import chain
from ledger_node.deploy.system import call

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import advance_time, expect_revert, now, ref, send, send_impersonated
from .conftest import RATE_1, RATE_2, START_1, START_2, parts_of


def test_redeem_burnsFirstSchemeAndRecordsWhatTheIssuerOwes(w3, value):
    city, resident = value.city, value.city.residents[0]
    receipt = send(w3, city.merchant, value.redeem_fn(value.consent(w3, resident, 2_000)))
    assert value.redeemed_parts(receipt) == [(SCHEME, 200, 2_000)]
    assert value.balances(resident) == (START_1 - 200, START_2)
    assert value.clearing.functions.merchantPosition(1, SCHEME, city.merchant.address).call() == 2_000
    assert value.clearing.functions.issuerNet(SCHEME).call() == 2_000
    assert value.clearing.functions.merchantNet(city.merchant.address).call() == -2_000


def test_redeem_spansSchemesRoundingPointsUpAgainstTheResident(w3, value):
    resident = value.city.residents[0]
    receipt = send(w3, value.city.merchant, value.redeem_fn(value.consent(w3, resident, 6_000)))
    need = math.ceil(1_000 * 10**6 / RATE_2)  # 30.00000003 -> 31 points
    assert value.redeemed_parts(receipt) == [(SCHEME, START_1, START_1 * RATE_1 // 10**6), (OTHER_SCHEME, need, 1_000)]
    assert value.balances(resident) == (0, START_2 - need)
    # the parts add up to the consent exactly
    assert sum(p[2] for p in value.redeemed_parts(receipt)) == 6_000


def test_redeem_followsThePreferredOrderTheResidentSigned(w3, value):
    from ledger_node.typed_data import sign, typed_data

    resident = value.city.residents[1]
    message = {"resident": resident.address, "schemes": [OTHER_SCHEME], "nonce": b"\x07" * 32,
               "deadline": now(w3) + 3600}
    signature = sign(resident, typed_data("PreferredOrder", w3.eth.chain_id, value.redemption.address, message))
    send(w3, value.city.relayer, value.redemption.functions.setPreferredOrder(
        resident.address, [OTHER_SCHEME], message["nonce"], message["deadline"], signature))
    assert value.redemption.functions.preferredOrder(resident.address).call() == [OTHER_SCHEME]
    receipt = send(w3, value.city.merchant, value.redeem_fn(value.consent(w3, resident, 1_000)))
    assert value.redeemed_parts(receipt)[0][0] == OTHER_SCHEME


def test_redeem_acceptsARelayerSubmittingForTheMerchant(w3, value):
    resident = value.city.residents[0]
    send(w3, value.city.relayer, value.redeem_fn(value.consent(w3, resident, 100)))
    assert value.balances(resident)[0] == START_1 - 10


def test_redeem_revertsWhenConsentUsedTwice(w3, value):
    resident = value.city.residents[0]
    c = value.consent(w3, resident, 100)
    send(w3, value.city.merchant, value.redeem_fn(c))
    before = value.balances(resident)
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "ResidentNonceUsed")
    assert value.balances(resident) == before


def test_redeem_revertsWhenConsentExpired(w3, value):
    resident = value.city.residents[0]
    c = value.consent(w3, resident, 100, deadline=now(w3) + 60)
    advance_time(w3, 120)
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "ResidentSignatureExpired")
    assert value.balances(resident) == (START_1, START_2)


def test_redeem_revertsWhenSignedByAnotherKey(w3, value):
    resident = value.city.residents[0]
    c = value.consent(w3, resident, 100, signer=Account.create())
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "ResidentSignatureInvalid", (resident.address,))
    assert value.balances(resident) == (START_1, START_2)


def test_redeem_revertsWhenConsentWasForAnotherAmount(w3, value):
    resident = value.city.residents[0]
    c = value.consent(w3, resident, 100)
    c["credits"] = 4_000  # a merchant inflating what the resident approved
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "ResidentSignatureInvalid")


def test_redeem_revertsForSuspendedMerchant(w3, value):
    city = value.city
    city.govern(w3, [call(city.membership, "setMerchantSuspended", city.merchant.address, True)])
    c = value.consent(w3, city.residents[0], 100)
    expect_revert(w3, city.merchant, value.redeem_fn(c), "RedemptionMerchantNotActive", (city.merchant.address,))
    assert not value.redemption.functions.nonceUsed(city.residents[0].address, c["nonce"]).call()


def test_redeem_revertsForUnregisteredMerchant(w3, value):
    stranger = value.city.stranger
    c = value.consent(w3, value.city.residents[0], 100, merchant=stranger)
    expect_revert(w3, stranger, value.redeem_fn(c), "RedemptionMerchantNotActive")


def test_redeem_revertsWhenSubmittedByAnotherParty(w3, value):
    c = value.consent(w3, value.city.residents[0], 100)
    expect_revert(w3, value.city.stranger, value.redeem_fn(c), "RedemptionNotSubmitter")


def test_redeem_revertsWhenPointsAreWorthTooLittle(w3, value):
    resident = value.city.residents[0]
    available = value.redemption.functions.availableCredits(resident.address).call()
    assert available == START_1 * RATE_1 // 10**6 + START_2 * RATE_2 // 10**6
    c = value.consent(w3, resident, available + 1)
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "RedemptionInsufficientCredits",
                  (resident.address, available + 1, available))
    assert value.balances(resident) == (START_1, START_2)


def test_redeem_acceptsAContractWalletsEip1271Signature(w3, value, session_operator):
    city = value.city
    owner = Account.create()
    wallet = chain.deploy_contract(w3, session_operator, "ContractWalletMock", owner.address)
    from ..helpers import identity, ref

    send(w3, city.onboarding, city.membership.functions.registerResident(wallet, identity("wallet")))
    send(w3, city.issuer, city.ledger.functions.issue(SCHEME, wallet, 100, ref("wallet")))

    class WalletResident:
        address = wallet

    c = value.consent(w3, WalletResident, 500, signer=owner)
    send(w3, city.merchant, value.redeem_fn(c))
    assert city.ledger.functions.balanceOf(wallet, SCHEME).call() == 50


def test_refund_partialThenFull_givesPointsBackLastPartFirst(w3, value):
    city, resident = value.city, value.city.residents[0]
    c = value.consent(w3, resident, 6_000)
    receipt = send(w3, city.merchant, value.redeem_fn(c))
    parts = value.redeemed_parts(receipt)
    rid = value.redemption.functions.redemptionIdOf(resident.address, c["nonce"]).call()
    r1 = send(w3, city.merchant, value.redemption.functions.refund(rid, resident.address, city.merchant.address,
                                                                    parts, 500))
    (ev,) = value.redemption.events.Refunded().process_receipt(r1, errors=DISCARD)
    assert parts_of(ev) == [(OTHER_SCHEME, 31 * 500 // 1_000, 500)]
    assert value.clearing.functions.merchantPosition(1, OTHER_SCHEME, city.merchant.address).call() == 500
    send(w3, city.merchant, value.redemption.functions.refund(rid, resident.address, city.merchant.address,
                                                             parts, 5_500))
    assert value.balances(resident) == (START_1, START_2)  # the full refund returns every point
    assert value.clearing.functions.merchantNet(city.merchant.address).call() == 0
    expect_revert(w3, city.merchant, value.redemption.functions.refund(
        rid, resident.address, city.merchant.address, parts, 1), "RedemptionRefundTooLarge", (rid, 1, 0))


def test_refund_revertsAfterTheWindow(w3, value):
    city, resident = value.city, value.city.residents[0]
    c = value.consent(w3, resident, 100)
    parts = value.redeemed_parts(send(w3, city.merchant, value.redeem_fn(c)))
    rid = value.redemption.functions.redemptionIdOf(resident.address, c["nonce"]).call()
    advance_time(w3, value.redemption.functions.refundWindow().call() + 1)
    expect_revert(w3, city.merchant, value.redemption.functions.refund(
        rid, resident.address, city.merchant.address, parts, 100), "RedemptionRefundWindowClosed")


def test_refund_revertsWithPartsThatAreNotTheRedemptions(w3, value):
    city, resident = value.city, value.city.residents[0]
    c = value.consent(w3, resident, 100)
    send(w3, city.merchant, value.redeem_fn(c))
    rid = value.redemption.functions.redemptionIdOf(resident.address, c["nonce"]).call()
    forged = [(SCHEME, 1_000, 100)]  # ask for more points back than were burned
    expect_revert(w3, city.merchant, value.redemption.functions.refund(
        rid, resident.address, city.merchant.address, forged, 100), "RedemptionPartsMismatch", (rid,))


def test_refund_revertsForOtherMerchants(w3, value):
    city, resident = value.city, value.city.residents[0]
    c = value.consent(w3, resident, 100)
    parts = value.redeemed_parts(send(w3, city.merchant, value.redeem_fn(c)))
    rid = value.redemption.functions.redemptionIdOf(resident.address, c["nonce"]).call()
    expect_revert(w3, city.stranger, value.redemption.functions.refund(
        rid, resident.address, city.merchant.address, parts, 100), "RedemptionNotSubmitter")


def _redeem(w3, value, resident, credits: int):
    """Redeem `credits` for `resident` at the city's merchant; returns (redemption id, parts)."""
    c = value.consent(w3, resident, credits)
    parts = value.redeemed_parts(send(w3, value.city.merchant, value.redeem_fn(c)))
    return value.redemption.functions.redemptionIdOf(resident.address, c["nonce"]).call(), parts


def _governed(w3, value, fn):
    send_impersonated(w3, value.city.consortium.address, fn)


def test_refund_afterTheSchemeWasPaused_restoresFrozenPointsAndReversesThePosition(w3, value):
    city, resident = value.city, value.city.residents[0]
    rid, parts = _redeem(w3, value, resident, 6_000)  # both schemes
    _governed(w3, value, city.ledger.functions.pauseScheme(SCHEME))
    receipt = send(w3, city.merchant, value.redemption.functions.refund(rid, resident.address, city.merchant.address,
                                                                         parts, 6_000))
    restored = city.ledger.events.PointsRestored().process_receipt(receipt, errors=DISCARD)
    assert {e["args"]["scheme"] for e in restored} == {SCHEME, OTHER_SCHEME}
    assert value.balances(resident) == (START_1, START_2)
    assert value.clearing.functions.merchantNet(city.merchant.address).call() == 0
    # the restored points of the paused scheme stay frozen: nothing moves there until it resumes (scheme 2
    # alone is worth 9,999 credit cents)
    expect_revert(w3, city.merchant, value.redeem_fn(value.consent(w3, resident, 10_000)),
                  "RedemptionInsufficientCredits")
    _governed(w3, value, city.ledger.functions.unpauseScheme(SCHEME))
    send(w3, city.merchant, value.redeem_fn(value.consent(w3, resident, 5_000)))
    assert value.balances(resident)[0] == 0


def test_refund_afterTheSchemeWasRetired_givesSpendablePointsBack(w3, value):
    city, resident = value.city, value.city.residents[0]
    rid, parts = _redeem(w3, value, resident, 2_000)
    assert parts == [(SCHEME, 200, 2_000)]
    _governed(w3, value, city.ledger.functions.retireScheme(SCHEME))
    expect_revert(w3, city.issuer, city.ledger.functions.issue(SCHEME, resident.address, 1, ref("after-retire")),
                  "PointsLedgerSchemeNotActive")
    send(w3, city.merchant, value.redemption.functions.refund(rid, resident.address, city.merchant.address, parts, 700))
    assert value.balances(resident)[0] == START_1 - 200 + 70
    assert value.clearing.functions.merchantPosition(1, SCHEME, city.merchant.address).call() == 1_300
    send(w3, city.merchant, value.redeem_fn(value.consent(w3, resident, 100)))  # retired points stay spendable
    assert value.balances(resident)[0] == START_1 - 200 + 70 - 10


def test_refund_waitsForTheGlobalPause(w3, value):
    city, resident = value.city, value.city.residents[0]
    rid, parts = _redeem(w3, value, resident, 100)
    _governed(w3, value, city.ledger.functions.pauseAll())
    fn = value.redemption.functions.refund(rid, resident.address, city.merchant.address, parts, 100)
    expect_revert(w3, city.merchant, fn, "PointsLedgerPaused")
    assert value.redemption.functions.redemption(rid).call()[2] == 0  # nothing refunded
    _governed(w3, value, city.ledger.functions.unpauseAll())
    send(w3, city.merchant, fn)
    assert value.balances(resident) == (START_1, START_2)


def test_refund_afterKeyRecovery_creditsTheNewKeyNeverTheOld(w3, value):
    city, old = value.city, value.city.residents[3]
    new = Account.create().address
    rid, parts = _redeem(w3, value, old, 6_000)
    m = city.membership.functions
    send(w3, city.onboarding, m.requestRecovery(old.address, new))
    advance_time(w3, m.recoveryNotice().call() + 1)
    send(w3, city.onboarding, m.completeRecovery(old.address))
    after_move = value.balances(new)
    # the merchant names the redemption's resident (the old key); the points go to the key that holds it now
    receipt = send(w3, city.merchant, value.redemption.functions.refund(rid, old.address, city.merchant.address,
                                                                         parts, 6_000))
    (ev,) = value.redemption.events.Refunded().process_receipt(receipt, errors=DISCARD)
    assert (ev["args"]["resident"], ev["args"]["creditedTo"]) == (old.address, new)
    assert value.balances(old) == (0, 0)
    assert value.balances(new) == (after_move[0] + parts[0][1], after_move[1] + parts[1][1]) == (START_1, START_2)
    assert {e["args"]["account"] for e in city.ledger.events.PointsRestored().process_receipt(
        receipt, errors=DISCARD)} == {new}
