"""Redemption: consents with their plans, exact change, positions, refunds, and every way a consent must fail
without effect. (The rules of exact change themselves: test_exact_change.py.)"""
import pytest
from web3.logs import DISCARD
from eth_account import Account

from ledger_node import chain
from ledger_node.deploy.system import call

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import advance_time, expect_revert, now, ref, send, send_impersonated
from ..test_gas import _slots
from ledger_node.redemption_plan import NotEnoughValue

from .conftest import RATE_1, RATE_2, START_1, START_2, part_values, parts_of


def test_redeem_burnsFirstSchemeAndRecordsWhatTheIssuerOwes(w3, value):
    city, resident = value.city, value.city.residents[0]
    receipt = send(w3, city.merchant, value.redeem_fn(value.consent(w3, resident, 2_000)))
    assert value.redeemed_parts(receipt) == [(SCHEME, 200, 2_000)]
    assert value.balances(resident) == (START_1 - 200, START_2)
    assert value.clearing.functions.merchantPosition(1, SCHEME, city.merchant.address).call() == 2_000
    assert value.issuer_net(SCHEME) == 2_000
    assert value.merchant_net(city.merchant.address) == -2_000


def test_redeem_spansSchemesTakingExactlyThePriceAndKeepingTheRestAsChange(w3, value):
    resident = value.city.residents[0]
    c = value.consent(w3, resident, 6_000)
    event = value.redeemed(send(w3, value.city.merchant, value.redeem_fn(c)))
    assert parts_of(event) == c["parts"] and len(c["parts"]) == 2  # exactly the signed plan, both schemes
    assert sum(p[2] for p in c["parts"]) == 6_000
    rates = {SCHEME: RATE_1, OTHER_SCHEME: RATE_2}
    burned = 0
    for p in part_values(event):
        # each part: the points' worth and the change before pay its credits exactly, the rest is change
        assert p["value"] == p["points"] * rates[p["scheme"]]
        assert p["value"] + p["changeBefore"] == p["credits"] * 10**6 + p["changeAfter"]
        assert p["changeBefore"] == 0 and p["changeAfter"] < rates[p["scheme"]]  # never a whole point kept back
        assert value.change(resident, p["scheme"]) == p["changeAfter"]
        burned += p["value"]
    points = {p[0]: p[1] for p in c["parts"]}
    assert value.balances(resident) == (START_1 - points[SCHEME], START_2 - points[OTHER_SCHEME])
    # the old rule burned all 500 volunteer points and 31 traffic points (6,033.33 cents' worth) for 6,000 cents
    assert burned < START_1 * RATE_1 + 31 * RATE_2
    # the resident is worth exactly 6,000 cents less: points at their rates plus change
    worth = sum(b * rates[s] + value.change(resident, s) for s, b in zip((SCHEME, OTHER_SCHEME),
                                                                        value.balances(resident)))
    assert worth == START_1 * RATE_1 + START_2 * RATE_2 - 6_000 * 10**6


def test_redeem_followsThePreferredOrderTheResidentSignedWhenPlansCostTheSame(w3, value):
    from ledger_node.typed_data import sign, typed_data

    resident = value.city.residents[1]
    _governed(w3, value, value.rates.functions.setRate(OTHER_SCHEME, RATE_1))  # both schemes 10 cents a point
    assert value.plan(resident, 1_000) == [(SCHEME, 100, 1_000)]  # a tie: the ledger's order
    message = {"resident": resident.address, "schemes": [OTHER_SCHEME], "nonce": b"\x07" * 32,
               "deadline": now(w3) + 3600}
    signature = sign(resident, typed_data("PreferredOrder", w3.eth.chain_id, value.redemption.address, message))
    send(w3, value.city.relayer, value.redemption.functions.setPreferredOrder(
        resident.address, [OTHER_SCHEME], message["nonce"], message["deadline"], signature))
    assert value.redemption.functions.preferredOrder(resident.address).call() == [OTHER_SCHEME]
    receipt = send(w3, value.city.merchant, value.redeem_fn(value.consent(w3, resident, 1_000)))
    assert value.redeemed_parts(receipt) == [(OTHER_SCHEME, 100, 1_000)]
    assert value.balances(resident) == (START_1, START_2 - 100)


