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
    assert value.clearing.functions.issuerNet(SCHEME).call() == 300  # only period 2 is unsettled
    assert value.clearing.functions.merchantNet(city.merchant.address).call() == -300


def test_recordIssuerPayment_settlesTheNettedIssuerStatement(w3, value):
    city = value.city
    send(w3, city.relayer, value.exchange_fn(value.intent(w3, city.residents[0], SCHEME, OTHER_SCHEME, 100)))
    send(w3, city.ops, value.clearing.functions.closePeriod())
    sid = value.clearing.functions.issuerStatementId(1, OTHER_SCHEME, SCHEME).call()
    expect_revert(w3, city.other_issuer, value.clearing.functions.recordIssuerPayment(
        1, SCHEME, OTHER_SCHEME, b"\x01" * 32), "ClearingNotDebtor")
    send(w3, city.issuer, value.clearing.functions.recordIssuerPayment(1, OTHER_SCHEME, SCHEME, b"\x01" * 32))
    send(w3, city.other_issuer, value.clearing.functions.answerPayment(sid, True, b"\x00" * 32))
    assert value.clearing.functions.issuerNet(SCHEME).call() == 0
    assert value.clearing.functions.issuerNet(OTHER_SCHEME).call() == 0


def test_recordRedemption_revertsForAnythingButTheValueContracts(w3, value):
    expect_revert(w3, value.city.merchant, value.clearing.functions.recordRedemption(
        SCHEME, value.city.merchant.address, 10**9), "ClearingNotRecorder")
