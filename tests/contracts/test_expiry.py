"""Points expiry (PointsLedger.setExpiry, issue 25): points credited in a month stay spendable through the last day of
the month `expiryMonths` later, a debit sweeps what expired first and then takes the oldest month first, a recovery
moves the live months, and a balance read costs the same however many issuances made it."""
from __future__ import annotations

import pytest
from eth_account import Account

from ledger_node.expiry import DAY, first_day_of_month, last_day, month_of_day

from .helpers import expect_revert, ref, send, send_fixed_gas, send_impersonated

EXPIRING = 77  # a scheme of its own, without points, so that an expiry can be set on it
RATE = 10**7  # value units a point (10 cents) for the ledger operator's spend


@pytest.fixture
def xp(w3, env):
    """Scheme EXPIRING, issued by env.issuer, without an expiry yet; returns a function setting one."""
    f = env.ledger.functions
    assert EXPIRING not in f.schemeIds().call()
    send_impersonated(w3, env.consortium.address, f.addScheme(EXPIRING, 10**9, 10**9))
    send_impersonated(w3, env.consortium.address, env.membership.functions.setIssuerAccounts(EXPIRING,
                                                                                              [env.issuer.address]))
    return lambda months: send_impersonated(w3, env.consortium.address, f.setExpiry(EXPIRING, months))


class Clock:
    """The city's calendar on the test chain: month numbers as PointsLedger counts them, and moving to a moment."""

    def __init__(self, w3, ledger):
        self.w3, self.offset = w3, ledger.functions.dayOffset().call()
        self.month = month_of_day(ledger.functions.today().call())  # this month, where every test starts

    def start_of(self, month: int) -> int:
        """The timestamp of the first second of `month` (city time)."""
        return first_day_of_month(month) * DAY - self.offset

    def next_block_at(self, timestamp: int) -> None:
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])

    def mine_at(self, timestamp: int) -> None:
        self.next_block_at(timestamp)
        self.w3.provider.make_request("evm_mine", [])


def _issue_at(w3, env, clock, timestamp, resident, amount, label):
    clock.next_block_at(timestamp)
    return send_fixed_gas(w3, env.issuer, env.ledger.functions.issue(EXPIRING, resident, amount, ref(label)))


def _spend(w3, env, account, points):
    return env.ledger.functions.spend(EXPIRING, account, points, RATE, points * RATE, ref("pay"))


# ---- governance ----------------------------------------------------------------------------------------------------

def test_setExpiry_setsMonthsOnASchemeWithoutPoints(w3, env, xp):
    receipt = xp(12)
    event = env.ledger.events.SchemeExpiryChanged().process_receipt(receipt)[0]["args"]
    assert (event["scheme"], event["previousMonths"], event["months"]) == (EXPIRING, 0, 12)
    assert env.ledger.functions.schemeInfo(EXPIRING).call()[6] == 12
    assert env.ledger.functions.schemeInfo(EXPIRING).call()[0] == 1  # the rest of the record is unchanged


def test_setExpiry_revertsWhenTheSchemeHasPoints(w3, env, xp):
    send(w3, env.issuer, env.ledger.functions.issue(EXPIRING, env.residents[0].address, 3, ref(1)))
    expect_revert(w3, env.consortium.address, env.ledger.functions.setExpiry(EXPIRING, 12),
                  "PointsLedgerExpiryNeedsEmptyScheme", (EXPIRING, 3))
    assert env.ledger.functions.schemeInfo(EXPIRING).call()[6] == 0


