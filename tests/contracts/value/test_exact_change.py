"""Exact change (issue 27) on the real chain: a redemption takes exactly the price; what the points burned are worth
beyond it stays with the resident as change in that scheme (PointsLedger.changeOf), spent first next time; the chain
takes only the signed plan and refuses plans that take too much or do not add up; refunds give value back at the
rate now. Value units: credit cents x 1e6."""
from __future__ import annotations

import pytest
from eth_account import Account
from web3.logs import DISCARD

from ledger_node.redemption_plan import Holding, plan

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import expect_revert, identity, send, send_impersonated
from .conftest import RATE_1, RATE_2, mint_points, part_values

NICKEL = 3  # a scheme whose points are worth 5 credit cents
RATE_NICKEL = 5_000_000
CENT = 10**6


@pytest.fixture
def nickel(w3, value):
    """Scheme NICKEL, active with its rate, for this test only."""
    consortium = value.city.consortium.address
    send_impersonated(w3, consortium, value.ledger.functions.addScheme(NICKEL, 10**6, 10**6))
    send_impersonated(w3, consortium, value.rates.functions.setInitialRate(NICKEL, RATE_NICKEL))
    return NICKEL


def _resident(w3, value, holdings: dict[int, int]):
    """A new resident holding `holdings` ({scheme: points}) and no change."""
    rates = {SCHEME: RATE_1, OTHER_SCHEME: RATE_2, NICKEL: RATE_NICKEL}
    resident = Account.create()
    send(w3, value.city.onboarding, value.city.membership.functions.registerResident(
        resident.address, identity(f"exact-{resident.address}")))
    for scheme, points in holdings.items():
        mint_points(w3, value.city, scheme, resident.address, points, rates[scheme], identity(f"{scheme}"))
    return resident


def _redeem(w3, value, resident, credits: int, parts=None):
    """Redeem with the planner's plan (or `parts`); returns (consent, Redeemed event, receipt)."""
    c = value.consent(w3, resident, credits, parts=parts)
    receipt = send(w3, value.city.merchant, value.redeem_fn(c))
    return c, value.redeemed(receipt), receipt


def _refund(w3, value, c, event, credits: int):
    receipt = send(w3, value.city.merchant, value.redemption.functions.refund(
        event["args"]["redemptionId"], c["resident"], c["merchant"], c["parts"], credits))
    (refunded,) = value.redemption.events.Refunded().process_receipt(receipt, errors=DISCARD)
    return refunded


def _state(value, resident, schemes=(SCHEME,)):
    """What a refused redemption must leave as it was: points, change, the merchant's net position."""
    return ([value.ledger.functions.balanceOf(resident.address, s).call() for s in schemes],
            [value.change(resident, s) for s in schemes],
            value.merchant_net(value.city.merchant.address))


def _conserves_redeemed(p: dict) -> bool:
    return p["value"] + p["changeBefore"] == p["credits"] * CENT + p["changeAfter"]


def _conserves_refunded(p: dict) -> bool:
    return p["credits"] * CENT + p["changeBefore"] == p["value"] + p["changeAfter"]


# ---- the issue's example -------------------------------------------------------------------------------------

def test_redeem_issueExample_threeVolunteerPointsPay25CentsAnd5CentsStayAsChange(w3, value):
    resident = _resident(w3, value, {SCHEME: 10})
    c, event, receipt = _redeem(w3, value, resident, 25)
    assert c["parts"] == [(SCHEME, 3, 25)]
    assert part_values(event) == [{"scheme": SCHEME, "points": 3, "value": 30 * CENT, "credits": 25,
                                   "changeBefore": 0, "changeAfter": 5 * CENT}]
    assert value.ledger.functions.balanceOf(resident.address, SCHEME).call() == 7
    assert value.change(resident, SCHEME) == 5 * CENT  # the 5 cents are the resident's, not the issuer's
    (update,) = value.ledger.events.ChangeUpdated().process_receipt(receipt, errors=DISCARD)
    assert (update["args"]["scheme"], update["args"]["account"], update["args"]["operator"],
            update["args"]["changeBefore"], update["args"]["changeAfter"], update["args"]["ref"]) == (
        SCHEME, resident.address, value.redemption.address, 0, 5 * CENT, event["args"]["redemptionId"])
    # the merchant is owed exactly the price
    assert value.merchant_net(value.city.merchant.address) == -25
    # what can be redeemed now counts the change: 7 points (70 cents) + 5 cents
    assert value.redemption.functions.availableCredits(resident.address).call() == 75


