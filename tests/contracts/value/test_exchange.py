"""Exchange: resident-signed conversions at the governed rates, rounding against the resident."""
from web3.logs import DISCARD
from ledger_node.deploy.system import call

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import advance_time, expect_revert, send
from .conftest import RATE_1, RATE_2, START_1, START_2


def test_exchange_burnsMintsAtRatesAndRecordsWhatIssuerAOwesB(w3, value):
    resident = value.city.residents[0]
    receipt = send(w3, value.city.relayer, value.exchange_fn(value.intent(w3, resident, SCHEME, OTHER_SCHEME, 100)))
    credits = 100 * RATE_1 // 10**6  # 1,000 cents
    received = credits * 10**6 // RATE_2  # 30.0000003 -> 30 points, rounded down
    (ev,) = value.exchange.events.Exchanged().process_receipt(receipt, errors=DISCARD)
    assert (ev["args"]["received"], ev["args"]["credits"]) == (received, credits)
    assert value.balances(resident) == (START_1 - 100, START_2 + received)
    assert value.clearing.functions.issuerPosition(1, SCHEME, OTHER_SCHEME).call() == credits
    assert value.clearing.functions.issuerNet(SCHEME).call() == credits
    assert value.clearing.functions.issuerNet(OTHER_SCHEME).call() == -credits
    # the resident's holdings never gain value from rounding
    assert received * RATE_2 // 10**6 <= credits


def test_exchange_netsOpposingExchangesBetweenTwoIssuers(w3, value):
    a, b = value.city.residents[0], value.city.residents[1]
    send(w3, value.city.relayer, value.exchange_fn(value.intent(w3, a, SCHEME, OTHER_SCHEME, 100)))
    send(w3, value.city.relayer, value.exchange_fn(value.intent(w3, b, OTHER_SCHEME, SCHEME, 60)))
    back = 60 * RATE_2 // 10**6  # 1,999 cents
    assert value.clearing.functions.issuerPosition(1, SCHEME, OTHER_SCHEME).call() == 1_000 - back
    assert value.clearing.functions.issuerPosition(1, OTHER_SCHEME, SCHEME).call() == back - 1_000


def test_exchange_revertsBelowTheSignedMinimum(w3, value):
    resident = value.city.residents[0]
    i = value.intent(w3, resident, SCHEME, OTHER_SCHEME, 100, min_received=31)
    expect_revert(w3, value.city.relayer, value.exchange_fn(i), "ExchangeBelowMinimum", (30, 31))
    assert value.balances(resident) == (START_1, START_2)


def test_exchange_revertsForAPairGovernanceDidNotAllow(w3, value):
    city = value.city
    city.govern(w3, [call(value.exchange, "setPairAllowed", SCHEME, OTHER_SCHEME, False)])
    i = value.intent(w3, city.residents[0], SCHEME, OTHER_SCHEME, 100)
    expect_revert(w3, city.relayer, value.exchange_fn(i), "ExchangePairNotAllowed", (SCHEME, OTHER_SCHEME))


def test_exchange_revertsPastTheDailyLimitAndAllowsItNextDay(w3, value):
    city, resident = value.city, value.city.residents[0]
    city.govern(w3, [call(value.exchange, "setDailyLimit", 1_500)])
    send(w3, city.relayer, value.exchange_fn(value.intent(w3, resident, SCHEME, OTHER_SCHEME, 100)))
    expect_revert(w3, city.relayer, value.exchange_fn(value.intent(w3, resident, SCHEME, OTHER_SCHEME, 100)),
                  "ExchangeDailyLimitExceeded", (resident.address, 1_000, 1_000, 1_500))
    advance_time(w3, 86_400)
    send(w3, city.relayer, value.exchange_fn(value.intent(w3, resident, SCHEME, OTHER_SCHEME, 100)))
    assert value.exchange.functions.usedToday(resident.address).call() == 1_000


def test_exchange_revertsWhenIntentReplayed(w3, value):
    i = value.intent(w3, value.city.residents[0], SCHEME, OTHER_SCHEME, 10)
    send(w3, value.city.stranger, value.exchange_fn(i))  # anyone may submit
    expect_revert(w3, value.city.stranger, value.exchange_fn(i), "ResidentNonceUsed")


def test_exchange_revertsWhenTheResidentLacksPoints(w3, value):
    i = value.intent(w3, value.city.residents[0], SCHEME, OTHER_SCHEME, START_1 + 1)
    expect_revert(w3, value.city.relayer, value.exchange_fn(i), "PointsLedgerInsufficientBalance")
