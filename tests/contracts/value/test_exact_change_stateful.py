"""Exact change (issue 27) as properties.

1. A stateful test on the real chain over random rates (sub-cent, non-divisible, changed mid-run), balances,
   preferred orders, prices, redemptions, refunds and exchanges, against exact_model.py:
   - every Redeemed part, Refunded share and Exchanged side conserves value to the value unit (from the events);
   - no redemption takes more value than the price plus the change it leaves, and never a whole point more than the
     price needs (change after < change before + one point);
   - the resident's change in every scheme (changeOf) and points are the model's after every step;
   - total value is conserved by every flow: the resident's worth (points at the rates now plus change) and the
     merchant's credits (x 1e6) add up to the same before and after a redemption or refund; an exchange leaves the
     resident's worth as it was;
   - the plan the API would make from the chain (plan_on_chain) is the model's, and the chain takes it.
2. A plain hypothesis test of the planner against a brute-force search on small cases: the least value of points
   burned, ties broken by the resident's order, and every plan one the chain takes.
Fast: the `ci` profile's settings scaled down (a few seconds); `HYPOTHESIS_PROFILE=deep` runs it longer.
"""
from __future__ import annotations

import itertools
import os
from collections import Counter

from hypothesis import given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test
from web3.logs import DISCARD

from ledger_node.redemption_plan import Holding, NotEnoughValue, payable, plan
from ledger_node.typed_data import sign, typed_data

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import hypothesis_profile, send, send_impersonated
from .conftest import part_values, parts_of
from .exact_model import (SCALE, ExactModel, Rejected, conserves_exchanged, conserves_redeemed,
                          conserves_refunded)

THIRD = 3
SCHEMES = (SCHEME, OTHER_SCHEME, THIRD)
PAIRS = [(SCHEME, OTHER_SCHEME), (OTHER_SCHEME, SCHEME), (SCHEME, THIRD), (THIRD, OTHER_SCHEME)]
SLOTS = 3
# rates in value units a point: sub-cent, non-divisible, whole cents, and any
# (a scheme at a few value units a point is worth nothing in cents: it takes part only through exchanges and change)
RATES = st.one_of(st.sampled_from([10_000_000, 33_333_333, 999_999, 333_333, 1_000_000, 123_456_789, 7, 1]),
                  st.integers(100_000, 50_000_000))
RATE_CHANGES = 4  # per example: rates change now and then, so refunds and change meet new rates
STEPS = {"count": 0}
OUTCOMES: Counter = Counter()  # what the flows did, printed after the run