def test_redeem_issueExample_withAFiveCentScheme_twoPlusOnePointsAndNoChange(w3, value, nickel):
    resident = _resident(w3, value, {SCHEME: 10, NICKEL: 10})
    c, event, receipt = _redeem(w3, value, resident, 25)
    # 25 cents exactly: 2 volunteer points and 1 five-cent point (the ledger's order breaks the tie with 5 nickels)
    assert c["parts"] == [(SCHEME, 2, 20), (NICKEL, 1, 5)]
    assert all(p["changeAfter"] == 0 and _conserves_redeemed(p) for p in part_values(event))
    assert (value.change(resident, SCHEME), value.change(resident, NICKEL)) == (0, 0)
    assert not value.ledger.events.ChangeUpdated().process_receipt(receipt, errors=DISCARD)
    assert value.clearing.functions.merchantPosition(1, NICKEL, value.city.merchant.address).call() == 5


def test_redeem_changeIsSpentFirstByTheNextRedemption(w3, value):
    resident = _resident(w3, value, {SCHEME: 10})
    _redeem(w3, value, resident, 25)  # 3 points, 5 cents of change
    c, event, _ = _redeem(w3, value, resident, 25)
    assert c["parts"] == [(SCHEME, 2, 25)]  # 5 cents of change and 2 points: 2 points fewer than rounding up
    (p,) = part_values(event)
    assert (p["changeBefore"], p["changeAfter"]) == (5 * CENT, 0) and _conserves_redeemed(p)
    assert value.ledger.functions.balanceOf(resident.address, SCHEME).call() == 5


def test_redeem_changeOnlyPart_burnsNoPoint(w3, value):
    resident = _resident(w3, value, {SCHEME: 10})
    _redeem(w3, value, resident, 25)  # 5 cents of change
    assert plan(4, [Holding(SCHEME, 7, 5 * CENT, RATE_1)])[0].as_tuple() == (SCHEME, 0, 4)
    c, event, receipt = _redeem(w3, value, resident, 4)
    assert c["parts"] == [(SCHEME, 0, 4)]
    assert part_values(event) == [{"scheme": SCHEME, "points": 0, "value": 0, "credits": 4,
                                   "changeBefore": 5 * CENT, "changeAfter": CENT}]
    assert not value.ledger.events.PointsBurned().process_receipt(receipt, errors=DISCARD)
    assert value.ledger.functions.balanceOf(resident.address, SCHEME).call() == 7
    assert value.merchant_net(value.city.merchant.address) == -29


def test_availableCredits_countsChangeFlooredToACentPerScheme(w3, value):
    resident = _resident(w3, value, {SCHEME: 10, OTHER_SCHEME: 3})
    # 3 traffic points are worth 99.999999 cents: 99 of them pay, the rest stays
    _redeem(w3, value, resident, 99, parts=[(OTHER_SCHEME, 3, 99)])
    assert value.change(resident, OTHER_SCHEME) == 3 * RATE_2 - 99 * CENT == 999_999
    assert value.redemption.functions.availableCredits(resident.address).call() == 100  # 0.999999 cent is no cent
    _redeem(w3, value, resident, 25, parts=[(SCHEME, 3, 25)])
    assert value.redemption.functions.availableCredits(resident.address).call() == 75


# ---- plans the chain refuses, changing nothing ----------------------------------------------------------------

def test_redeem_planBurningAWholePointTooMany_isRefused(w3, value):
    resident = _resident(w3, value, {SCHEME: 10})
    before = _state(value, resident)
    c = value.consent(w3, resident, 25, parts=[(SCHEME, 4, 25)])  # 40 cents' worth for 25: one point too many
    args = expect_revert(w3, value.city.merchant, value.redeem_fn(c), "RedemptionPlanTakesTooMuch")
    # (scheme, points, ..., rate); the third value is the part's credits today, though IRedemption names it
    # changeAfter (15 cents here): reported to the lead, not asserted
    assert (args[0], args[1], args[3]) == (SCHEME, 4, RATE_1)
    assert _state(value, resident) == before
    assert not value.redemption.functions.nonceUsed(resident.address, c["nonce"]).call()


def test_redeem_tamperedPlan_isRefused(w3, value, nickel):
    resident = _resident(w3, value, {SCHEME: 10, NICKEL: 10})
    before = _state(value, resident, (SCHEME, NICKEL))
    c = value.consent(w3, resident, 25)
    assert c["parts"] == [(SCHEME, 2, 20), (NICKEL, 1, 5)]
    for forged in ([(SCHEME, 3, 25)], [(SCHEME, 2, 15), (NICKEL, 2, 10)], [(NICKEL, 1, 5), (SCHEME, 2, 20)]):
        expect_revert(w3, value.city.merchant, value.redeem_fn({**c, "parts": forged}), "ResidentSignatureInvalid",
                      (resident.address,))
    assert _state(value, resident, (SCHEME, NICKEL)) == before


