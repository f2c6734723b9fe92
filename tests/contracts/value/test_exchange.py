"""Exchange: resident-signed conversions at the governed rates, exact: what is below a credit cent on the way in and
below a whole point on the way out stays with the resident as change in each scheme."""
from web3.logs import DISCARD
from ledger_node.deploy.system import call

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import advance_time, expect_revert, send
from .conftest import RATE_1, RATE_2, START_1, START_2


def _exchanged(value, receipt):
    (ev,) = value.exchange.events.Exchanged().process_receipt(receipt, errors=DISCARD)
    return ev["args"]


def _assert_conserves(ev):
    """Both sides move exactly the credits: nothing lost or made by rounding."""
    taken, given, credits = ev["taken"], ev["given"], ev["credits"]
    assert taken["value"] + taken["changeBefore"] == credits * 10**6 + taken["changeAfter"]
    assert credits * 10**6 + given["changeBefore"] == given["value"] + given["changeAfter"]
    assert (taken["points"], given["points"]) == (ev["points"], ev["received"])


def test_exchange_burnsMintsAtRatesAndRecordsWhatIssuerAOwesB(w3, value):
    resident = value.city.residents[0]
    receipt = send(w3, value.city.relayer, value.exchange_fn(value.intent(w3, resident, SCHEME, OTHER_SCHEME, 100)))
    credits = 100 * RATE_1 // 10**6  # 1,000 cents
    received = credits * 10**6 // RATE_2  # 30.0000003 -> 30 whole points, the rest is change
    ev = _exchanged(value, receipt)
    assert (ev["received"], ev["credits"]) == (received, credits)
    assert value.balances(resident) == (START_1 - 100, START_2 + received)
    assert value.clearing.functions.issuerPosition(1, SCHEME, OTHER_SCHEME).call() == credits
    assert value.issuer_net(SCHEME) == credits
    assert value.issuer_net(OTHER_SCHEME) == -credits
    # the 0.00001 cent below a whole traffic point stays with the resident as change
    _assert_conserves(ev)
    assert dict(ev["taken"]) == {"points": 100, "value": 100 * RATE_1, "changeBefore": 0, "changeAfter": 0}
    assert dict(ev["given"]) == {"points": received, "value": received * RATE_2, "changeBefore": 0,
                                 "changeAfter": credits * 10**6 - received * RATE_2}
    assert value.change(resident, OTHER_SCHEME) == credits * 10**6 - received * RATE_2 == 10


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


def test_exchange_leavesChangeOnBothSidesAndTheNextExchangeSpendsIt(w3, value):
    resident = value.city.residents[1]
    first = _exchanged(value, send(w3, value.city.relayer, value.exchange_fn(
        value.intent(w3, resident, OTHER_SCHEME, SCHEME, 60))))
    # 60 traffic points are worth 1,999.99998 cents: 1,999 cents cross, 0.99998 stays in traffic; 1,999 cents buy
    # 199 volunteer points and 9 cents stay in volunteer
    _assert_conserves(first)
    assert (first["credits"], first["received"]) == (1_999, 199)
    assert (value.change(resident, OTHER_SCHEME), value.change(resident, SCHEME)) == (999_980, 9_000_000)
    # one traffic point alone buys 33 cents, 3 volunteer points (quote); with the change on both sides 34 and 4
    assert value.exchange.functions.quote(OTHER_SCHEME, SCHEME, 1).call() == [3, 33]
    second = _exchanged(value, send(w3, value.city.relayer, value.exchange_fn(
        value.intent(w3, resident, OTHER_SCHEME, SCHEME, 1, 4))))
    _assert_conserves(second)
    assert (second["credits"], second["received"]) == (34, 4)
    assert (second["taken"]["changeBefore"], second["taken"]["changeAfter"]) == (999_980, 333_313)
    assert (second["given"]["changeBefore"], second["given"]["changeAfter"]) == (9_000_000, 3_000_000)
    assert value.balances(resident) == (START_1 + 203, START_2 - 61)
    assert (value.change(resident, OTHER_SCHEME), value.change(resident, SCHEME)) == (333_313, 3_000_000)
    # value in the resident's hands plus what crossed to the other issuer: nothing lost
    worth = (START_1 + 203) * RATE_1 + 3_000_000 + (START_2 - 61) * RATE_2 + 333_313
    assert worth == START_1 * RATE_1 + START_2 * RATE_2
    assert value.clearing.functions.issuerPosition(1, OTHER_SCHEME, SCHEME).call() == 1_999 + 34


def test_exchange_ofPointsWorthLessThanACentWithoutChange_isRefusedAndChangesNothing(w3, value):
    """Below a cent nothing is bought: refused as below the minimum, and no change is taken or left."""
    city = value.city
    resident = city.residents[2]
    city.govern(w3, [call(value.rates, "setRate", SCHEME, 400_000)])
    assert value.rates.functions.rateOf(SCHEME).call() == 400_000  # 0.4 cent a point
    expect_revert(w3, city.relayer, value.exchange_fn(value.intent(w3, resident, SCHEME, OTHER_SCHEME, 2)),
                  "ExchangeBelowMinimum", (0, 0))
    assert value.balances(resident) == (START_1, START_2)
    assert value.change(resident, SCHEME) == 0