def test_setExpiry_onlyShortens(w3, env, xp):
    f = env.ledger.functions
    expect_revert(w3, env.consortium.address, f.setExpiry(EXPIRING, 0), "PointsLedgerExpiryOnlyShortens",
                  (EXPIRING, 0, 0))
    xp(6)
    send(w3, env.issuer, f.issue(EXPIRING, env.residents[0].address, 3, ref(1)))
    for months in (7, 6, 0):  # longer, the same, none: each would give some accounts expired points back
        expect_revert(w3, env.consortium.address, f.setExpiry(EXPIRING, months), "PointsLedgerExpiryOnlyShortens",
                      (EXPIRING, 6, months))
    receipt = xp(2)  # shorter: allowed while the scheme holds points
    assert env.ledger.events.SchemeExpiryChanged().process_receipt(receipt)[0]["args"]["months"] == 2
    assert f.schemeInfo(EXPIRING).call()[6] == 2


def test_setExpiry_revertsForAnUnknownScheme(w3, env):
    expect_revert(w3, env.consortium.address, env.ledger.functions.setExpiry(4242, 1), "PointsLedgerUnknownScheme",
                  (4242,))


# ---- the month boundary --------------------------------------------------------------------------------------------

def test_balanceOf_countsPointsThroughTheLastDayOfTheirMonthPlusExpiry(w3, env, xp):
    xp(1)
    f, clock, a = env.ledger.functions, Clock(w3, env.ledger), env.residents[0].address
    m = clock.month + 1
    _issue_at(w3, env, clock, clock.start_of(m) + 3 * DAY, a, 10, 1)
    clock.mine_at(clock.start_of(m + 2) - 1)  # the last second of the next month: still live
    assert f.balanceOf(a, EXPIRING).call() == 10
    assert tuple(f.expiringOf(a, EXPIRING).call()) == (10, last_day(m, 1)) == (10, first_day_of_month(m + 2) - 1)
    clock.mine_at(clock.start_of(m + 2))  # the first second after it: expired
    assert f.balanceOf(a, EXPIRING).call() == 0
    assert tuple(f.expiringOf(a, EXPIRING).call()) == (0, 0)
    assert f.balanceOfBatch([a], [EXPIRING]).call() == [0]
    assert f.totalSupply(EXPIRING).call() == 10  # counted until a debit sweeps it


def test_spend_revertsForExpiredPointsAndChangesNothing(w3, env, xp):
    xp(1)
    f, clock, a = env.ledger.functions, Clock(w3, env.ledger), env.residents[0].address
    m = clock.month + 1
    _issue_at(w3, env, clock, clock.start_of(m), a, 10, 1)
    clock.mine_at(clock.start_of(m + 2) + 60)
    expect_revert(w3, env.ledger_operator, _spend(w3, env, a, 1), "PointsLedgerInsufficientBalance",
                  (EXPIRING, a, 0, 1))
    expect_revert(w3, env.issuer, f.revoke(EXPIRING, a, 1, ref("fix"), 0), "PointsLedgerInsufficientBalance",
                  (EXPIRING, a, 0, 1))
    assert f.totalSupply(EXPIRING).call() == 10  # the refused debit swept nothing


# ---- the sweep and the order of spending ---------------------------------------------------------------------------

def test_spend_sweepsExpiredPointsThenBurns(w3, env, xp):
    xp(1)
    f, clock, a = env.ledger.functions, Clock(w3, env.ledger), env.residents[0].address
    m = clock.month + 1
    _issue_at(w3, env, clock, clock.start_of(m), a, 10, 1)
    _issue_at(w3, env, clock, clock.start_of(m + 1), a, 5, 2)
    clock.next_block_at(clock.start_of(m + 2) + 60)
    receipt = send_fixed_gas(w3, env.ledger_operator, _spend(w3, env, a, 3))
    expired = env.ledger.events.PointsExpired().process_receipt(receipt)[0]["args"]
    assert (expired["scheme"], expired["account"], expired["amount"], expired["balanceAfter"],
            expired["totalSupplyAfter"]) == (EXPIRING, a, 10, 5, 5)
    transfers = [(t["args"]["from"], t["args"]["to"], t["args"]["value"])
                 for t in env.ledger.events.TransferSingle().process_receipt(receipt)]
    zero = "0x" + "00" * 20
    assert transfers == [(a, zero, 10), (a, zero, 3)]  # the sweep's, then the burn's
    burned = env.ledger.events.PointsBurned().process_receipt(receipt)[0]["args"]
    assert (burned["balanceAfter"], burned["totalSupplyAfter"]) == (2, 2)
    assert (f.balanceOf(a, EXPIRING).call(), f.totalSupply(EXPIRING).call()) == (2, 2)


