"""Stateful property test: PointsLedger (with Membership recovery) against a small Python reference model.

Rules: issue batches (duplicate refs, quota and cap overruns), revoke, the ledger operators' value functions
(spend: points burned and value taken with the change; mintValue and restoreValue: value credited as whole points
at a rate, the rest kept as change; restore is a refund's give-back, allowed in a Paused or Retired scheme, issue
18), day rollover, month ends, the day offset (the city's time zone), scheme and global pause, account recovery
(which moves the change too). A third scheme's points expire (issue 25: 1 or 2 months after the month of their
credit): a debit sweeps what expired (PointsExpired) and takes the oldest month first, a recovery moves the live
months. After every step balances (live points), change, supplies, quota used, receipts today and the points expiring
next must equal the model's. The chain is reset with evm_snapshot / evm_revert between examples.
`HYPOTHESIS_PROFILE=deep` (make test-deep) runs about seven times longer (profiles in conftest.py).
"""
from __future__ import annotations

import copy
from collections import Counter
from datetime import date, timedelta

from eth_account import Account
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from ledger_node import chain
from ledger_node.issuance_refs import WINDOW, SequenceWindow, sequenced_ref

from .conftest import OTHER_SCHEME, SCHEME
from .helpers import hypothesis_profile, identity, send_fixed_gas, send_impersonated

DAY = 86400
QUOTA = 3000
CAP = 1000
EXPIRING = 99  # added by each example, its points expiring after EXPIRY_MONTHS
SCHEMES = (SCHEME, OTHER_SCHEME, EXPIRING)
OFFSETS = (-14 * 3600, -8 * 3600, 0, 8 * 3600, 14 * 3600)  # the day offsets PointsLedger allows, at their edges
ACTIVE, PAUSED, RETIRED = 1, 2, 3
SLOTS = 4  # residents in play
RATES = (1, 7, 333_333, 10_000_000, 33_333_333)  # value units a point: sub-cent, non-divisible, whole cents

# Sequence numbers in play: two lanes; counters in one word, across a word's edge, at the window's edge and beyond
# it (so a ring slot moves on and older numbers fall behind the window).
COUNTERS = (0, 1, 2, 223, 224, 225, 447, 448, WINDOW - 1, WINDOW, WINDOW + 1, WINDOW + 224, 2 * WINDOW,
            2 * WINDOW + 1, 5, 6, 300, WINDOW + 300, 3 * WINDOW + 5, 57, 2**32 - 1)


def month_of(day: int) -> int:
    """Month number (year * 12 + month - 1) of a day number, by Python's calendar."""
    d = date(1970, 1, 1) + timedelta(days=day)
    return d.year * 12 + d.month - 1