def test_redeem_preferredOrderNeverCostsTheResidentMore(w3, value):
    """A preferred scheme whose points cannot pay the price exactly is passed over for one that can."""
    from ledger_node.typed_data import sign, typed_data

    resident = value.city.residents[1]
    message = {"resident": resident.address, "schemes": [OTHER_SCHEME], "nonce": b"\x08" * 32,
               "deadline": now(w3) + 3600}
    signature = sign(resident, typed_data("PreferredOrder", w3.eth.chain_id, value.redemption.address, message))
    send(w3, value.city.relayer, value.redemption.functions.setPreferredOrder(
        resident.address, [OTHER_SCHEME], message["nonce"], message["deadline"], signature))
    # 1,000 cents: 31 traffic points would burn 1,033.33 cents' worth; 100 volunteer points burn exactly 1,000
    receipt = send(w3, value.city.merchant, value.redeem_fn(value.consent(w3, resident, 1_000)))
    assert value.redeemed_parts(receipt) == [(SCHEME, 100, 1_000)]


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


def test_redeem_recordIsOneWordThatAlsoSpendsTheNonce(w3, value):
    from eth_abi import encode as abi_encode
    from eth_utils import keccak

    city, resident = value.city, value.city.residents[0]
    c = value.consent(w3, resident, 100)
    receipt = send(w3, city.merchant, value.redeem_fn(c))
    rid = value.redeemed(receipt)["args"]["redemptionId"]
    assert rid == value.redemption.functions.redemptionIdOf(resident.address, c["nonce"]).call()
    assert value.redemption.functions.nonceUsed(resident.address, c["nonce"]).call()
    parties = keccak(abi_encode(["address", "address", "(uint256,uint256,uint256)[]"],
                                [resident.address, city.merchant.address, c["parts"]]))
    at = w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    # the top 120 bits of the parties hash, nothing refunded, the block's time
    assert value.redemption.functions.redemption(rid).call() == (parties[:15] + bytes(17), 0, at)
    assert value.redemption.functions.redemption(b"\x05" * 32).call() == (bytes(32), 0, 0)  # unknown: all zero
    written = _slots(w3, receipt["transactionHash"], value.redemption.address)[0]
    assert written in (1, None)  # one storage slot of Redemption (None: the node does not trace)