def _settings(**scale) -> settings:
    profile = settings.get_profile(hypothesis_profile())
    return settings(profile, max_examples=max(3, profile.max_examples // scale.get("examples", 1)),
                    stateful_step_count=max(10, profile.stateful_step_count // scale.get("steps", 1)))


class ExactChangeMachine(RuleBasedStateMachine):
    w3 = None
    v = None

    def __init__(self):
        super().__init__()
        self.snapshot = self.w3.provider.make_request("evm_snapshot", [])["result"]
        self.model = None
        self.rate_changes = 0

    def teardown(self):
        assert self.w3.provider.make_request("evm_revert", [self.snapshot])["result"]

    @initialize(rates=st.tuples(RATES, RATES, RATES),
                holdings=st.lists(st.tuples(*[st.integers(0, 400)] * 3), min_size=SLOTS, max_size=SLOTS))
    def setup(self, rates, holdings):
        v, consortium = self.v, self.v.city.consortium.address
        ledger, f = v.ledger, v.ledger.functions
        send_impersonated(self.w3, consortium, f.addScheme(THIRD, 10**9, 10**6))
        send_impersonated(self.w3, consortium, v.rates.functions.setInitialRate(THIRD, rates[2]))
        for s, rate in zip((SCHEME, OTHER_SCHEME), rates):
            send_impersonated(self.w3, consortium, v.rates.functions.setRate(s, rate))
        for a, b in PAIRS[2:]:
            send_impersonated(self.w3, consortium, v.exchange.functions.setPairAllowed(a, b, True))
        send_impersonated(self.w3, consortium, v.exchange.functions.setDailyLimit(10**15))
        self.model = ExactModel(SCHEMES, dict(zip(SCHEMES, rates)))
        self.residents = v.city.residents[-SLOTS:]  # the value city's, holding the start balances of conftest
        self.order = {}
        for r, extra in zip(self.residents, holdings):
            start = {s: ledger.functions.balanceOf(r.address, s).call() for s in SCHEMES}
            for s, n in zip(SCHEMES, extra):
                if n:
                    send(self.w3, v.city.ledger_operator, f.mintValue(s, r.address, n * self.model.rates[s],
                                                                      self.model.rates[s], os.urandom(32)))
            self.model.add_resident(r.address, {s: start[s] + n for s, n in zip(SCHEMES, extra)})
            self.order[r.address] = []
        self.redemptions: list[dict] = []

    def _merchant_owed(self) -> int:
        return -self.v.merchant_net(self.v.city.merchant.address)

    # ---- rules -----------------------------------------------------------------------------------

    @rule(i=st.integers(0, SLOTS - 1), order=st.permutations(SCHEMES), keep=st.integers(0, 3))
    def set_preferred_order(self, i, order, keep):
        STEPS["count"] += 1
        r, v = self.residents[i], self.v
        schemes = list(order[:keep])
        message = {"resident": r.address, "schemes": schemes, "nonce": os.urandom(32),
                   "deadline": self.w3.eth.get_block("latest")["timestamp"] + 3600}
        signature = sign(r, typed_data("PreferredOrder", self.w3.eth.chain_id, v.redemption.address, message))
        send(self.w3, v.city.relayer, v.redemption.functions.setPreferredOrder(
            r.address, schemes, message["nonce"], message["deadline"], signature))
        self.order[r.address] = schemes
        OUTCOMES["preferred order set"] += 1

    @rule(i=st.integers(0, SLOTS - 1), percent=st.integers(1, 104))
    def redeem(self, i, percent):
        STEPS["count"] += 1
        r, v, model = self.residents[i], self.v, self.model
        available = sum(payable(h) for h in model.holdings(r.address, []))
        credits = max(1, available * percent // 100)
        planned = model.plan(r.address, credits, self.order[r.address])
        if planned is None:  # beyond what the points and change pay: nothing to sign but a short plan
            assert percent > 100 or available == 0
            OUTCOMES["redeem: no plan"] += 1
            return
        assert v.plan(r, credits) == planned  # what the API would offer from the chain
        worth, owed = model.worth(r.address), self._merchant_owed()
        expected = model.take(r.address, credits, planned)
        c = v.consent(self.w3, r, credits, parts=planned)
        event = v.redeemed(send(self.w3, v.city.merchant, v.redeem_fn(c)))
        assert parts_of(event) == planned and part_values(event) == expected
        for p in expected:
            assert conserves_redeemed(p)
            # no more value than the price and the change left, and never a whole point more than needed
            assert p["value"] == p["credits"] * SCALE + p["changeAfter"] - p["changeBefore"]
            assert p["changeAfter"] < p["changeBefore"] + model.rates[p["scheme"]]
        assert model.worth(r.address) == worth - credits * SCALE
        assert model.worth(r.address) + self._merchant_owed() * SCALE == worth + owed * SCALE
        self.redemptions.append({"id": event["args"]["redemptionId"], "resident": r.address, "parts": planned,
                                 "credits": credits, "refunded": 0})
        OUTCOMES[f"redeem: {len(planned)} part(s)"] += 1
        OUTCOMES["redeem: change left"] += any(p["changeAfter"] for p in expected)

    @precondition(lambda self: self.redemptions)
    @rule(k=st.integers(0, 10**6), percent=st.one_of(st.just(100), st.integers(1, 100)))
    def refund(self, k, percent):
        STEPS["count"] += 1
        v, model = self.v, self.model
        red = self.redemptions[k % len(self.redemptions)]
        left = red["credits"] - red["refunded"]
        if left == 0:
            return
        credits = max(1, left * percent // 100)
        worth, owed = model.worth(red["resident"]), self._merchant_owed()
        expected = model.give_back(red["resident"], red["parts"], red["refunded"], red["refunded"] + credits)
        receipt = send(self.w3, v.city.merchant, v.redemption.functions.refund(
            red["id"], red["resident"], v.city.merchant.address, red["parts"], credits))
        (event,) = v.redemption.events.Refunded().process_receipt(receipt, errors=DISCARD)
        assert part_values(event) == expected and all(conserves_refunded(p) for p in expected)
        assert sum(p["credits"] for p in expected) == credits
        assert model.worth(red["resident"]) == worth + credits * SCALE
        assert model.worth(red["resident"]) + self._merchant_owed() * SCALE == worth + owed * SCALE
        red["refunded"] += credits
        OUTCOMES["refund: full" if red["refunded"] == red["credits"] else "refund: partial"] += 1

    @rule(i=st.integers(0, SLOTS - 1), pair=st.sampled_from(PAIRS), percent=st.integers(1, 100),
          bought=st.one_of(st.none(), st.integers(1, 5)))
    def exchange(self, i, pair, percent, bought):
        """Exchange a share of the resident's points of `a`, or about what buys `bought` points of `b`."""
        STEPS["count"] += 1
        r, v, model = self.residents[i], self.v, self.model
        a, b = pair
        if bought is None:
            points = max(1, model.points[r.address][a] * percent // 100)
        else:
            points = max(1, -(-bought * model.rates[b] // model.rates[a]))
        try:
            credits, taken, given = model.exchange(r.address, a, b, points, 0)
        except Rejected as exc:
            intent = v.intent(self.w3, r, a, b, points)
            before = (model.points[r.address][a], model.change[r.address][a])
            try:
                send(self.w3, v.city.relayer, v.exchange_fn(intent))
            except Exception as failure:  # noqa: BLE001 - the chain's error is compared with the model's
                assert getattr(failure, "error", None) == exc.error, (failure, exc.error)
            else:
                raise AssertionError(f"the model expected {exc.error}, the exchange went through")
            assert (v.ledger.functions.balanceOf(r.address, a).call(), v.change(r, a)) == before
            OUTCOMES[f"exchange: {exc.error}"] += 1
            return
        worth = model.worth(r.address)
        receipt = send(self.w3, v.city.relayer, v.exchange_fn(v.intent(self.w3, r, a, b, points, given["points"])))
        (ev,) = v.exchange.events.Exchanged().process_receipt(receipt, errors=DISCARD)
        args = ev["args"]
        assert (args["credits"], dict(args["taken"]), dict(args["given"])) == (credits, taken, given)
        assert conserves_exchanged(args["credits"], args["taken"], args["given"])
        model.apply_exchange(r.address, a, b, taken, given)
        assert model.worth(r.address) == worth  # value in = value out, change included
        OUTCOMES["exchange: done"] += 1

    @rule(i=st.integers(0, SLOTS - 1), scheme=st.sampled_from(SCHEMES), points=st.integers(1, 300))
    def top_up(self, i, scheme, points):
        """Credit `points` points' worth at the rate now (as an exchange's receiving side does): with the change
        there (more than a point after a rate cut) it becomes whole points, the rest stays."""
        STEPS["count"] += 1
        r, model = self.residents[i], self.model
        rate = model.rates[scheme]
        send(self.w3, self.v.city.ledger_operator, self.v.ledger.functions.mintValue(
            scheme, r.address, points * rate, rate, os.urandom(32)))
        minted, model.change[r.address][scheme] = divmod(model.change[r.address][scheme] + points * rate, rate)
        model.points[r.address][scheme] += minted
        OUTCOMES["top up"] += 1

    @precondition(lambda self: self.model is not None and self.rate_changes < RATE_CHANGES)
    @rule(scheme=st.sampled_from(SCHEMES), rate=RATES)
    def change_rate(self, scheme, rate):
        STEPS["count"] += 1
        send_impersonated(self.w3, self.v.city.consortium.address, self.v.rates.functions.setRate(scheme, rate))
        self.model.rates[scheme] = rate
        self.rate_changes += 1
        OUTCOMES["rate changed"] += 1

    # ---- invariants ------------------------------------------------------------------------------

    @invariant()
    def points_and_change_are_the_models(self):
        if self.model is None:
            return
        ledger = self.v.ledger.functions
        with self.w3.batch_requests() as batch:
            for r in self.residents:
                for s in SCHEMES:
                    batch.add(ledger.balanceOf(r.address, s))
                    batch.add(ledger.changeOf(r.address, s))
            actual = batch.execute()
        expected = [x for r in self.residents for s in SCHEMES
                    for x in (self.model.points[r.address][s], self.model.change[r.address][s])]
        assert actual == expected


def test_exactChange_valueIsConservedOnTheChain(w3, value):
    ExactChangeMachine.w3, ExactChangeMachine.v = w3, value
    STEPS["count"] = 0
    OUTCOMES.clear()
    run_state_machine_as_test(ExactChangeMachine, settings=_settings(examples=5, steps=2))
    print(f"\nexact change stateful steps run: {STEPS['count']}; {dict(sorted(OUTCOMES.items()))}")
    # every flow ran: redemptions leaving change, refunds full and partial, exchanges, rate changes
    for outcome in ("redeem: change left", "refund: full", "refund: partial", "exchange: done", "rate changed"):
        assert OUTCOMES[outcome] > 0, (outcome, dict(OUTCOMES))


# ---- the planner against brute force -----------------------------------------------------------------------

PLANNER_RATES = st.sampled_from([1, 7, 333_333, 999_999, 1_000_000, 3_000_000, 5_000_000, 10_000_000, 33_333_333])


@st.composite
def small_cases(draw):
    n = draw(st.integers(1, 3))
    holdings = []
    for scheme in draw(st.permutations([1, 2, 3, 4]))[:n]:  # the resident's order
        rate = draw(st.one_of(st.just(0), PLANNER_RATES, PLANNER_RATES))
        holdings.append(Holding(scheme, draw(st.integers(0, 6)), draw(st.integers(0, max(0, rate - 1))), rate))
    available = sum(payable(h) for h in holdings)
    credits = draw(st.integers(1, max(1, available + 2)))
    return holdings, credits


def _brute_force(holdings: list[Holding], credits: int):
    """(least value of points burned, the most-preferred count vector burning it) over every count vector (points
    without a rate cannot be in a plan)."""
    best = None
    for counts in itertools.product(*[range(h.points + 1 if h.rate else 1) for h in holdings]):
        if sum(payable(h, k) for h, k in zip(holdings, counts)) < credits:
            continue
        burned = sum(k * h.rate for h, k in zip(holdings, counts))
        key = (burned, [-k for k in counts])  # least value, then most from the earlier (preferred) holdings
        if best is None or key < best[0]:
            best = (key, counts)
    return None if best is None else (best[0][0], list(best[1]))


@given(small_cases())
@settings(parent=settings.get_profile(hypothesis_profile()), max_examples=400)
def test_plan_burnsTheLeastValueTiesInTheResidentsOrder_likeBruteForce(case):
    holdings, credits = case
    best = _brute_force(holdings, credits)
    if best is None:
        try:
            plan(credits, holdings)
        except NotEnoughValue as exc:
            assert exc.available < credits
            return
        raise AssertionError("a plan for more than the holdings pay")
    parts = plan(credits, holdings)
    by_scheme = {h.scheme: h for h in holdings}
    counts = [next((p.points for p in parts if p.scheme == h.scheme), 0) for h in holdings]
    assert sum(counts[i] * h.rate for i, h in enumerate(holdings)) == best[0]  # the least value burned
    assert counts == best[1]  # ties: the resident's order
    # every plan is one the chain takes: distinct schemes, each part paying > 0 and at most its worth, never a
    # whole point more than it needs, adding up to the price
    assert len({p.scheme for p in parts}) == len(parts) and sum(p.credits for p in parts) == credits
    for p in parts:
        h = by_scheme[p.scheme]
        assert h.rate > 0 and 0 < p.credits <= payable(h, p.points) and p.points <= h.points
        assert p.points == 0 or (p.points - 1) * h.rate < p.credits * SCALE
