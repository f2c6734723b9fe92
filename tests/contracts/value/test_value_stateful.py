"""Stateful property test of the value contracts against a small Python reference model.

Rules: issue, redeem (valid, replayed, expired, wrong signer, suspended merchant, too large), refund (partial,
too large), exchange (valid, below minimum, disallowed pair), close period, suspend/reinstate merchant,
pause/resume and (rarely) retire a scheme, recover a resident's key (sometimes after an objection whose signature
is then replayed against the next request of the same recovery).
Invariants after every step (issue 5):
- per scheme: issued - exchanged out + exchanged in - redeemed + refunded = total supply = sum of balances;
- credits redeemed - refunded = what issuers owe merchants before netting; every party's net sums to zero;
- a consent or intent that must fail changes nothing;
- rounding never increases the credit value of a resident's holdings;
- refunds work whatever the parts' schemes' status (issue 18) and credit the resident's current key, never a
  recovered old one (Refunded.creditedTo): every old key holds nothing;
- a signed objection replayed against a later recovery request is refused and changes nothing.
"""
from __future__ import annotations

import os

from eth_account import Account
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from ledger_node import chain

from ..conftest import CAP, OTHER_SCHEME, SCHEME
from ledger_node.typed_data import sign, typed_data

from ..helpers import hypothesis_profile, send, send_impersonated
from .conftest import RATE_1, RATE_2, START_1, START_2

SCHEMES = (SCHEME, OTHER_SCHEME)
RATES = {SCHEME: RATE_1, OTHER_SCHEME: RATE_2}
SCALE = 10**6
SLOTS = 4
ACTIVE, PAUSED, RETIRED = 1, 2, 3
STEPS = {"count": 0}
ZERO = "0x" + "00" * 20