def test_spend_takesTheOldestMonthFirst(w3, env, xp):
    xp(1)
    f, clock, a = env.ledger.functions, Clock(w3, env.ledger), env.residents[0].address
    m = clock.month + 1
    _issue_at(w3, env, clock, clock.start_of(m), a, 10, 1)
    _issue_at(w3, env, clock, clock.start_of(m + 1), a, 5, 2)
    clock.next_block_at(clock.start_of(m + 1) + DAY)
    send_fixed_gas(w3, env.ledger_operator, _spend(w3, env, a, 12))  # month m's 10, then 2 of month m + 1's
    assert tuple(f.expiringOf(a, EXPIRING).call()) == (3, last_day(m + 1, 1))
    clock.next_block_at(clock.start_of(m + 2) + 60)  # month m expires: nothing of it is left to sweep
    receipt = send_fixed_gas(w3, env.ledger_operator, _spend(w3, env, a, 1))
    assert not env.ledger.events.PointsExpired().process_receipt(receipt)
    assert (f.balanceOf(a, EXPIRING).call(), f.totalSupply(EXPIRING).call()) == (2, 2)


def test_mintValue_creditsTheMonthOfTheMint(w3, env, xp):
    xp(1)
    f, clock, a = env.ledger.functions, Clock(w3, env.ledger), env.residents[0].address
    m = clock.month + 1
    _issue_at(w3, env, clock, clock.start_of(m), a, 4, 1)
    clock.next_block_at(clock.start_of(m + 1))
    send_fixed_gas(w3, env.ledger_operator, f.mintValue(EXPIRING, a, 6 * RATE, RATE, ref("x")))
    clock.mine_at(clock.start_of(m + 2))
    assert f.balanceOf(a, EXPIRING).call() == 6
    assert tuple(f.expiringOf(a, EXPIRING).call()) == (6, last_day(m + 1, 1))


def test_setExpiry_shorterExpiresOlderMonthsAtOnce(w3, env, xp):
    xp(3)
    f, clock, a = env.ledger.functions, Clock(w3, env.ledger), env.residents[0].address
    m = clock.month + 1
    _issue_at(w3, env, clock, clock.start_of(m), a, 10, 1)
    _issue_at(w3, env, clock, clock.start_of(m + 2), a, 5, 2)
    assert f.balanceOf(a, EXPIRING).call() == 15
    xp(1)
    assert f.balanceOf(a, EXPIRING).call() == 5
    assert tuple(f.expiringOf(a, EXPIRING).call()) == (5, last_day(m + 2, 1))


# ---- recovery ------------------------------------------------------------------------------------------------------

def test_moveAccount_sweepsAndMovesTheLiveMonths(w3, env, xp):
    xp(1)
    f, clock = env.ledger.functions, Clock(w3, env.ledger)
    old, new = env.residents[0].address, Account.create().address
    m = clock.month + 1
    _issue_at(w3, env, clock, clock.start_of(m), old, 10, 1)
    _issue_at(w3, env, clock, clock.start_of(m + 1) + DAY, old, 5, 2)
    clock.next_block_at(clock.start_of(m + 2) + DAY)
    send_fixed_gas(w3, env.onboarding, env.membership.functions.requestRecovery(old, new))
    receipt = send_impersonated(w3, env.consortium.address, env.membership.functions.approveRecovery(old))
    expired = env.ledger.events.PointsExpired().process_receipt(receipt)[0]["args"]
    moved = [e["args"] for e in env.ledger.events.AccountMoved().process_receipt(receipt)
             if e["args"]["scheme"] == EXPIRING][0]
    assert (expired["account"], expired["amount"], moved["balance"]) == (old, 10, 5)
    assert (f.balanceOf(new, EXPIRING).call(), f.balanceOf(old, EXPIRING).call()) == (5, 0)
    assert tuple(f.expiringOf(new, EXPIRING).call()) == (5, last_day(m + 1, 1))  # the months moved with the points
    clock.mine_at(clock.start_of(m + 3))
    assert f.balanceOf(new, EXPIRING).call() == 0