def test_redeem_partsNotAddingUp_areRefused(w3, value):
    resident = _resident(w3, value, {SCHEME: 10})
    before = _state(value, resident)
    c = value.consent(w3, resident, 30, parts=[(SCHEME, 3, 25)])
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "RedemptionPlanMismatch", (30, 25))
    assert _state(value, resident) == before


def test_redeem_malformedPlans_areRefused(w3, value, nickel):
    resident = _resident(w3, value, {SCHEME: 10, NICKEL: 10})
    before = _state(value, resident, (SCHEME, NICKEL))
    cases = [
        ([(SCHEME, 2, 20), (SCHEME, 1, 5)], 25, (1,)),  # a scheme twice
        ([], 25, (0,)),  # no part
        ([(SCHEME, 3, 25), (NICKEL, 0, 0)], 25, (1,)),  # a part paying nothing
        ([(1000 + i, 0, 1) for i in range(17)], 17, (17,)),  # more than MAX_PARTS
    ]
    assert value.redemption.functions.MAX_PARTS().call() == 16
    for parts, credits, args in cases:
        c = value.consent(w3, resident, credits, parts=parts)
        expect_revert(w3, value.city.merchant, value.redeem_fn(c), "RedemptionInvalidPlan", args)
    assert _state(value, resident, (SCHEME, NICKEL)) == before


def test_redeem_partOfASchemeWithoutRate_isRefused(w3, value):
    resident = _resident(w3, value, {SCHEME: 10})
    send_impersonated(w3, value.city.consortium.address, value.ledger.functions.addScheme(7, 10**6, 10**6))
    c = value.consent(w3, resident, 25, parts=[(SCHEME, 2, 20), (7, 0, 5)])
    expect_revert(w3, value.city.merchant, value.redeem_fn(c), "RedemptionNoRate", (7,))
    assert _state(value, resident) == ([10], [0], 0)


# ---- refunds --------------------------------------------------------------------------------------------------

def test_refund_full_restoresExactlyThePointsAndTakesBackTheChange(w3, value):
    resident = _resident(w3, value, {SCHEME: 10})
    c, event, _ = _redeem(w3, value, resident, 25)
    refunded = _refund(w3, value, c, event, 25)
    assert part_values(refunded) == [{"scheme": SCHEME, "points": 3, "value": 30 * CENT, "credits": 25,
                                      "changeBefore": 5 * CENT, "changeAfter": 0}]
    assert _state(value, resident) == ([10], [0], 0)


def test_refund_partialRefundsAddUpToTheFullOne(w3, value, nickel):
    resident = _resident(w3, value, {SCHEME: 10, NICKEL: 10})
    c, event, _ = _redeem(w3, value, resident, 37, parts=[(SCHEME, 3, 27), (NICKEL, 2, 10)])  # 3 + 0 cents of change
    assert value.change(resident, SCHEME) == 3 * CENT
    given = []
    for credits in (4, 9, 20, 4):  # 4 of the nickel part, 6 + 3, 20, 4
        refunded = _refund(w3, value, c, event, credits)
        assert sum(p["credits"] for p in part_values(refunded)) == credits
        assert all(_conserves_refunded(p) for p in part_values(refunded))
        given += part_values(refunded)
    assert [p["scheme"] for p in given] == [NICKEL, NICKEL, SCHEME, SCHEME, SCHEME]  # last part first
    assert _state(value, resident, (SCHEME, NICKEL)) == ([10, 10], [0, 0], 0)
    assert value.redemption.functions.redemption(event["args"]["redemptionId"]).call()[1] == 37


def test_refund_afterARateChange_givesTheValueBackAtTheRateNow(w3, value):
    resident = _resident(w3, value, {SCHEME: 10})
    c, event, _ = _redeem(w3, value, resident, 25)  # 3 points at 10 cents, 5 cents of change
    send_impersonated(w3, value.city.consortium.address, value.rates.functions.setRate(SCHEME, 7 * CENT))
    refunded = _refund(w3, value, c, event, 25)
    # 25 cents + 5 cents of change = 30 cents at 7 cents a point: 4 points and 2 cents of change
    (p,) = part_values(refunded)
    assert p == {"scheme": SCHEME, "points": 4, "value": 28 * CENT, "credits": 25, "changeBefore": 5 * CENT,
                 "changeAfter": 2 * CENT}
    assert _conserves_refunded(p)
    assert _state(value, resident) == ([11], [2 * CENT], 0)
    # at the rate now the resident held 7 points and 5 cents (54 cents) and gets 25 back: worth 79 cents, exactly
    assert 11 * 7 * CENT + 2 * CENT == 7 * 7 * CENT + 5 * CENT + 25 * CENT