def value_of(balances: dict[int, int]) -> int:
    return sum(b * RATES[s] // SCALE for s, b in balances.items())


class Model:
    def __init__(self, residents: list[str]):
        self.balances = {r: {SCHEME: START_1, OTHER_SCHEME: START_2} for r in residents}
        base = len(residents) and {SCHEME: 0, OTHER_SCHEME: 0}
        self.flows = {s: {"issued": 0, "out": 0, "in": 0, "redeemed": 0, "refunded": 0} for s in SCHEMES}
        self.start_supply = dict(base)
        self.credits_redeemed = 0
        self.credits_refunded = 0
        self.redemptions: list[dict] = []
        self.status = {s: ACTIVE for s in SCHEMES}
        self.moved_to: dict[str, str] = {}  # recovered old key -> the key it was recovered to

    def current(self, account: str) -> str:
        while account in self.moved_to:
            account = self.moved_to[account]
        return account

    def plan(self, resident: str, credits: int) -> list[tuple[int, int, int]] | None:
        parts, remaining = [], credits
        for s in SCHEMES:  # no preferred order set: the ledger's order
            if remaining == 0:
                break
            if self.status[s] == PAUSED:  # passed over
                continue
            bal = self.balances[resident][s]
            if bal == 0:
                continue
            need = -(-remaining * SCALE // RATES[s])
            if bal >= need:
                parts.append((s, need, remaining))
                remaining = 0
            else:
                v = bal * RATES[s] // SCALE
                if v == 0:
                    continue
                parts.append((s, bal, v))
                remaining -= v
        return parts if remaining == 0 else None


class ValueMachine(RuleBasedStateMachine):
    w3 = None
    v = None
    supply0: dict[int, int] = {}

    def __init__(self):
        super().__init__()
        self.snapshot = self.w3.provider.make_request("evm_snapshot", [])["result"]

    @initialize()
    def setup(self):
        city = self.v.city
        self.residents = city.residents[:SLOTS]
        self.model = Model([r.address for r in self.residents])
        self.suspended = False
        others = [r.address for r in city.residents[SLOTS:]]
        self.others_held = {s: sum(self.v.ledger.functions.balanceOf(a, s).call() for a in others) for s in SCHEMES}

    def teardown(self):
        assert self.w3.provider.make_request("evm_revert", [self.snapshot])["result"]

    # ---- helpers ---------------------------------------------------------------------------------

    def _expect_unchanged(self, fn, sender, error: str):
        before = self._chain_state()
        try:
            send(self.w3, sender, fn)
        except chain.TransactionFailed as exc:
            assert exc.error == error, f"expected {error}, got {exc.error}"
        else:
            raise AssertionError(f"expected {error}, the call succeeded")
        assert self._chain_state() == before

    def _chain_state(self):
        ledger = self.v.ledger.functions
        accounts = [r.address for r in self.residents for _ in SCHEMES]
        ids = [s for _ in self.residents for s in SCHEMES]
        return (tuple(ledger.balanceOfBatch(accounts, ids).call()),
                tuple(ledger.totalSupply(s).call() for s in SCHEMES),
                self.v.clearing.functions.merchantNet(self.v.city.merchant.address).call())

    def _count(self):
        STEPS["count"] += 1

    # ---- rules -----------------------------------------------------------------------------------

    @rule(i=st.integers(0, SLOTS - 1), scheme=st.sampled_from(SCHEMES), amount=st.integers(1, 40))
    def issue(self, i, scheme, amount):
        self._count()
        city, r = self.v.city, self.residents[i]
        issuer = city.issuer if scheme == SCHEME else city.other_issuer
        if self.model.status[scheme] != ACTIVE:
            fn = self.v.ledger.functions.issue(scheme, r.address, amount, os.urandom(32))
            return self._expect_unchanged(fn, issuer, "PointsLedgerSchemeNotActive")
        received = self.v.ledger.functions.receivedToday(scheme, r.address).call()
        if received + amount > CAP:
            return
        send(self.w3, issuer, self.v.ledger.functions.issue(scheme, r.address, amount, os.urandom(32)))
        self.model.balances[r.address][scheme] += amount
        self.model.flows[scheme]["issued"] += amount

    @rule(i=st.integers(0, SLOTS - 1), credits=st.integers(1, 9_000))
    def redeem(self, i, credits):
        self._count()
        r, model = self.residents[i], self.model
        c = self.v.consent(self.w3, r, credits)
        plan = model.plan(r.address, credits)
        if self.suspended:
            return self._expect_unchanged(self.v.redeem_fn(c), self.v.city.merchant, "RedemptionMerchantNotActive")
        if plan is None:
            return self._expect_unchanged(self.v.redeem_fn(c), self.v.city.merchant, "RedemptionInsufficientCredits")
        before = value_of(model.balances[r.address])
        receipt = send(self.w3, self.v.city.merchant, self.v.redeem_fn(c))
        assert self.v.redeemed_parts(receipt) == plan
        for s, pts, _ in plan:
            model.balances[r.address][s] -= pts
            model.flows[s]["redeemed"] += pts
        model.credits_redeemed += credits
        assert value_of(model.balances[r.address]) <= before - credits + len(plan)  # no value created
        rid = self.v.redemption.functions.redemptionIdOf(r.address, c["nonce"]).call()
        model.redemptions.append({"id": rid, "resident": r.address, "parts": plan, "credits": credits,
                                  "refunded": 0, "consent": c})

    @rule(i=st.integers(0, SLOTS - 1), kind=st.sampled_from(["replay", "expired", "forged"]))
    def redeem_bad(self, i, kind):
        self._count()
        r, v = self.residents[i], self.v
        if kind == "replay":
            if not self.model.redemptions:
                return
            c, error = self.model.redemptions[-1]["consent"], "ResidentNonceUsed"
        elif kind == "expired":
            now = self.w3.eth.get_block("latest")["timestamp"]
            c, error = v.consent(self.w3, r, 10, deadline=now - 1), "ResidentSignatureExpired"
        else:
            c, error = v.consent(self.w3, r, 10, signer=self.residents[(i + 1) % SLOTS]), "ResidentSignatureInvalid"
        if self.suspended:  # the merchant is checked before the consent
            error = "RedemptionMerchantNotActive"
        self._expect_unchanged(v.redeem_fn(c), v.city.merchant, error)

    @precondition(lambda self: self.model.redemptions)
    @rule(k=st.integers(0, 10**6), fraction=st.integers(1, 100), too_much=st.booleans())
    def refund(self, k, fraction, too_much):
        self._count()
        model, v = self.model, self.v
        red = model.redemptions[k % len(model.redemptions)]
        left = red["credits"] - red["refunded"]
        fn = lambda c: v.redemption.functions.refund(  # noqa: E731
            red["id"], red["resident"], v.city.merchant.address, red["parts"], c)
        if too_much or left == 0:
            return self._expect_unchanged(fn(left + 1), v.city.merchant, "RedemptionRefundTooLarge")
        credits = max(1, left * fraction // 100)
        before, total = red["refunded"], red["refunded"] + credits
        later = 0
        expected = []
        for s, pts, c in reversed(red["parts"]):
            old = min(max(before - later, 0), c)
            new = min(max(total - later, 0), c)
            later += c
            if new != old:
                expected.append((s, pts * new // c - pts * old // c, new - old))
        receipt = send(self.w3, v.city.merchant, fn(credits))  # whatever the schemes' status
        (ev,) = v.redemption.events.Refunded().process_receipt(receipt, errors=__import__("web3").logs.DISCARD)
        from .conftest import parts_of

        assert parts_of(ev) == expected
        holder = model.current(red["resident"])
        assert ev["args"]["creditedTo"] == holder
        for s, pts, _ in expected:
            model.balances[holder][s] += pts
            model.flows[s]["refunded"] += pts
        red["refunded"] = total
        model.credits_refunded += credits

    @rule(i=st.integers(0, SLOTS - 1), forward=st.booleans(), points=st.integers(1, 200), greedy=st.booleans(),
          disallowed=st.booleans())
    def exchange(self, i, forward, points, greedy, disallowed):
        self._count()
        r, model, v = self.residents[i], self.model, self.v
        a, b = (SCHEME, OTHER_SCHEME) if forward else (OTHER_SCHEME, SCHEME)
        if model.status[a] != ACTIVE or model.status[b] != ACTIVE:
            return  # exchanges need both schemes active (tests/contracts/value/test_exchange.py)
        if disallowed:
            intent = v.intent(self.w3, r, a, a, points)
            return self._expect_unchanged(v.exchange_fn(intent), v.city.relayer, "ExchangePairNotAllowed")
        credits = points * RATES[a] // SCALE
        received = credits * SCALE // RATES[b]
        if greedy:  # ask for one more than the rates give
            intent = v.intent(self.w3, r, a, b, points, received + 1)
            return self._expect_unchanged(v.exchange_fn(intent), v.city.relayer, "ExchangeBelowMinimum")
        intent = v.intent(self.w3, r, a, b, points, received)
        used = v.exchange.functions.usedToday(r.address).call()
        limit = v.exchange.functions.dailyLimit().call()
        if received == 0:
            error = "ExchangeBelowMinimum"
        elif used + credits > limit:
            error = "ExchangeDailyLimitExceeded"
        elif model.balances[r.address][a] < points:
            error = "PointsLedgerInsufficientBalance"
        else:
            error = None
        if error:
            return self._expect_unchanged(v.exchange_fn(intent), v.city.relayer, error)
        before = value_of(model.balances[r.address])
        send(self.w3, v.city.relayer, v.exchange_fn(intent))
        model.balances[r.address][a] -= points
        model.balances[r.address][b] += received
        model.flows[a]["out"] += points
        model.flows[b]["in"] += received
        assert value_of(model.balances[r.address]) <= before  # rounding never creates value

    @rule()
    def close_period(self):
        self._count()
        send(self.w3, self.v.city.ops, self.v.clearing.functions.closePeriod())

    @rule()
    def toggle_merchant(self):
        self._count()
        self.suspended = not self.suspended
        send_impersonated(self.w3, self.v.city.consortium.address, self.v.city.membership.functions.setMerchantSuspended(
            self.v.city.merchant.address, self.suspended))

    @rule(scheme=st.sampled_from(SCHEMES), roll=st.integers(0, 9))
    def pause_resume_or_retire(self, scheme, roll):
        self._count()
        ledger, status = self.v.ledger.functions, self.model.status
        if status[scheme] == RETIRED:
            return
        if roll == 0:  # rarely: retirement is final
            fn, new = ledger.retireScheme(scheme), RETIRED
        elif status[scheme] == ACTIVE:
            fn, new = ledger.pauseScheme(scheme), PAUSED
        else:
            fn, new = ledger.unpauseScheme(scheme), ACTIVE
        send_impersonated(self.w3, self.v.city.consortium.address, fn)
        status[scheme] = new
        assert ledger.schemeInfo(scheme).call()[0] == new

    @rule(i=st.integers(0, SLOTS - 1), object_first=st.booleans())
    def recover(self, i, object_first):
        """Move slot i's resident to a new key; with `object_first`, the old key objects by signature to a first
        request, and the same signature replayed against the second request is refused."""
        self._count()
        city, old, new = self.v.city, self.residents[i], Account.create()
        m = city.membership.functions
        send(self.w3, city.onboarding, m.requestRecovery(old.address, new.address))
        if object_first:
            nonce = m.pendingRecovery(old.address).call()[2]
            deadline = self.w3.eth.get_block("latest")["timestamp"] + 86400
            doc = typed_data("RecoveryObjection", self.w3.eth.chain_id, city.membership.address,
                             {"account": old.address, "newAccount": new.address, "nonce": nonce, "deadline": deadline})
            objection = m.objectToRecoveryBySig(old.address, new.address, nonce, deadline, sign(old, doc))
            send(self.w3, city.relayer, objection)
            assert m.pendingRecovery(old.address).call()[0] == ZERO
            send(self.w3, city.onboarding, m.requestRecovery(old.address, new.address))
            self._expect_unchanged(objection, city.relayer, "MembershipRecoveryNonceMismatch")
            assert m.pendingRecovery(old.address).call()[0] == new.address
        send_impersonated(self.w3, city.consortium.address, m.approveRecovery(old.address))
        self.model.balances[new.address] = self.model.balances.pop(old.address)
        self.model.moved_to[old.address] = new.address
        self.residents[i] = new
        first = next(iter(self.model.moved_to))  # the first key ever recovered maps to its latest key
        assert m.currentAccountOf(first).call() == self.model.current(first)

    # ---- invariants ------------------------------------------------------------------------------

    @invariant()
    def recovered_keys_hold_nothing(self):
        old = list(self.model.moved_to)
        if old:  # one call for every old key and scheme
            held = self.v.ledger.functions.balanceOfBatch([a for a in old for _ in SCHEMES],
                                                          [s for _ in old for s in SCHEMES]).call()
            assert not any(held), dict(zip(old, held))

    @invariant()
    def supplies_balances_and_positions_agree(self):
        clearing, m = self.v.clearing.functions, self.model
        balances, supplies, merchant_net = self._chain_state()
        expected = tuple(m.balances[r.address][s] for r in self.residents for s in SCHEMES)
        assert balances == expected
        for s in SCHEMES:
            f = m.flows[s]
            flow_supply = self.supply0[s] + f["issued"] - f["out"] + f["in"] - f["redeemed"] + f["refunded"]
            assert supplies[SCHEMES.index(s)] == flow_supply
        # every holder is one of our residents or the untouched others, so the sum of balances is the supply
        for s in SCHEMES:
            mine = sum(m.balances[r.address][s] for r in self.residents)
            assert mine + self.others_held[s] == supplies[SCHEMES.index(s)]
        owed = m.credits_redeemed - m.credits_refunded
        assert -merchant_net == owed
        issuer_nets = [clearing.issuerNet(s).call() for s in SCHEMES]
        assert sum(issuer_nets) + merchant_net == 0  # netting preserves totals


def test_valueContracts_matchReferenceModel(w3, value):
    ValueMachine.w3, ValueMachine.v = w3, value
    ValueMachine.supply0 = {s: value.ledger.functions.totalSupply(s).call() for s in SCHEMES}
    # the invariants read the whole clearing state: start from a clean slate for this test's merchant
    assert value.clearing.functions.merchantNet(value.city.merchant.address).call() == 0
    STEPS["count"] = 0
    run_state_machine_as_test(ValueMachine, settings=settings.get_profile(hypothesis_profile()))
    print(f"\nvalue stateful steps run: {STEPS['count']}")
    if hypothesis_profile() == "ci":
        assert STEPS["count"] >= 1500, STEPS["count"]  # the ci profile's floor; test-deep runs about seven times as many