# ---- balance reads are bounded -------------------------------------------------------------------------------------

def read_gas(w3, env, call) -> int:
    """The execution gas of a view call: its estimate less the calldata's own cost (an address with a zero byte is
    cheaper to send, which is not the read's cost)."""
    data = bytes.fromhex(call._encode_transaction_data()[2:])
    calldata = sum(4 if b == 0 else 16 for b in data)
    return w3.eth.estimate_gas({"to": env.ledger.address, "data": "0x" + data.hex()}) - calldata


def test_balanceOf_costsTheSameAfter100IssuancesAsAfterOne(w3, env, xp):
    xp(12)
    f, one, many = env.ledger.functions, env.residents[0].address, env.residents[1].address
    send(w3, env.issuer, f.issue(EXPIRING, one, 1, ref("one")))
    send(w3, env.issuer, f.issueBatch(EXPIRING, [many] * 100, [1] * 100, [ref(f"many-{k}") for k in range(100)]))
    assert (f.balanceOf(one, EXPIRING).call(), f.balanceOf(many, EXPIRING).call()) == (1, 100)
    gas = [read_gas(w3, env, f.balanceOf(a, EXPIRING)) for a in (one, many)]
    assert gas[0] == gas[1], gas


def test_balanceOf_readsAtMostTheWindowOverAYearOfIssuances(w3, env, xp):
    """One credit a month for 14 months: the read costs what the window's quarter words cost, not 14 months'."""
    xp(12)
    f, clock = env.ledger.functions, Clock(w3, env.ledger)
    monthly, once = env.residents[0].address, env.residents[1].address
    for k in range(14):
        _issue_at(w3, env, clock, clock.start_of(clock.month + 1 + k), monthly, 1, f"m{k}")
    _issue_at(w3, env, clock, clock.start_of(clock.month + 14) + DAY, once, 1, "once")
    clock.mine_at(clock.start_of(clock.month + 14) + 2 * DAY)
    assert f.balanceOf(monthly, EXPIRING).call() == 13  # the first month expired
    gas = [read_gas(w3, env, f.balanceOf(a, EXPIRING)) for a in (monthly, once)]
    assert gas[0] - gas[1] < 5 * 2_100, gas  # at most the window's other quarter words (cold reads) more


def test_balanceOf_ofANonExpiringSchemeReadsNoBuckets(w3, env):
    from .conftest import SCHEME
    f, a = env.ledger.functions, env.residents[0].address
    send(w3, env.issuer, f.issue(SCHEME, a, 5, ref(1)))
    assert tuple(f.expiringOf(a, SCHEME).call()) == (0, 0)
    assert f.schemeInfo(SCHEME).call()[6] == 0


def test_expiringOf_lastDayFollowsTheCalendar(w3, env, xp):
    """The last day of month m + N for N from 255 down: leap years, month lengths and year ends as Python's calendar
    counts them (PointsLedger computes them with H. Hinnant's days_from_civil)."""
    f, clock, a = env.ledger.functions, Clock(w3, env.ledger), env.residents[0].address
    xp(255)
    send(w3, env.issuer, f.issue(EXPIRING, a, 3, ref(1)))
    for months in range(255, 0, -11):
        if months != 255:
            xp(months)
        assert tuple(f.expiringOf(a, EXPIRING).call()) == (3, last_day(clock.month, months)), months