def first_day_of(month: int) -> int:
    return (date(month // 12, month % 12 + 1, 1) - date(1970, 1, 1)).days


def item_ref(k: int) -> bytes:
    """Ref k (0-40): lane k % 2, counter COUNTERS[k // 2], its own event id."""
    return sequenced_ref(k % 2, COUNTERS[k // 2], identity(f"ref-{k}"))


REF_STATES = ("unused", "used", "behind")  # IPointsLedger.RefState
STEPS = {"count": 0}
OUTCOMES: Counter = Counter()  # the ledger operators' calls by outcome, printed after the run


class Rejected(Exception):
    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


class Model:
    def __init__(self, t: int, residents: list[str], supplies: dict[int, int], expiry_months: int):
        self.t = t
        self.offset = 0
        self.expiry_months = expiry_months
        # EXPIRING: account -> {month: points credited that month and not yet debited}; expired months are kept
        # (a day offset moved back makes the month that just ended live again for a few hours)
        self.buckets: dict[str, dict[int, int]] = {}
        self.expired: list[tuple[int, str, int]] = []  # the sweeps of the step being modelled
        self.residents = list(residents)
        self.registered = set(residents)
        self.paused = False
        self.schemes = {s: {"status": ACTIVE, "quota": QUOTA, "cap": CAP, "qday": 0, "used": 0, "supply": supplies[s],
                            "window": SequenceWindow()} for s in SCHEMES}
        # (scheme, account) -> [balance, day, received, change]; a key exists once the chain's record is nonzero
        self.holders: dict[tuple[int, str], list[int]] = {}

    def day(self) -> int:
        return (self.t + self.offset) // DAY

    def cutoff(self) -> int:
        """The oldest month whose points are live in EXPIRING."""
        return month_of(self.day()) - self.expiry_months

    def live(self, account: str) -> int:
        balance = self.holders.get((EXPIRING, account), [0])[0]
        return min(balance, sum(v for m, v in self.buckets.get(account, {}).items() if m >= self.cutoff()))

    def balance(self, scheme: int, account: str) -> int:
        """balanceOf: the live points in EXPIRING."""
        if scheme == EXPIRING:
            return self.live(account)
        return self.holders.get((scheme, account), [0])[0]

    def expiring(self, account: str) -> tuple[int, int]:
        """expiringOf: the oldest live month's points and their last day."""
        if not self.holders.get((EXPIRING, account), [0])[0]:
            return 0, 0
        live = self.live(account)
        for m, v in sorted(self.buckets.get(account, {}).items()):
            if m >= self.cutoff() and v:
                return min(v, live), first_day_of(m + self.expiry_months + 1) - 1
        return 0, 0

    def _credit_month(self, scheme: int, account: str, amount: int):
        if scheme == EXPIRING:
            b = self.buckets.setdefault(account, {})
            m = month_of(self.day())
            b[m] = b.get(m, 0) + amount

    def _sweep(self, scheme: int, account: str):
        """What expired leaves the balance and the supply before any debit in EXPIRING."""
        h = self.holders.get((scheme, account))
        if scheme != EXPIRING or h is None:
            return
        expired = h[0] - self.live(account)
        if expired:
            h[0] -= expired
            self.schemes[scheme]["supply"] -= expired
            self.expired.append((scheme, account, expired))

    def issue(self, scheme: int, items: list[tuple[str, int, bytes]]):
        s = self.schemes[scheme]
        if s["status"] != ACTIVE:
            raise Rejected("PointsLedgerSchemeNotActive")
        if self.paused:
            raise Rejected("PointsLedgerPaused")
        s2, holders = copy.deepcopy(s), copy.deepcopy(self.holders)
        day = self.day()
        if day > s2["qday"]:
            s2["qday"], s2["used"] = day, 0
        skipped = []
        for i, (resident, amount, ref) in enumerate(items):
            if not s2["window"].take(ref):
                skipped.append(i)
                continue
            if amount == 0:
                raise Rejected("PointsLedgerZeroAmount")
            if amount > s2["quota"] or s2["used"] + amount > s2["quota"]:
                raise Rejected("PointsLedgerIssuerDailyQuotaExceeded")
            s2["used"] += amount
            h = holders.get((scheme, resident))
            if h is None:
                if resident not in self.registered:
                    raise Rejected("PointsLedgerNotResident")
                h = [0, 0, 0, 0]
            if day > h[1]:
                h[1], h[2] = day, 0
            if h[2] + amount > s2["cap"]:
                raise Rejected("PointsLedgerResidentDailyCapExceeded")
            h[0] += amount
            h[2] += amount
            holders[(scheme, resident)] = h
            s2["supply"] += amount
            self._credit_month(scheme, resident, amount)  # a rejection puts the whole model back
        self.schemes[scheme], self.holders = s2, holders
        return skipped

    def _spendable(self, scheme):
        if self.schemes[scheme]["status"] not in (ACTIVE, RETIRED):
            raise Rejected("PointsLedgerSchemeNotActive")
        if self.paused:
            raise Rejected("PointsLedgerPaused")

    def revoke(self, scheme, resident, amount, ref) -> bool:
        self._spendable(scheme)
        if amount == 0:
            raise Rejected("PointsLedgerZeroAmount")
        if not self.schemes[scheme]["window"].take(ref):
            return False
        self._burn(scheme, resident, amount)  # a rejection here puts the model back (window included)
        return True

    def burn(self, scheme, account, amount):
        self._spendable(scheme)
        self._burn(scheme, account, amount)

    def _burn(self, scheme, account, amount):
        self._sweep(scheme, account)
        h = self.holders.get((scheme, account), [0, 0, 0, 0])
        if h[0] < amount:
            raise Rejected("PointsLedgerInsufficientBalance")
        h[0] -= amount
        self.holders[(scheme, account)] = h
        self.schemes[scheme]["supply"] -= amount
        if scheme == EXPIRING:  # the oldest live month first
            left = amount
            for m, v in sorted(self.buckets.get(account, {}).items()):
                if m >= self.cutoff() and left:
                    take = min(v, left)
                    self.buckets[account][m] -= take
                    left -= take
            assert left == 0

    def spend(self, scheme, account, points, rate, value) -> tuple[int, int]:
        """PointsLedger.spend: burn `points`, take `value` from their worth and the change, keep the rest."""
        self._spendable(scheme)
        if points == 0 and value == 0:
            raise Rejected("PointsLedgerZeroAmount")
        before = self.holders.get((scheme, account), [0, 0, 0, 0])[3]
        if points > 0:
            self._burn(scheme, account, points)
        available = before + points * rate
        if available < value:
            raise Rejected("PointsLedgerValueShort")
        self._set_change(scheme, account, before, available - value)
        return before, available - value

    def credit_value(self, scheme, account, value, rate, *, restore: bool = False) -> int:
        """PointsLedger.mintValue (Active only) / restoreValue (a refund's give-back: Paused or Retired too): the
        value and the change become whole points at `rate`, the rest stays as change."""
        status = self.schemes[scheme]["status"]
        if not restore and status != ACTIVE:
            raise Rejected("PointsLedgerSchemeNotActive")
        if self.paused:
            raise Rejected("PointsLedgerPaused")
        if value == 0:
            raise Rejected("PointsLedgerZeroAmount")
        h = self.holders.get((scheme, account))
        if h is None and account not in self.registered:
            raise Rejected("PointsLedgerNotResident")
        h = h or [0, 0, 0, 0]
        before = h[3]
        points, after = divmod(before + value, rate)
        if points > 0:
            h[0] += points
            self.schemes[scheme]["supply"] += points
            self._credit_month(scheme, account, points)
        self.holders[(scheme, account)] = h
        self._set_change(scheme, account, before, after)
        return points

    def _set_change(self, scheme, account, before, after):
        if after == before:
            return
        if after > 2**63 - 1:
            raise Rejected("PointsLedgerChangeOverflow")
        self.holders.setdefault((scheme, account), [0, 0, 0, 0])[3] = after

    def change(self, scheme, account) -> int:
        return self.holders.get((scheme, account), [0, 0, 0, 0])[3]

    def recover(self, slot: int, new: str):
        old = self.residents[slot]
        for scheme in SCHEMES:
            if (scheme, old) in self.holders:
                self._sweep(scheme, old)
                self.holders[(scheme, new)] = self.holders.pop((scheme, old))
        old_months = self.buckets.pop(old, {})
        self.buckets[new] = {m: v for m, v in old_months.items() if m >= self.cutoff()}  # the live months move
        self.registered.discard(old)
        self.registered.add(new)
        self.residents[slot] = new

    def received_today(self, scheme, account) -> int:
        h = self.holders.get((scheme, account), [0, 0, 0, 0])
        return 0 if self.day() > h[1] else h[2]

    def quota_used(self, scheme) -> int:
        s = self.schemes[scheme]
        return 0 if self.day() > s["qday"] else s["used"]


class LedgerMachine(RuleBasedStateMachine):
    w3 = None
    env = None

    def __init__(self):
        super().__init__()
        self.snapshot = self.w3.provider.make_request("evm_snapshot", [])["result"]
        self.model = None

    @initialize(expiry_months=st.sampled_from([1, 2]))
    def setup(self, expiry_months):
        w3, env = self.w3, self.env
        ledger, gov = env.ledger.functions, lambda fn: send_impersonated(w3, env.consortium.address, fn)
        assert EXPIRING not in ledger.schemeIds().call()
        gov(ledger.addScheme(EXPIRING, QUOTA, CAP))
        gov(env.membership.functions.setIssuerAccounts(EXPIRING, [env.issuer_b.address]))
        gov(ledger.setExpiry(EXPIRING, expiry_months))
        for scheme in SCHEMES:
            gov(ledger.setIssuerDailyQuota(scheme, QUOTA))
        # start on a fresh day, far from the genesis day, so day numbers are nonzero
        t = (w3.eth.get_block("latest")["timestamp"] // DAY + 2) * DAY + 10
        # what other tests' session set-up holds (points minted to residents of their own) is where supply starts
        supplies = {s: env.ledger.functions.totalSupply(s).call() for s in SCHEMES}
        self.model = Model(t, [r.address for r in env.residents[:SLOTS]], supplies, expiry_months)
        self.issuers = {SCHEME: env.issuer, OTHER_SCHEME: env.other_issuer, EXPIRING: env.issuer_b}

    def teardown(self):
        assert self.w3.provider.make_request("evm_revert", [self.snapshot])["result"]

    # ---- helpers ---------------------------------------------------------------------------------

    def _tick(self):
        """The next block one second on: the model judges a step at its transaction's time (which matters at a
        month's last second)."""
        self.model.t += 1
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [self.model.t])

    def _send(self, account, fn, expected: Rejected | None):
        """Send in the block `_tick` (called by `_model`) set up."""
        STEPS["count"] += 1
        try:
            receipt = send_fixed_gas(self.w3, account, fn)
        except chain.TransactionFailed as exc:
            assert expected is not None, f"chain rejected with {exc.error}{exc.error_args}, model accepted"
            assert exc.error == expected.error, f"chain: {exc.error}{exc.error_args}, model: {expected.error}"
            return None
        assert expected is None, f"chain accepted, model expected {expected.error}"
        expired = [(e["args"]["scheme"], e["args"]["account"], e["args"]["amount"])
                   for e in self.env.ledger.events.PointsExpired().process_receipt(receipt)]
        assert expired == self.model.expired, (expired, self.model.expired)  # each sweep as the model made it
        OUTCOMES["sweeps"] += len(expired)
        return receipt

    def _as_consortium(self, fn, expected: Rejected | None):
        STEPS["count"] += 1
        self._tick()
        try:
            receipt = send_impersonated(self.w3, self.env.consortium.address, fn)
        except chain.TransactionFailed as exc:
            assert expected is not None and exc.error == expected.error, (exc.error, expected)
            return None
        assert expected is None
        return receipt

    def _model(self, fn, *args):
        self._tick()
        self.model.expired = []
        saved = copy.deepcopy(self.model.__dict__)
        try:
            return fn(*args), None
        except Rejected as exc:
            self.model.__dict__.update(saved)
            return None, exc

    # ---- rules -----------------------------------------------------------------------------------

    @rule(scheme=st.sampled_from(SCHEMES),
          items=st.lists(st.tuples(st.integers(0, SLOTS - 1), st.integers(0, 450), st.integers(0, 40)),
                         min_size=1, max_size=6),
          with_reasons=st.booleans())
    def issue_batch(self, scheme, items, with_reasons):
        m = self.model
        calls = [(m.residents[r], a, item_ref(ref)) for r, a, ref in items]
        skipped, rejected = self._model(m.issue, scheme, calls)
        residents, amounts, refs = zip(*calls)
        ledger = self.env.ledger.functions
        if with_reasons:
            fn = ledger.issueBatchWithReason(scheme, list(residents), list(amounts), list(refs), [7] * len(calls))
        else:
            fn = ledger.issueBatch(scheme, list(residents), list(amounts), list(refs))
        receipt = self._send(self.issuers[scheme], fn, rejected)
        if receipt is not None:
            event = self.env.ledger.events.PointsIssued().process_receipt(receipt)[0]["args"]
            assert list(event["skipped"]) == skipped
        window = m.schemes[scheme]["window"]
        for ref in set(refs):  # the chain's dedup window is the model's, number by number
            assert REF_STATES[ledger.refState(scheme, ref).call()] == window.state(ref)

    @rule(scheme=st.sampled_from(SCHEMES), r=st.integers(0, SLOTS - 1), amount=st.integers(0, 300),
          ref=st.integers(0, 40))
    def revoke(self, scheme, r, amount, ref):
        resident = self.model.residents[r]
        _, rejected = self._model(self.model.revoke, scheme, resident, amount, item_ref(ref))
        self._send(self.issuers[scheme], self.env.ledger.functions.revoke(scheme, resident, amount,
                                                                          item_ref(ref), 3), rejected)

    @rule(scheme=st.sampled_from(SCHEMES), r=st.integers(0, SLOTS - 1),
          points=st.one_of(st.just(0), st.integers(1, 600), st.integers(1, 60)),  # 0: the change alone pays
          rate=st.sampled_from(RATES), percent=st.integers(0, 104),
          value=st.one_of(st.integers(0, 10**6), st.integers(1, 2 * 10**10)),
          op=st.sampled_from(["spend", "mint", "restore"]))
    def ledger_operator(self, scheme, r, points, rate, percent, value, op):
        account = self.model.residents[r]
        f = self.env.ledger.functions
        if op == "spend":
            # a share of what the points named and the change are worth (above 100: more than that)
            value = (self.model.change(scheme, account) + points * rate) * percent // 100
            changes, rejected = self._model(self.model.spend, scheme, account, points, rate, value)
            receipt = self._send(self.env.ledger_operator, f.spend(scheme, account, points, rate, value, b"\x01" * 32),
                                 rejected)
        else:
            restore = op == "restore"
            fn = (f.restoreValue if restore else f.mintValue)(scheme, account, value, rate, b"\x02" * 32)
            before = self.model.change(scheme, account)
            minted, rejected = self._model(lambda *a: self.model.credit_value(*a, restore=restore), scheme, account,
                                           value, rate)
            receipt = self._send(self.env.ledger_operator, fn, rejected)
            changes = (before, self.model.change(scheme, account))
            if receipt is not None:
                events = self.env.ledger.events.PointsRestored() if restore else self.env.ledger.events.PointsMinted()
                assert [e["args"]["amount"] for e in events.process_receipt(receipt)] == ([minted] if minted else [])
        OUTCOMES[f"{op}: {rejected.error if rejected else 'done'}"] += 1
        if receipt is not None:  # ChangeUpdated exactly when the change moved
            updates = [(e["args"]["changeBefore"], e["args"]["changeAfter"])
                       for e in self.env.ledger.events.ChangeUpdated().process_receipt(receipt)]
            assert updates == ([changes] if changes[0] != changes[1] else [])

    @rule(r=st.integers(0, SLOTS - 1), percent=st.integers(1, 100))
    def spend_expiring(self, r, percent):
        """A share of what a resident can spend in EXPIRING (at least a point): the debit that sweeps expired
        points and takes the oldest month first. A resident with expired points unswept and live ones goes first."""
        m = self.model
        sweepable = [a for a in m.residents if 0 < m.live(a) < m.holders.get((EXPIRING, a), [0])[0]]
        account = sweepable[r % len(sweepable)] if sweepable else m.residents[r]
        points = max(1, self.model.live(account) * percent // 100)
        rate = 10**6
        _, rejected = self._model(self.model.spend, EXPIRING, account, points, rate, points * rate)
        self._send(self.env.ledger_operator, self.env.ledger.functions.spend(EXPIRING, account, points, rate,
                                                                              points * rate, b"\x03" * 32), rejected)
        OUTCOMES[f"spend expiring: {rejected.error if rejected else 'done'}"] += 1

    @rule(seconds=st.sampled_from([600, 3 * 3600, DAY, DAY + 7, 3 * DAY]))
    def pass_time(self, seconds):
        STEPS["count"] += 1
        self.model.t += seconds
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [self.model.t])
        self.w3.provider.make_request("evm_mine", [])

    @rule(delta=st.sampled_from([-2, -1, 0, 7200]))
    def to_next_month(self, delta):
        """To around the start of next month (city time): the next transaction in the last second of this one, the
        first of the next, or later."""
        m = self.model
        t = first_day_of(month_of(m.day()) + 1) * DAY - m.offset + delta
        if t <= m.t:
            return
        STEPS["count"] += 1
        m.t = t
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [m.t])
        self.w3.provider.make_request("evm_mine", [])

    @rule(months=st.integers(1, 3), days=st.integers(0, 27))
    def months_pass(self, months, days):
        """Whole months on (to a day within the month reached): EXPIRING's oldest points expire."""
        m = self.model
        t = (first_day_of(month_of(m.day()) + months) + days) * DAY - m.offset + 3600
        if t <= m.t:
            return
        STEPS["count"] += 1
        m.t = t
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [m.t])
        self.w3.provider.make_request("evm_mine", [])

    @rule(offset=st.sampled_from(OFFSETS))
    def day_offset(self, offset):
        """The city's time zone changed: the day number (and around a month's end, the month) moves with it."""
        self.model.offset = offset
        self._as_consortium(self.env.ledger.functions.setDayOffset(offset), None)

    @rule(scheme=st.sampled_from(SCHEMES), action=st.sampled_from(["pauseScheme", "unpauseScheme", "retireScheme"]))
    def scheme_status(self, scheme, action):
        s = self.model.schemes[scheme]
        allowed = {"pauseScheme": {ACTIVE}, "unpauseScheme": {PAUSED}, "retireScheme": {ACTIVE, PAUSED}}[action]
        target = {"pauseScheme": PAUSED, "unpauseScheme": ACTIVE, "retireScheme": RETIRED}[action]
        if action == "retireScheme" and scheme in (SCHEME, EXPIRING):
            return  # keep the main scheme and the expiring one issuable
        rejected = None if s["status"] in allowed else Rejected("PointsLedgerInvalidTransition")
        if rejected is None:
            s["status"] = target
        self._as_consortium(getattr(self.env.ledger.functions, action)(scheme), rejected)

    @rule(pause=st.booleans())
    def global_pause(self, pause):
        rejected = None if self.model.paused != pause else Rejected("PointsLedgerPauseUnchanged")
        if rejected is None:
            self.model.paused = pause
        f = self.env.ledger.functions
        self._as_consortium(f.pauseAll() if pause else f.unpauseAll(), rejected)

    @rule(r=st.integers(0, SLOTS - 1))
    def recover(self, r):
        old, new = self.model.residents[r], Account.create().address
        m = self.env.membership.functions
        self._tick()
        self.model.expired = []
        self._send(self.env.onboarding, m.requestRecovery(old, new), None)
        receipt = self._as_consortium(m.approveRecovery(old), None)
        self.model.recover(r, new)
        expired = [(e["args"]["scheme"], e["args"]["account"], e["args"]["amount"])
                   for e in self.env.ledger.events.PointsExpired().process_receipt(receipt)]
        assert expired == self.model.expired, (expired, self.model.expired)  # the move swept first
        OUTCOMES["sweeps"] += len(expired)

    # ---- invariants ------------------------------------------------------------------------------

    @invariant()
    def matches_model(self):
        if self.model is None:
            return
        m, ledger = self.model, self.env.ledger.functions
        accounts = [a for a in m.residents for _ in SCHEMES]
        ids = [s for _ in m.residents for s in SCHEMES]
        expected = [[m.balance(s, a) for a, s in zip(accounts, ids)]]
        queries = [ledger.balanceOfBatch(accounts, ids)]
        for a in m.residents:
            queries.append(ledger.expiringOf(a, EXPIRING))
            expected.append(list(m.expiring(a)))
        for a, s in zip(accounts, ids):
            queries.append(ledger.changeOf(a, s))
            expected.append(m.change(s, a))
        for s in SCHEMES:
            queries += [ledger.totalSupply(s), ledger.quotaUsedToday(s)]
            expected += [m.schemes[s]["supply"], m.quota_used(s)]
            for a in m.residents:
                queries.append(ledger.receivedToday(s, a))
                expected.append(m.received_today(s, a))
        with self.w3.batch_requests() as batch:  # one HTTP round trip for every view
            for q in queries:
                batch.add(q)
            actual = batch.execute()
        assert [list(x) if isinstance(x, (list, tuple)) else x for x in actual] == expected


def test_ledger_matchesReferenceModel(w3, env):
    LedgerMachine.w3, LedgerMachine.env = w3, env
    STEPS["count"] = 0
    OUTCOMES.clear()
    run_state_machine_as_test(LedgerMachine, settings=settings.get_profile(hypothesis_profile()))
    print(f"\nstateful steps run: {STEPS['count']}; ledger operator calls: {dict(sorted(OUTCOMES.items()))}")
    if hypothesis_profile() == "ci":
        assert STEPS["count"] >= 1500, STEPS["count"]  # the ci profile's floor; test-deep runs about seven times as many