def test_redeem_revertsForANonceAPreferredOrderSpent(w3, value):
    """A redemption and a preferred order of one resident share the nonces: each is usable once, for one of them."""
    from ledger_node.typed_data import sign, typed_data

    resident = value.city.residents[1]
    message = {"resident": resident.address, "schemes": [SCHEME], "nonce": b"\x09" * 32, "deadline": now(w3) + 3600}
    signature = sign(resident, typed_data("PreferredOrder", w3.eth.chain_id, value.redemption.address, message))
    send(w3, value.city.relayer, value.redemption.functions.setPreferredOrder(
        resident.address, [SCHEME], message["nonce"], message["deadline"], signature))
    rid = value.redemption.functions.redemptionIdOf(resident.address, message["nonce"]).call()
    assert value.redemption.functions.redemption(rid).call() == (bytes(32), 0, 0)  # a spent nonce, no redemption
    c = value.consent(w3, resident, 100, nonce=message["nonce"])
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "ResidentNonceUsed")
    expect_revert(w3, value.city.merchant, value.redemption.functions.refund(
        rid, resident.address, value.city.merchant.address, c["parts"], 10), "RedemptionUnknown", (rid,))
    assert value.balances(resident) == (START_1, START_2)


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
    assert available == START_1 * RATE_1 // 10**6 + START_2 * RATE_2 // 10**6  # 5,000 + 9,999
    with pytest.raises(NotEnoughValue):  # the planner offers no plan
        value.plan(resident, available + 1)
    # a plan that burns every point but asks a cent more than they are worth: the ledger refuses the part
    c = value.consent(w3, resident, available + 1, parts=[(SCHEME, START_1, 5_000), (OTHER_SCHEME, START_2, 10_000)])
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "PointsLedgerValueShort",
                  (OTHER_SCHEME, resident.address, START_2 * RATE_2, 10_000 * 10**6))
    # a plan that names more points than held
    c = value.consent(w3, resident, 5_010, parts=[(SCHEME, START_1 + 1, 5_010)])
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "PointsLedgerInsufficientBalance",
                  (SCHEME, resident.address, START_1, START_1 + 1))
    assert value.balances(resident) == (START_1, START_2)
    assert (value.change(resident, SCHEME), value.change(resident, OTHER_SCHEME)) == (0, 0)
    assert not value.redemption.functions.nonceUsed(resident.address, c["nonce"]).call()


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
    parts = value.redeemed_parts(send(w3, city.merchant, value.redeem_fn(c)))
    (s_last, points_last, credits_last) = parts[-1]
    assert s_last == OTHER_SCHEME and credits_last > 500
    change_left = value.change(resident, OTHER_SCHEME)
    rid = value.redemption.functions.redemptionIdOf(resident.address, c["nonce"]).call()
    r1 = send(w3, city.merchant, value.redemption.functions.refund(rid, resident.address, city.merchant.address,
                                                                    parts, 500))
    (ev,) = value.redemption.events.Refunded().process_receipt(r1, errors=DISCARD)
    # 500 cents back from the last part, as value at its rate: whole points, the rest joins the change
    points_back, change_after = divmod(change_left + 500 * 10**6, RATE_2)
    assert part_values(ev) == [{"scheme": OTHER_SCHEME, "points": points_back, "value": points_back * RATE_2,
                                "credits": 500, "changeBefore": change_left, "changeAfter": change_after}]
    assert value.change(resident, OTHER_SCHEME) == change_after
    assert value.clearing.functions.merchantPosition(1, OTHER_SCHEME, city.merchant.address).call() == \
        credits_last - 500
    send(w3, city.merchant, value.redemption.functions.refund(rid, resident.address, city.merchant.address,
                                                             parts, 5_500))
    assert value.balances(resident) == (START_1, START_2)  # the full refund returns every point
    assert (value.change(resident, SCHEME), value.change(resident, OTHER_SCHEME)) == (0, 0)  # and takes the change
    assert value.merchant_net(city.merchant.address) == 0
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
    assert value.merchant_net(city.merchant.address) == 0
    # the restored points of the paused scheme stay frozen: nothing moves there until it resumes (scheme 2
    # alone is worth 9,999 credit cents, so the planner has no plan, and a plan naming scheme 1 is refused)
    assert value.redemption.functions.availableCredits(resident.address).call() == 9_999
    with pytest.raises(NotEnoughValue):
        value.plan(resident, 10_000)
    c = value.consent(w3, resident, 10_000, parts=[(SCHEME, 1, 10), (OTHER_SCHEME, 300, 9_990)])
    expect_revert(w3, city.merchant, value.redeem_fn(c), "PointsLedgerSchemeNotActive")
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
    assert value.redemption.functions.redemption(rid).call()[1] == 0  # nothing refunded
    _governed(w3, value, city.ledger.functions.unpauseAll())
    send(w3, city.merchant, fn)
    assert value.balances(resident) == (START_1, START_2)


def test_refund_afterKeyRecovery_creditsTheNewKeyNeverTheOld(w3, value):
    city, old = value.city, value.city.residents[3]
    new = Account.create().address
    rid, parts = _redeem(w3, value, old, 6_000)
    change = value.change(old, OTHER_SCHEME)
    assert change > 0
    m = city.membership.functions
    send(w3, city.onboarding, m.requestRecovery(old.address, new))
    advance_time(w3, m.recoveryNotice().call() + 1)
    send(w3, city.onboarding, m.completeRecovery(old.address))
    after_move = value.balances(new)
    assert (value.change(old, OTHER_SCHEME), value.change(new, OTHER_SCHEME)) == (0, change)  # the change moved
    # the merchant names the redemption's resident (the old key); the points go to the key that holds it now
    receipt = send(w3, city.merchant, value.redemption.functions.refund(rid, old.address, city.merchant.address,
                                                                         parts, 6_000))
    (ev,) = value.redemption.events.Refunded().process_receipt(receipt, errors=DISCARD)
    assert (ev["args"]["resident"], ev["args"]["creditedTo"]) == (old.address, new)
    assert value.balances(old) == (0, 0)
    assert value.balances(new) == (after_move[0] + parts[0][1], after_move[1] + parts[1][1]) == (START_1, START_2)
    assert value.change(new, OTHER_SCHEME) == 0  # the full refund took back the change it left
    assert {e["args"]["account"] for e in city.ledger.events.PointsRestored().process_receipt(
        receipt, errors=DISCARD)} == {new}
