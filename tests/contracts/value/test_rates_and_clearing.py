"""Rates change only after notice; clearing fixes period statements and settles them by payment and confirmation."""
from web3.logs import DISCARD
from ledger_node import chain
from ledger_node.deploy.system import call

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import advance_time, expect_revert, send
from .conftest import RATE_1


def test_setRate_takesEffectOnlyAfterTheNoticeDelay(w3, value):
    city = value.city
    receipt = chain.transact(w3, city.operator, city.consortium.functions.propose(
        [call(value.rates, "setRate", SCHEME, 2 * RATE_1)], "double volunteer points"))
    pid = city.consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["proposalId"]
    assert city.consortium.functions.noticeDelay(pid).call() == 7 * 86_400
    expect_revert(w3, city.operator, city.consortium.functions.execute(pid), "ConsortiumNoticePending")
    assert value.rates.functions.rateOf(SCHEME).call() == RATE_1
    advance_time(w3, 7 * 86_400)
    send(w3, city.operator, city.consortium.functions.execute(pid))
    assert value.rates.functions.rateOf(SCHEME).call() == 2 * RATE_1


def test_setInitialRate_revertsWhenTheSchemeHasARate(w3, value):
    city = value.city
    fn = value.rates.functions.setInitialRate(SCHEME, 1)
    expect_revert(w3, city.stranger, fn, "ConsortiumGovernedUnauthorized")
    from ..helpers import send_impersonated
    import pytest

    with pytest.raises(chain.TransactionFailed) as info:
        send_impersonated(w3, city.consortium.address, fn)
    assert info.value.error == "RatesAlreadySet"


def test_creditsFor_roundsDownAndPointsFor_roundsUp(value):
    assert value.rates.functions.creditsFor(OTHER_SCHEME, 3).call() == 99  # 99.999999
    assert value.rates.functions.pointsFor(OTHER_SCHEME, 100).call() == 4  # 3.00000003
    assert value.rates.functions.rateOf(99).call() == 0


def test_closePeriod_fixesTheStatementThatIsThenPaidAndConfirmed(w3, value):
    city = value.city
    send(w3, city.merchant, value.redeem_fn(value.consent(w3, city.residents[0], 2_000)))
    expect_revert(w3, city.stranger, value.clearing.functions.closePeriod(), "ClearingNotOperator")
    expect_revert(w3, city.issuer, value.clearing.functions.recordMerchantPayment(
        1, SCHEME, city.merchant.address, b"\x01" * 32), "ClearingPeriodNotClosed", (1, 1))
    send(w3, city.ops, value.clearing.functions.closePeriod())
    # activity after the close goes to the next period; the statement of period 1 stays as it was
    send(w3, city.merchant, value.redeem_fn(value.consent(w3, city.residents[1], 300)))
    assert value.clearing.functions.merchantPosition(1, SCHEME, city.merchant.address).call() == 2_000
    assert value.clearing.functions.merchantPosition(2, SCHEME, city.merchant.address).call() == 300
    sid = value.clearing.functions.merchantStatementId(1, SCHEME, city.merchant.address).call()
    expect_revert(w3, city.merchant, value.clearing.functions.recordMerchantPayment(
        1, SCHEME, city.merchant.address, b"\x01" * 32), "ClearingNotDebtor")
    send(w3, city.issuer, value.clearing.functions.recordMerchantPayment(1, SCHEME, city.merchant.address, b"\x01" * 32))
    expect_revert(w3, city.issuer, value.clearing.functions.answerPayment(sid, True, b"\x00" * 32),
                  "ClearingNotCreditor")
    send(w3, city.merchant, value.clearing.functions.answerPayment(sid, False, b"\x02" * 32))  # disputed
    send(w3, city.issuer_b, value.clearing.functions.recordMerchantPayment(1, SCHEME, city.merchant.address, b"\x03" * 32))
    send(w3, city.merchant, value.clearing.functions.answerPayment(sid, True, b"\x00" * 32))
    assert value.clearing.functions.settlement(sid).call() == (2, b"\x03" * 32)  # Confirmed
    assert value.issuer_net(SCHEME) == 300  # only period 2 is unsettled
    assert value.merchant_net(city.merchant.address) == -300


def test_recordIssuerPayment_settlesTheNettedIssuerStatement(w3, value):
    city = value.city
    send(w3, city.relayer, value.exchange_fn(value.intent(w3, city.residents[0], SCHEME, OTHER_SCHEME, 100)))
    send(w3, city.ops, value.clearing.functions.closePeriod())
    sid = value.clearing.functions.issuerStatementId(1, OTHER_SCHEME, SCHEME).call()
    expect_revert(w3, city.other_issuer, value.clearing.functions.recordIssuerPayment(
        1, SCHEME, OTHER_SCHEME, b"\x01" * 32), "ClearingNotDebtor")
    send(w3, city.issuer, value.clearing.functions.recordIssuerPayment(1, OTHER_SCHEME, SCHEME, b"\x01" * 32))
    send(w3, city.other_issuer, value.clearing.functions.answerPayment(sid, True, b"\x00" * 32))
    assert value.issuer_net(SCHEME) == 0
    assert value.issuer_net(OTHER_SCHEME) == 0


def test_recordRedemption_revertsForAnythingButTheValueContracts(w3, value):
    expect_revert(w3, value.city.merchant, value.clearing.functions.recordRedemption(
        SCHEME, value.city.merchant.address, 10**9), "ClearingNotRecorder")


def test_merchantPositions_ofFourSchemesShareAWordYetStayApart(w3, value):
    city, clearing = value.city, value.clearing.functions
    m, other = city.merchant.address, city.stranger.address
    for fn in (clearing.recordRedemption(1, m, 7), clearing.recordRedemption(2, m, 9),
               clearing.recordRedemption(4, m, 2**63 - 1), clearing.recordRefund(3, m, 5),
               clearing.recordRedemption(5, m, 1), clearing.recordRedemption(2, other, 11)):
        send(w3, city.ledger_operator, fn)
    assert [clearing.merchantPosition(1, s, m).call() for s in range(1, 7)] == [7, 9, -5, 2**63 - 1, 1, 0]
    assert [clearing.merchantPosition(1, s, other).call() for s in range(1, 5)] == [0, 11, 0, 0]
    assert clearing.merchantPosition(2, 2, m).call() == 0  # another period
    # a position is 64 bits: passing it refuses the recording and changes nothing
    expect_revert(w3, city.ledger_operator, clearing.recordRedemption(4, m, 1), "ClearingPositionOverflow",
                  (1, 4, m, 2**63))
    expect_revert(w3, city.ledger_operator, clearing.recordRefund(3, m, 2**63), "ClearingPositionOverflow",
                  (1, 3, m, -5 - 2**63))
    assert [clearing.merchantPosition(1, s, m).call() for s in range(1, 5)] == [7, 9, -5, 2**63 - 1]


def test_redeem_inTwoSchemesOfOneWord_writesOneClearingSlot(w3, value):
    from ..test_gas import _slots

    c = value.consent(w3, value.city.residents[0], 6_000)
    assert [p[0] for p in c["parts"]] == [SCHEME, OTHER_SCHEME]
    receipt = send(w3, value.city.merchant, value.redeem_fn(c))
    assert _slots(w3, receipt["transactionHash"], value.clearing.address)[0] in (1, None)
    assert value.merchant_net(value.city.merchant.address) == -6_000
