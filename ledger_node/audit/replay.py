"""Rebuild the whole CityPoints state from events, checking each rule at the event that exercises it.

Events arrive in chain order. Each transaction is a small context: the ledger's TransferSingle events wait
there for the domain event that explains them (PointsIssued, PointsRevoked, PointsMinted, PointsBurned,
AccountMoved, PointsRestored), ledger-operator mints, restores and burns and clearing moves wait for the
Exchanged / Redeemed / Refunded event that explains them, and rule-changing events must be explained by a
ProposalExecuted of the same transaction (or a contract creation). Whatever is left unexplained when the
transaction ends is a violation.

Where an event carries the state after the change (balancesAfter, totalSupplyAfter, quotaUsedAfter, positions,
nets, usedTodayAfter), it is compared with the rebuilt value at once: tampering shows at the event after it.

Every rule is judged against the state at the moment it applied, i.e. the state the logs before it left. Where a
contract emits its event after the calls it made (Consortium.execute emits ProposalExecuted after the proposal's
calls), the handler uses what the state was before those calls (`_Tx.council`).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from eth_abi import encode as abi_encode
from eth_utils import keccak

from ledger_node.audit.events import Event
from ledger_node.audit.model import MISMATCH, VIOLATION, Problem

RATE_SCALE = 10**6
DAY = 86400
NONE, ACTIVE, PAUSED, RETIRED = 0, 1, 2, 3
OPEN, PAID, CONFIRMED, DISPUTED = 0, 1, 2, 3
MERCHANT_PAIR, ISSUER_PAIR = 1, 2


def role_id(name: str) -> str:
    return "0x" + keccak(text=f"CityPoints.{name}").hex()


ROLES = {n: role_id(n) for n in ("MERCHANT", "AUDITOR", "ONBOARDING", "RELAYER", "OPERATOR", "LEDGER_OPERATOR")}

# Events that only governance (an executed proposal) or a constructor may cause.
GOVERNED = {
    "PointsLedger": {"SchemeAdded", "SchemeStatusChanged", "IssuerDailyQuotaChanged", "ResidentDailyCapChanged",
                     "LedgerPauseChanged", "DayOffsetChanged", "URI"},
    "Membership": {"RoleGranted", "RoleRevoked", "MerchantRegistered", "MerchantSuspensionChanged",
                   "IssuerAccountsSet", "RecoveryNoticeChanged", "PointsLedgerSet"},
    "Rates": {"RateSet"},
    "Exchange": {"PairAllowed", "DailyLimitSet"},
    "Redemption": {"RefundWindowSet"},
    "Consortium": {"MemberAdded", "MemberRemoved", "ThresholdsChanged", "CallPolicySet", "ProposalLifetimeChanged"},
}


class State:
    """Everything the replay rebuilds; JSON round-trips through to_json/from_json (the resume point)."""

    def __init__(self):
        self.last_block = -1
        # PointsLedger
        self.balances: dict[tuple[int, str], int] = {}
        self.received: dict[tuple[int, str], list[int]] = {}  # [day, received that day]
        self.supply: dict[int, int] = {}
        self.schemes: dict[int, dict] = {}  # status, quota, cap, quotaDay, issuedToday
        self.scheme_order: list[int] = []
        self.refs: dict[int, set[str]] = defaultdict(set)
        self.paused = False
        self.day_offset = 0
        # Membership
        self.residents: dict[str, dict] = {}  # account -> {identity, registeredAt}
        self.roles: dict[str, set[str]] = defaultdict(set)
        self.merchants: dict[str, bool] = {}  # merchant -> suspended
        self.issuers: dict[int, set[str]] = defaultdict(set)
        self.recoveries: dict[str, str] = {}
        self.recovered_to: dict[str, str] = {}  # a key recovered away -> the account that took its registration
        # Rates
        self.rates: dict[int, int] = {}
        self.rate_history: dict[int, list[list[int]]] = defaultdict(list)  # [[block, rate], ...]
        # Exchange / Redemption
        self.nonces: dict[str, set[tuple[str, str]]] = defaultdict(set)  # contract -> {(resident, nonce)}
        self.pairs: set[tuple[int, int]] = set()
        self.daily_limit = 0
        self.usage: dict[str, list[int]] = {}  # resident -> [day, credits]
        self.preferred: dict[str, list[int]] = {}
        self.redemptions: dict[str, dict] = {}
        self.refund_window = 0
        # Clearing
        self.open_period = 1
        self.closed_at: dict[int, int] = {}
        self.merchant_pos: dict[tuple[int, int, str], int] = {}
        self.issuer_pos: dict[tuple[int, int, int], int] = {}
        self.issuer_net: dict[int, int] = defaultdict(int)
        self.merchant_net: dict[str, int] = defaultdict(int)
        self.statements: dict[str, dict] = {}
        # Consortium
        self.members: set[str] = set()
        self.threshold = 0
        self.emergency_threshold = 0
        self.lifetime = 0
        self.policies: dict[tuple[str, str], list] = {}  # (target, selector) -> [delay, emergency]
        self.proposals: dict[int, dict] = {}
        # AuditAttestations
        self.attestations: list[dict] = []
        # Totals for the report
        self.totals: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.counts: dict[str, int] = defaultdict(int)

    # ------------------------------------------------------------------------------------------------
    # Serialisation (the report's resume point)
    # ------------------------------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {
            "lastBlock": self.last_block,
            "balances": [[s, a, v] for (s, a), v in sorted(self.balances.items())],
            "received": [[s, a, d, r] for (s, a), (d, r) in sorted(self.received.items())],
            "supply": {str(k): v for k, v in self.supply.items()},
            "schemes": {str(k): v for k, v in self.schemes.items()},
            "schemeOrder": self.scheme_order,
            "refs": {str(k): sorted(v) for k, v in self.refs.items()},
            "paused": self.paused, "dayOffset": self.day_offset,
            "residents": self.residents,
            "roles": {k: sorted(v) for k, v in self.roles.items()},
            "merchants": self.merchants,
            "issuers": {str(k): sorted(v) for k, v in self.issuers.items()},
            "recoveries": self.recoveries, "recoveredTo": self.recovered_to,
            "rates": {str(k): v for k, v in self.rates.items()},
            "rateHistory": {str(k): v for k, v in self.rate_history.items()},
            "nonces": {k: sorted([list(x) for x in v]) for k, v in self.nonces.items()},
            "pairs": sorted([list(p) for p in self.pairs]),
            "dailyLimit": self.daily_limit, "usage": self.usage, "preferred": self.preferred,
            "redemptions": self.redemptions, "refundWindow": self.refund_window,
            "openPeriod": self.open_period, "closedAt": {str(k): v for k, v in self.closed_at.items()},
            "merchantPositions": [[p, s, m, v] for (p, s, m), v in sorted(self.merchant_pos.items())],
            "issuerPositions": [[p, lo, hi, v] for (p, lo, hi), v in sorted(self.issuer_pos.items())],
            "issuerNet": {str(k): v for k, v in self.issuer_net.items()},
            "merchantNet": dict(self.merchant_net),
            "statements": self.statements,
            "members": sorted(self.members), "threshold": self.threshold,
            "emergencyThreshold": self.emergency_threshold, "lifetime": self.lifetime,
            "policies": [[t, s, d, e] for (t, s), (d, e) in sorted(self.policies.items())],
            "proposals": {str(k): {**v, "approvers": sorted(v["approvers"])} for k, v in self.proposals.items()},
            "attestations": self.attestations,
            "totals": {str(k): dict(v) for k, v in self.totals.items()},
            "counts": dict(self.counts),
        }

    @classmethod
    def from_json(cls, d: dict) -> "State":
        s = cls()
        s.last_block = d["lastBlock"]
        s.balances = {(x[0], x[1]): x[2] for x in d["balances"]}
        s.received = {(x[0], x[1]): [x[2], x[3]] for x in d["received"]}
        s.supply = {int(k): v for k, v in d["supply"].items()}
        s.schemes = {int(k): v for k, v in d["schemes"].items()}
        s.scheme_order = list(d["schemeOrder"])
        s.refs = defaultdict(set, {int(k): set(v) for k, v in d["refs"].items()})
        s.paused, s.day_offset = d["paused"], d["dayOffset"]
        s.residents = d["residents"]
        s.roles = defaultdict(set, {k: set(v) for k, v in d["roles"].items()})
        s.merchants = d["merchants"]
        s.issuers = defaultdict(set, {int(k): set(v) for k, v in d["issuers"].items()})
        s.recoveries = d["recoveries"]
        s.recovered_to = d.get("recoveredTo", {})  # absent in reports made before it was kept
        s.rates = {int(k): v for k, v in d["rates"].items()}
        s.rate_history = defaultdict(list, {int(k): v for k, v in d["rateHistory"].items()})
        s.nonces = defaultdict(set, {k: {tuple(x) for x in v} for k, v in d["nonces"].items()})
        s.pairs = {tuple(p) for p in d["pairs"]}
        s.daily_limit, s.usage, s.preferred = d["dailyLimit"], d["usage"], d["preferred"]
        s.redemptions, s.refund_window = d["redemptions"], d["refundWindow"]
        s.open_period = d["openPeriod"]
        s.closed_at = {int(k): v for k, v in d["closedAt"].items()}
        s.merchant_pos = {(x[0], x[1], x[2]): x[3] for x in d["merchantPositions"]}
        s.issuer_pos = {(x[0], x[1], x[2]): x[3] for x in d["issuerPositions"]}
        s.issuer_net = defaultdict(int, {int(k): v for k, v in d["issuerNet"].items()})
        s.merchant_net = defaultdict(int, d["merchantNet"])
        s.statements = d["statements"]
        s.members = set(d["members"])
        s.threshold, s.emergency_threshold, s.lifetime = d["threshold"], d["emergencyThreshold"], d["lifetime"]
        s.policies = {(x[0], x[1]): [x[2], x[3]] for x in d["policies"]}
        s.proposals = {int(k): {**v, "approvers": set(v["approvers"])} for k, v in d["proposals"].items()}
        s.attestations = d["attestations"]
        for k, v in d["totals"].items():
            s.totals[int(k)].update(v)
        s.counts.update(d["counts"])
        return s

    # ------------------------------------------------------------------------------------------------
    # Derived views
    # ------------------------------------------------------------------------------------------------

    def today(self, timestamp: int) -> int:
        local = timestamp + self.day_offset
        return local // DAY if local > 0 else 0

    def has_role(self, role: str, account: str) -> bool:
        return account in self.roles.get(ROLES.get(role, role), ())

    def is_resident(self, account: str) -> bool:
        return account in self.residents

    def current_account(self, account: str) -> str:
        """The account holding `account`'s registration now (Membership.currentAccountOf)."""
        seen = set()
        while account in self.recovered_to and account not in seen:
            seen.add(account)
            account = self.recovered_to[account]
        return account


class _Tx:
    __slots__ = ("hash", "block", "transfers", "burns", "mints", "restores", "mpos", "ipos", "nonces", "governed",
                 "executed", "council")

    def __init__(self, tx: str, block: int):
        self.hash, self.block = tx, block
        # The consortium (members, threshold, emergency threshold) in force when the execution now running in
        # this transaction began: taken before the first change its calls make; None while nothing changed.
        # ProposalExecuted is emitted after the calls ran, so it is judged against this, not the state after.
        self.council: tuple[frozenset, int, int] | None = None
        self.transfers: list[dict] = []
        self.burns: list[tuple] = []  # (scheme, account, amount, ref, operator)
        self.mints: list[tuple] = []
        self.restores: list[tuple] = []  # PointsRestored: only a Refunded explains them
        self.mpos: list[tuple] = []  # (scheme, merchant, delta)
        self.ipos: list[tuple] = []  # (from, to, credits)
        self.nonces: list[tuple] = []  # (contract, resident, nonce)
        self.governed: list[str] = []
        self.executed = False


class Replayer:
    """Feeds events into a State, collecting problems, the intents whose signatures must be checked, and the
    transactions whose rule changes need a creation check; pattern detectors observe as it goes."""

    def __init__(self, contracts: dict[str, str], state: State | None = None, detector=None):
        self.contracts = {k: v.lower() for k, v in contracts.items()}
        self.state = state or State()
        self.detector = detector
        self.problems: list[Problem] = []
        self.intents: list[dict] = []  # checked against calldata by signatures.py
        self.governed_txs: list[dict] = []  # rule changes without ProposalExecuted: must be contract creations
        self.events = 0
        self._tx: _Tx | None = None
        self._handlers = {}
        for name in dir(self):
            if name.startswith("on_"):
                contract, _, event = name[3:].partition("__")
                self._handlers[(contract, event)] = getattr(self, name)

    # ------------------------------------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------------------------------------

    def process(self, events: Iterable[Event]) -> None:
        handlers, counts = self._handlers, self.state.counts
        for ev in events:
            tx = self._tx
            if tx is None or tx.hash != ev.tx:
                if tx is not None:
                    self._finish_tx(tx)
                tx = self._tx = _Tx(ev.tx, ev.block)
            self.events += 1
            counts[ev.name] = counts.get(ev.name, 0) + 1
            if ev.name == "TransferSingle":
                tx.transfers.append(ev.args)
                continue
            if ev.name in GOVERNED.get(ev.contract, ()):
                tx.governed.append(ev.name)
            handler = handlers.get((ev.contract, ev.name))
            if handler is not None:
                handler(ev, tx)

    def finish(self, last_block: int) -> None:
        if self._tx is not None:
            self._finish_tx(self._tx)
            self._tx = None
        self.state.last_block = last_block

    def problem(self, kind: str, code: str, message: str, ev: Event | None = None, **evidence) -> None:
        self.problems.append(Problem(kind, code, message, ev.block if ev else None, ev.tx if ev else None,
                                     {k: _jsonable(v) for k, v in evidence.items()}))

    def _expect(self, ev: Event, code: str, what: str, event_value, rebuilt_value) -> bool:
        if event_value != rebuilt_value:
            self.problem(MISMATCH, code, f"{ev.contract}.{ev.name}: {what} is {event_value} in the event, "
                                         f"{rebuilt_value} in the rebuilt state", ev,
                         event=event_value, rebuilt=rebuilt_value)
            return False
        return True

    def _finish_tx(self, tx: _Tx) -> None:
        where = {"block": tx.block, "tx": tx.hash}
        if tx.transfers:
            self.problems.append(Problem(VIOLATION, "unexplained-transfer",
                                         f"{len(tx.transfers)} TransferSingle event(s) without a ledger domain event",
                                         evidence={"transfers": _jsonable(tx.transfers)}, **where))
        for label, items in (("burn", tx.burns), ("mint", tx.mints), ("restore", tx.restores)):
            if items:
                self.problems.append(Problem(VIOLATION, f"unexplained-{label}",
                                             f"ledger-operator {label}(s) not explained by an Exchanged, Redeemed "
                                             f"or Refunded event", evidence={"items": _jsonable(items)}, **where))
        if tx.mpos or tx.ipos:
            self.problems.append(Problem(VIOLATION, "unexplained-position",
                                         "clearing positions moved without a redemption, refund or exchange",
                                         evidence={"merchant": _jsonable(tx.mpos), "issuer": _jsonable(tx.ipos)},
                                         **where))
        if tx.nonces:
            self.problems.append(Problem(VIOLATION, "unexplained-nonce", "nonce spent without a domain event",
                                         evidence={"nonces": _jsonable(tx.nonces)}, **where))
        if tx.governed and not tx.executed:
            self.governed_txs.append({"block": tx.block, "tx": tx.hash, "events": sorted(set(tx.governed))})

    # ------------------------------------------------------------------------------------------------
    # PointsLedger
    # ------------------------------------------------------------------------------------------------

    def on_PointsLedger__PointsIssued(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        scheme, issuer = a["scheme"], a["issuer"]
        info = st.schemes.get(scheme)
        if issuer not in st.issuers.get(scheme, ()):
            self.problem(VIOLATION, "issued-by-non-issuer", f"{issuer} issued scheme {scheme} without being one "
                                                            f"of its issuer accounts", ev, issuer=issuer, scheme=scheme)
        if info is None or info["status"] != ACTIVE or st.paused:
            self.problem(VIOLATION, "issued-while-not-active", f"scheme {scheme} issued while "
                                                               f"{'paused ledger' if st.paused else 'not active'}", ev)
            info = info or {"status": NONE, "quota": 0, "cap": 0, "quotaDay": 0, "issuedToday": 0}
        today = st.today(ev.timestamp)
        quota_day, used = info["quotaDay"], info["issuedToday"]
        if today > quota_day:
            quota_day, used = today, 0
        self._expect(ev, "issuance-day", "quota day", a["day"], quota_day)
        quota, cap = info["quota"], info["cap"]
        refs = a["refs"]
        skipped = set(a["skipped"])
        used_refs = st.refs[scheme]
        transfers = tx.transfers
        expected_items = len(refs) - len(skipped)
        if len(transfers) != expected_items:
            self.problem(MISMATCH, "issuance-transfers", f"PointsIssued has {expected_items} issued items but the "
                                                         f"call emitted {len(transfers)} TransferSingle", ev)
        balances, received, residents = st.balances, st.received, st.residents
        balances_after = a["balancesAfter"]
        detector = self.detector
        k = issued = 0
        bad_after = []
        for i, ref in enumerate(refs):
            if i in skipped:
                if ref not in used_refs:
                    self.problem(VIOLATION, "skipped-fresh-ref", f"item {i} skipped but ref {ref} was never used", ev)
                continue
            if ref in used_refs:
                self.problem(VIOLATION, "ref-reused", f"item {i} issued with ref {ref} used before", ev, ref=ref)
            used_refs.add(ref)
            if k >= len(transfers):
                break
            t = transfers[k]
            k += 1
            to, amount = t["to"], t["value"]
            if t["from"] != _ZERO or t["id"] != scheme or t["operator"] != issuer:
                self.problem(MISMATCH, "issuance-transfer", f"item {i}: TransferSingle does not match the issuance",
                             ev, transfer=t)
            if to not in residents:
                self.problem(VIOLATION, "issued-to-non-resident", f"item {i}: {to} is not a registered resident", ev,
                             account=to)
            if amount == 0:
                self.problem(VIOLATION, "zero-amount", f"item {i} issued zero points", ev)
            key = (scheme, to)
            rec = received.get(key)
            if rec is None:
                rec = received[key] = [today, 0]
            elif today > rec[0]:
                rec[0], rec[1] = today, 0
            rec[1] += amount
            if rec[1] > cap:
                self.problem(VIOLATION, "resident-cap-exceeded", f"{to} received {rec[1]} of scheme {scheme} on day "
                                                                 f"{rec[0]}, over the cap {cap}", ev,
                             account=to, received=rec[1], cap=cap)
            used += amount
            issued += amount
            bal = balances.get(key, 0) + amount
            balances[key] = bal
            if balances_after[i] != bal:
                bad_after.append((i, to, balances_after[i], bal))
            if detector is not None:
                detector.on_issue(scheme, issuer, to, amount, rec[1], cap, ev.timestamp, ev.tx, ev.block)
        del transfers[:k]
        for i, to, got, want in bad_after[:20]:
            self.problem(MISMATCH, "balance-after", f"item {i}: balance after of {to} in scheme {scheme} is {got} in "
                                                    f"PointsIssued, {want} rebuilt", ev, account=to, scheme=scheme,
                         event=got, rebuilt=want)
        if used > quota:
            self.problem(VIOLATION, "issuer-quota-exceeded", f"scheme {scheme} issued {used} on day {quota_day}, over "
                                                             f"the issuer quota {quota}", ev, used=used, quota=quota)
        st.supply[scheme] = st.supply.get(scheme, 0) + issued
        info["quotaDay"], info["issuedToday"] = quota_day, used
        self._expect(ev, "issued-amount", "issued amount", a["issuedAmount"], issued)
        self._expect(ev, "quota-used-after", "quota used after", a["quotaUsedAfter"], used)
        self._expect(ev, "total-supply-after", f"total supply of scheme {scheme}", a["totalSupplyAfter"],
                     st.supply[scheme])
        st.totals[scheme]["issued"] += issued
        st.totals[scheme]["issuedItems"] += expected_items
        st.totals[scheme]["skippedItems"] += len(skipped)

    def on_PointsLedger__PointsRevoked(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        scheme, resident = a["scheme"], a["resident"]
        if a["issuer"] not in st.issuers.get(scheme, ()):
            self.problem(VIOLATION, "revoked-by-non-issuer", f"{a['issuer']} revoked scheme {scheme}", ev)
        self._spendable(ev, scheme)
        if a["ref"] in st.refs[scheme]:
            self.problem(VIOLATION, "ref-reused", f"revocation ref {a['ref']} used before", ev)
        st.refs[scheme].add(a["ref"])
        self._burn(ev, tx, scheme, resident, a["amount"], a["issuer"], a["balanceAfter"], a["totalSupplyAfter"])
        st.totals[scheme]["revoked"] += a["amount"]

    def on_PointsLedger__RevocationSkipped(self, ev: Event, tx: _Tx) -> None:
        a = ev.args
        if a["ref"] not in self.state.refs[a["scheme"]]:
            self.problem(VIOLATION, "skipped-fresh-ref", f"revocation skipped but ref {a['ref']} was never used", ev)

    def on_PointsLedger__PointsMinted(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        scheme, account, op = a["scheme"], a["account"], a["operator"]
        if not st.has_role("LEDGER_OPERATOR", op):
            self.problem(VIOLATION, "minted-by-non-operator", f"{op} minted without LEDGER_OPERATOR_ROLE", ev)
        info = st.schemes.get(scheme)
        if info is None or info["status"] != ACTIVE or st.paused:
            self.problem(VIOLATION, "minted-while-not-active", f"scheme {scheme} minted while not active", ev)
        if account not in st.residents:
            self.problem(VIOLATION, "minted-to-non-resident", f"{account} is not a registered resident", ev)
        self._credit(ev, tx, scheme, account, op)
        tx.mints.append((scheme, account, a["amount"], a["ref"], op))
        st.totals[scheme]["minted"] += a["amount"]

    def on_PointsLedger__PointsRestored(self, ev: Event, tx: _Tx) -> None:
        """A refund giving back burned points: allowed in an Active, Paused or Retired scheme, not while the ledger
        is paused, only to a registered resident, only by a ledger operator, and only with its Refunded."""
        st, a = self.state, ev.args
        scheme, account, op = a["scheme"], a["account"], a["operator"]
        if not st.has_role("LEDGER_OPERATOR", op):
            self.problem(VIOLATION, "restored-by-non-operator", f"{op} restored without LEDGER_OPERATOR_ROLE", ev)
        info = st.schemes.get(scheme)
        if info is None or info["status"] == NONE or st.paused:
            why = "the ledger was paused" if st.paused else "unknown"
            self.problem(VIOLATION, "restored-while-not-allowed", f"scheme {scheme} restored while {why}", ev)
        if account not in st.residents:
            self.problem(VIOLATION, "restored-to-non-resident", f"{account} is not a registered resident", ev)
        self._credit(ev, tx, scheme, account, op)
        tx.restores.append((scheme, account, a["amount"], a["ref"], op))

    def _credit(self, ev: Event, tx: _Tx, scheme: int, account: str, op: str) -> None:
        """Points added to `account` outside issuance (a mint, a refund's restore): its transfer, balance and supply,
        checked against the event's own after-values."""
        st, a = self.state, ev.args
        self._take_transfer(ev, tx, _ZERO, account, scheme, a["amount"], op)
        key = (scheme, account)
        bal = st.balances.get(key, 0) + a["amount"]
        st.balances[key] = bal
        st.received.setdefault(key, [0, 0])
        st.supply[scheme] = st.supply.get(scheme, 0) + a["amount"]
        self._expect(ev, "balance-after", f"balance after of {account} in scheme {scheme}", a["balanceAfter"], bal)
        self._expect(ev, "total-supply-after", f"total supply of scheme {scheme}", a["totalSupplyAfter"],
                     st.supply[scheme])

    def on_PointsLedger__PointsBurned(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        scheme, account, op = a["scheme"], a["account"], a["operator"]
        if not st.has_role("LEDGER_OPERATOR", op):
            self.problem(VIOLATION, "burned-by-non-operator", f"{op} burned without LEDGER_OPERATOR_ROLE", ev)
        self._spendable(ev, scheme)
        self._burn(ev, tx, scheme, account, a["amount"], op, a["balanceAfter"], a["totalSupplyAfter"])
        tx.burns.append((scheme, account, a["amount"], a["ref"], op))
        st.totals[scheme]["burned"] += a["amount"]

    def on_PointsLedger__AccountMoved(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        scheme, old, new = a["scheme"], a["account"], a["newAccount"]
        self._take_transfer(ev, tx, old, new, scheme, a["balance"], None)
        key_old, key_new = (scheme, old), (scheme, new)
        self._expect(ev, "moved-balance", f"balance of {old} in scheme {scheme}", a["balance"],
                     st.balances.get(key_old, 0))
        if st.balances.get(key_new, 0) or key_new in st.received:
            self.problem(VIOLATION, "move-to-nonempty", f"{new} already had a record in scheme {scheme}", ev)
        st.balances[key_new] = st.balances.pop(key_old, 0)
        if key_old in st.received:
            st.received[key_new] = st.received.pop(key_old)

    def on_PointsLedger__SchemeAdded(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        if a["scheme"] in st.schemes:
            self.problem(VIOLATION, "scheme-reused", f"scheme {a['scheme']} added twice", ev)
        st.schemes[a["scheme"]] = {"status": NONE, "quota": a["issuerDailyQuota"], "cap": a["residentDailyCap"],
                                   "quotaDay": 0, "issuedToday": 0}
        st.scheme_order.append(a["scheme"])
        st.supply.setdefault(a["scheme"], 0)

    def on_PointsLedger__SchemeStatusChanged(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        info = st.schemes.get(a["scheme"])
        if info is None:
            self.problem(VIOLATION, "unknown-scheme", f"status change of unknown scheme {a['scheme']}", ev)
            return
        self._expect(ev, "scheme-status", f"previous status of scheme {a['scheme']}", a["previous"], info["status"])
        allowed = {(NONE, ACTIVE), (ACTIVE, PAUSED), (PAUSED, ACTIVE), (ACTIVE, RETIRED), (PAUSED, RETIRED)}
        if (info["status"], a["status"]) not in allowed:
            self.problem(VIOLATION, "invalid-transition", f"scheme {a['scheme']}: {info['status']} -> {a['status']}",
                         ev)
        info["status"] = a["status"]

    def on_PointsLedger__IssuerDailyQuotaChanged(self, ev: Event, tx: _Tx) -> None:
        self.state.schemes[ev.args["scheme"]]["quota"] = ev.args["quota"]

    def on_PointsLedger__ResidentDailyCapChanged(self, ev: Event, tx: _Tx) -> None:
        self.state.schemes[ev.args["scheme"]]["cap"] = ev.args["cap"]

    def on_PointsLedger__LedgerPauseChanged(self, ev: Event, tx: _Tx) -> None:
        self.state.paused = ev.args["paused"]

    def on_PointsLedger__DayOffsetChanged(self, ev: Event, tx: _Tx) -> None:
        self.state.day_offset = ev.args["offsetSeconds"]

    def _spendable(self, ev: Event, scheme: int) -> None:
        info = self.state.schemes.get(scheme)
        if info is None or info["status"] not in (ACTIVE, RETIRED) or self.state.paused:
            self.problem(VIOLATION, "burned-while-not-spendable", f"scheme {scheme} burned while not spendable", ev)

    def _burn(self, ev, tx, scheme, account, amount, operator, balance_after, supply_after) -> None:
        st = self.state
        self._take_transfer(ev, tx, account, _ZERO, scheme, amount, operator)
        key = (scheme, account)
        bal = st.balances.get(key, 0)
        if bal < amount:
            self.problem(VIOLATION, "burn-exceeds-balance", f"{account} burned {amount} of scheme {scheme} holding "
                                                            f"{bal} (rebuilt)", ev, balance=bal, amount=amount)
        bal -= amount
        st.balances[key] = bal
        st.supply[scheme] = st.supply.get(scheme, 0) - amount
        self._expect(ev, "balance-after", f"balance after of {account} in scheme {scheme}", balance_after, bal)
        self._expect(ev, "total-supply-after", f"total supply of scheme {scheme}", supply_after, st.supply[scheme])

    def _take_transfer(self, ev, tx, frm, to, scheme, amount, operator) -> None:
        t = tx.transfers.pop() if tx.transfers else None
        if t is None or t["from"] != frm or t["to"] != to or t["id"] != scheme or t["value"] != amount or (
                operator is not None and t["operator"] != operator):
            self.problem(MISMATCH, "transfer-mismatch", f"{ev.name} is not preceded by its TransferSingle", ev,
                         transfer=t, expected={"from": frm, "to": to, "id": scheme, "value": amount})
        if tx.transfers:
            self.problem(VIOLATION, "unexplained-transfer", "TransferSingle without a ledger domain event", ev,
                         transfers=list(tx.transfers))
            tx.transfers.clear()

    # ------------------------------------------------------------------------------------------------
    # Membership
    # ------------------------------------------------------------------------------------------------

    def on_Membership__ResidentRegistered(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        if not st.has_role("ONBOARDING", a["authority"]):
            self.problem(VIOLATION, "registered-by-non-onboarding", f"{a['authority']} registered a resident", ev)
        if a["account"] in st.residents:
            self.problem(VIOLATION, "resident-twice", f"{a['account']} registered twice", ev)
        if any(a["account"] in members for members in st.roles.values()):
            self.problem(VIOLATION, "resident-holds-role", f"{a['account']} holds a role", ev)
        st.residents[a["account"]] = {"identity": a["identityHash"], "registeredAt": ev.timestamp}

    def on_Membership__RoleGranted(self, ev: Event, tx: _Tx) -> None:
        self.state.roles[ev.args["role"]].add(ev.args["account"])

    def on_Membership__RoleRevoked(self, ev: Event, tx: _Tx) -> None:
        a = ev.args
        self.state.roles[a["role"]].discard(a["account"])
        if a["role"] == ROLES["MERCHANT"]:
            self.state.merchants.pop(a["account"], None)

    def on_Membership__MerchantRegistered(self, ev: Event, tx: _Tx) -> None:
        self.state.merchants[ev.args["merchant"]] = False

    def on_Membership__MerchantSuspensionChanged(self, ev: Event, tx: _Tx) -> None:
        self.state.merchants[ev.args["merchant"]] = ev.args["suspended"]

    def on_Membership__IssuerAccountsSet(self, ev: Event, tx: _Tx) -> None:
        self.state.issuers[ev.args["scheme"]] = set(ev.args["accounts"])

    def on_Membership__RecoveryRequested(self, ev: Event, tx: _Tx) -> None:
        self.state.recoveries[ev.args["account"]] = ev.args["newAccount"]

    def on_Membership__RecoveryObjected(self, ev: Event, tx: _Tx) -> None:
        self.state.recoveries.pop(ev.args["account"], None)

    on_Membership__RecoveryCancelled = on_Membership__RecoveryObjected

    def on_Membership__ResidentRecovered(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        if st.recoveries.pop(a["account"], None) != a["newAccount"]:
            self.problem(VIOLATION, "recovery-not-requested", f"{a['account']} recovered without a matching request",
                         ev)
        record = st.residents.pop(a["account"], None)
        if record is None:
            self.problem(VIOLATION, "recovery-of-non-resident", f"{a['account']} was not a resident", ev)
            record = {"identity": a["identityHash"], "registeredAt": ev.timestamp}
        st.residents[a["newAccount"]] = record
        st.recovered_to[a["account"]] = a["newAccount"]

    # ------------------------------------------------------------------------------------------------
    # Rates
    # ------------------------------------------------------------------------------------------------

    def on_Rates__RateSet(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        self._expect(ev, "previous-rate", f"previous rate of scheme {a['scheme']}", a["previous"],
                     st.rates.get(a["scheme"], 0))
        st.rates[a["scheme"]] = a["rate"]
        st.rate_history[a["scheme"]].append([ev.block, a["rate"]])

    # ------------------------------------------------------------------------------------------------
    # Exchange and Redemption
    # ------------------------------------------------------------------------------------------------

    def _on_nonce(self, ev: Event, tx: _Tx) -> None:
        key = (ev.args["resident"], ev.args["nonce"])
        used = self.state.nonces[ev.contract]
        if key in used:
            self.problem(VIOLATION, "nonce-reused", f"{ev.contract}: nonce {key[1]} of {key[0]} spent twice", ev)
        used.add(key)
        tx.nonces.append((ev.contract, *key))

    on_Exchange__NonceUsed = _on_nonce
    on_Redemption__NonceUsed = _on_nonce

    def _spend_nonce(self, ev: Event, tx: _Tx, resident: str, nonce: str) -> None:
        key = (ev.contract, resident, nonce)
        if key in tx.nonces:
            tx.nonces.remove(key)
        else:
            self.problem(VIOLATION, "missing-nonce", f"{ev.name} without its NonceUsed", ev, nonce=nonce)

    def on_Exchange__Exchanged(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        resident, frm, to, points = a["resident"], a["fromScheme"], a["toScheme"], a["points"]
        self._spend_nonce(ev, tx, resident, a["nonce"])
        if (frm, to) not in st.pairs:
            self.problem(VIOLATION, "pair-not-allowed", f"exchange {frm} -> {to} is not an allowed pair", ev)
        rf, rt = st.rates.get(frm, 0), st.rates.get(to, 0)
        if not rf or not rt:
            self.problem(VIOLATION, "no-rate", f"exchange {frm} -> {to} without a rate in force", ev)
        else:
            credits = points * rf // RATE_SCALE
            self._expect(ev, "exchange-credits", f"credits at the rate in force ({rf})", a["credits"], credits)
            self._expect(ev, "exchange-received", f"points received at the rate in force ({rt})", a["received"],
                         credits * RATE_SCALE // rt)
        if a["received"] == 0:
            self.problem(VIOLATION, "exchange-nothing", "exchange gave nothing", ev)
        day = st.today(ev.timestamp)
        usage = st.usage.get(resident)
        used = usage[1] if usage and usage[0] == day else 0
        used += a["credits"]
        st.usage[resident] = [day, used]
        self._expect(ev, "exchange-used-today", f"credits {resident} exchanged today", a["usedTodayAfter"], used)
        if used > st.daily_limit:
            self.problem(VIOLATION, "exchange-limit-exceeded", f"{resident} exchanged {used} credit cents today, over "
                                                               f"the limit {st.daily_limit}", ev)
        ref = "0x" + keccak(abi_encode(["address", "bytes32"], [resident, bytes.fromhex(a["nonce"][2:])])).hex()
        exchange = self.contracts.get("Exchange")
        self._consume(ev, tx.burns, (frm, resident, points, ref, exchange), "exchange-burn")
        self._consume(ev, tx.mints, (to, resident, a["received"], ref, exchange), "exchange-mint")
        self._consume(ev, tx.ipos, (frm, to, a["credits"]), "exchange-position")
        self.intents.append({"type": "ExchangeIntent", "contract": ev.address, "tx": ev.tx, "block": ev.block,
                             "resident": resident, "fromScheme": frm, "toScheme": to, "points": points,
                             "nonce": a["nonce"], "received": a["received"],
                             "timestamp": ev.timestamp})
        st.totals[frm]["exchangedOut"] += points
        st.totals[to]["exchangedIn"] += a["received"]
        if self.detector is not None:
            self.detector.on_exchange(resident, frm, to, points, a["received"], a["credits"], ev.timestamp, ev.tx,
                                      ev.block)

    def on_Exchange__PairAllowed(self, ev: Event, tx: _Tx) -> None:
        pair = (ev.args["fromScheme"], ev.args["toScheme"])
        (self.state.pairs.add if ev.args["allowed"] else self.state.pairs.discard)(pair)

    def on_Exchange__DailyLimitSet(self, ev: Event, tx: _Tx) -> None:
        self.state.daily_limit = ev.args["limit"]

    def on_Redemption__Redeemed(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        rid, resident, merchant, credits = a["redemptionId"], a["resident"], a["merchant"], a["credits"]
        parts = [tuple(p) for p in a["parts"]]
        self._spend_nonce(ev, tx, resident, a["nonce"])
        expected_id = "0x" + keccak(abi_encode(["address", "bytes32"], [resident, bytes.fromhex(a["nonce"][2:])])).hex()
        self._expect(ev, "redemption-id", "redemption id", rid, expected_id)
        if merchant not in st.merchants or st.merchants[merchant]:
            self.problem(VIOLATION, "merchant-not-active", f"{merchant} is not an active merchant", ev)
        if sum(p[2] for p in parts) != credits:
            self.problem(VIOLATION, "parts-sum", f"parts add up to {sum(p[2] for p in parts)}, not {credits}", ev)
        redemption = self.contracts.get("Redemption")
        for scheme, points, part_credits in parts:
            self._consume(ev, tx.burns, (scheme, resident, points, rid, redemption), "redemption-burn")
            self._consume(ev, tx.mpos, (scheme, merchant, part_credits), "redemption-position")
        before = {s: st.balances.get((s, resident), 0) for s in st.scheme_order}
        for scheme, points, _ in parts:
            before[scheme] = before.get(scheme, 0) + points
        plan, value = self._plan(resident, credits, before)
        if plan != parts:
            self.problem(MISMATCH, "redemption-plan", "the burned parts are not what the rules take (preferred "
                                                      "order, rates in force, rounding against the resident)", ev,
                         event=parts, rebuilt=plan)
        if rid in st.redemptions:
            self.problem(VIOLATION, "redemption-twice", f"redemption {rid} recorded twice", ev)
        st.redemptions[rid] = {"resident": resident, "merchant": merchant, "credits": credits, "refunded": 0,
                               "parts": [list(p) for p in parts], "redeemedAt": ev.timestamp}
        self.intents.append({"type": "RedemptionConsent", "contract": ev.address, "tx": ev.tx, "block": ev.block,
                             "resident": resident, "merchant": merchant, "credits": credits,
                             "orderRef": a["orderRef"], "nonce": a["nonce"], "timestamp": ev.timestamp,
                             "relayers": sorted(st.roles.get(ROLES["RELAYER"], ()))})
        for scheme, points, part_credits in parts:
            st.totals[scheme]["redeemed"] += points
            st.totals[scheme]["redeemedCredits"] += part_credits
        if self.detector is not None:
            reg = st.residents.get(resident, {}).get("registeredAt")
            self.detector.on_redeem(resident, merchant, credits, value, reg, ev.timestamp, ev.tx, ev.block)

    def _plan(self, resident: str, credits: int, balances: dict[int, int]) -> tuple[list[tuple], int]:
        """Redemption._planOrRevert in Python over the rebuilt state; returns (parts, value available before)."""
        st = self.state
        preferred = st.preferred.get(resident, [])
        order = list(preferred) + [s for s in st.scheme_order if s not in preferred]
        parts, remaining, value = [], credits, 0
        for scheme in order:
            info = st.schemes.get(scheme)
            if info is None or info["status"] not in (ACTIVE, RETIRED):
                continue
            rate, bal = st.rates.get(scheme, 0), balances.get(scheme, 0)
            if rate:
                value += bal * rate // RATE_SCALE
            if remaining == 0 or rate == 0 or bal == 0:
                continue
            need = (remaining * RATE_SCALE + rate - 1) // rate
            if bal >= need:
                parts.append((scheme, need, remaining))
                remaining = 0
            else:
                v = bal * rate // RATE_SCALE
                if v == 0:
                    continue
                parts.append((scheme, bal, v))
                remaining -= v
        return parts, value

    def on_Redemption__Refunded(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        rid = a["redemptionId"]
        rec = st.redemptions.get(rid)
        if rec is None:
            self.problem(VIOLATION, "refund-unknown", f"refund of unknown redemption {rid}", ev)
            return
        if (rec["resident"], rec["merchant"]) != (a["resident"], a["merchant"]):
            self.problem(VIOLATION, "refund-parties", "refund names other parties than the redemption", ev)
        # The points go to whoever holds the resident's registration now (the new key after a recovery). Contracts
        # before `creditedTo` credited the resident itself: a refund to a key recovered away then shows as a
        # mint to a non-resident.
        credited = a.get("creditedTo", a["resident"])
        if "creditedTo" in a and credited != st.current_account(rec["resident"]):
            self.problem(VIOLATION, "refund-credited-elsewhere", f"refund credited {credited}, the resident's "
                                                                 f"account now is "
                                                                 f"{st.current_account(rec['resident'])}", ev)
        if ev.timestamp > rec["redeemedAt"] + st.refund_window:
            self.problem(VIOLATION, "refund-window", "refund after the window closed", ev,
                         refundableUntil=rec["redeemedAt"] + st.refund_window)
        before, total = rec["refunded"], rec["refunded"] + a["credits"]
        self._expect(ev, "refunded-total", "refunded total", a["refundedTotal"], total)
        if a["credits"] == 0 or total > rec["credits"]:
            self.problem(VIOLATION, "refund-too-large", f"refund takes the total to {total} of {rec['credits']}", ev)
        rec["refunded"] = total
        given, later = [], 0
        for scheme, points, part_credits in reversed(rec["parts"]):
            old = _clamp(before, later, part_credits)
            new = _clamp(total, later, part_credits)
            later += part_credits
            if new - old == 0:
                continue
            given.append((scheme, points * new // part_credits - points * old // part_credits, new - old))
        parts = [tuple(p) for p in a["parts"]]
        self._expect(ev, "refund-parts", "parts given back", parts, given)
        redemption = self.contracts.get("Redemption")
        for scheme, points, part_credits in parts:
            if points:
                item = (scheme, credited, points, rid, redemption)
                self._consume(ev, tx.restores if item in tx.restores or item not in tx.mints else tx.mints, item,
                              "refund-mint")
            self._consume(ev, tx.mpos, (scheme, rec["merchant"], -part_credits), "refund-position")
            st.totals[scheme]["refunded"] += points
        if self.detector is not None:
            self.detector.on_refund(rec["merchant"], a["credits"], ev.timestamp, ev.tx, ev.block)

    def on_Redemption__PreferredOrderSet(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        self._spend_nonce(ev, tx, a["resident"], a["nonce"])
        schemes = list(a["schemes"])
        if len(set(schemes)) != len(schemes) or any(s not in st.schemes for s in schemes):
            self.problem(VIOLATION, "invalid-order", f"preferred order {schemes} repeats or names unknown schemes", ev)
        st.preferred[a["resident"]] = schemes
        self.intents.append({"type": "PreferredOrder", "contract": ev.address, "tx": ev.tx, "block": ev.block,
                             "resident": a["resident"], "schemes": schemes, "nonce": a["nonce"],
                             "timestamp": ev.timestamp})

    def on_Redemption__RefundWindowSet(self, ev: Event, tx: _Tx) -> None:
        self.state.refund_window = ev.args["windowSeconds"]

    def _consume(self, ev: Event, items: list, item: tuple, code: str) -> None:
        try:
            items.remove(item)
        except ValueError:
            self.problem(MISMATCH, code, f"{ev.name}: no matching ledger/clearing event for {item}", ev,
                         expected=item, present=list(items))

    # ------------------------------------------------------------------------------------------------
    # Clearing
    # ------------------------------------------------------------------------------------------------

    def on_Clearing__MerchantPositionChanged(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        period, scheme, merchant, delta = a["period"], a["scheme"], a["merchant"], a["delta"]
        self._expect(ev, "clearing-period", "period", period, st.open_period)
        key = (period, scheme, merchant)
        st.merchant_pos[key] = st.merchant_pos.get(key, 0) + delta
        st.issuer_net[scheme] += delta
        st.merchant_net[merchant] -= delta
        self._expect(ev, "merchant-position", f"position of ({scheme}, {merchant}) in period {period}",
                     a["periodAmount"], st.merchant_pos[key])
        self._expect(ev, "issuer-net", f"net of scheme {scheme}'s issuer", a["issuerNet"], st.issuer_net[scheme])
        self._expect(ev, "merchant-net", f"net of merchant {merchant}", a["merchantNet"], st.merchant_net[merchant])
        tx.mpos.append((scheme, merchant, delta))

    def on_Clearing__IssuerPositionChanged(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        period, frm, to, credits = a["period"], a["fromScheme"], a["toScheme"], a["credits"]
        self._expect(ev, "clearing-period", "period", period, st.open_period)
        lo, hi = min(frm, to), max(frm, to)
        key = (period, lo, hi)
        st.issuer_pos[key] = st.issuer_pos.get(key, 0) + (credits if frm < to else -credits)
        st.issuer_net[frm] += credits
        st.issuer_net[to] -= credits
        self._expect(ev, "issuer-position", f"position of ({lo}, {hi}) in period {period}", a["periodAmountLoHi"],
                     st.issuer_pos[key])
        self._expect(ev, "issuer-net", f"net of scheme {frm}'s issuer", a["fromNet"], st.issuer_net[frm])
        self._expect(ev, "issuer-net", f"net of scheme {to}'s issuer", a["toNet"], st.issuer_net[to])
        tx.ipos.append((frm, to, credits))

    def on_Clearing__PeriodClosed(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        self._expect(ev, "closed-period", "closed period", a["period"], st.open_period)
        if not st.has_role("OPERATOR", a["operator"]):
            self.problem(VIOLATION, "closed-by-non-operator", f"{a['operator']} closed a period", ev)
        period = a["period"]
        st.closed_at[period] = a["closedAt"]
        st.open_period = period + 1
        # The period's statements are fixed now: index them by id so payments can be matched to their sums.
        for (p, scheme, merchant), amount in st.merchant_pos.items():
            if p == period:
                sid = _statement_id(MERCHANT_PAIR, period, scheme, int(merchant, 16))
                st.statements[sid] = {"kind": MERCHANT_PAIR, "period": period, "a": scheme, "b": merchant,
                                      "amount": amount, "state": OPEN, "bankRefHash": "0x" + "00" * 32}
        for (p, lo, hi), amount in st.issuer_pos.items():
            if p == period:
                st.statements[_statement_id(ISSUER_PAIR, period, lo, hi)] = {
                    "kind": ISSUER_PAIR, "period": period, "a": lo, "b": hi, "amount": amount, "state": OPEN,
                    "bankRefHash": "0x" + "00" * 32}

    def on_Clearing__PaymentRecorded(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        s = st.statements.get(a["statementId"])
        if s is None:
            self.problem(VIOLATION, "payment-unknown-statement", f"payment for statement {a['statementId']} that no "
                                                                 f"closed period's events add up to", ev)
            return
        self._expect(ev, "statement-amount", f"statement {a['statementId']} (sum of its period's events)",
                     a["amount"], abs(s["amount"]))
        if s["state"] not in (OPEN, DISPUTED):
            self.problem(VIOLATION, "payment-state", f"payment recorded in state {s['state']}", ev)
        if not self._acts_for(s, s["amount"] > 0, a["by"]):
            self.problem(VIOLATION, "payment-not-debtor", f"{a['by']} does not act for the debtor", ev)
        s["state"], s["bankRefHash"] = PAID, a["bankRefHash"]

    def on_Clearing__PaymentConfirmed(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        s = st.statements.get(a["statementId"])
        if s is None or s["state"] != PAID:
            self.problem(VIOLATION, "confirm-state", "payment confirmed that was not recorded as paid", ev)
            return
        if not self._acts_for(s, s["amount"] < 0, a["by"]):
            self.problem(VIOLATION, "confirm-not-creditor", f"{a['by']} does not act for the creditor", ev)
        s["state"] = CONFIRMED
        amount = s["amount"]
        self._expect(ev, "statement-amount", "confirmed amount", a["amount"], abs(amount))
        st.issuer_net[s["a"]] -= amount
        if s["kind"] == MERCHANT_PAIR:
            st.merchant_net[s["b"]] += amount
        else:
            st.issuer_net[s["b"]] += amount

    def on_Clearing__PaymentDisputed(self, ev: Event, tx: _Tx) -> None:
        s = self.state.statements.get(ev.args["statementId"])
        if s is None or s["state"] != PAID:
            self.problem(VIOLATION, "dispute-state", "payment disputed that was not recorded as paid", ev)
            return
        s["state"] = DISPUTED

    def _acts_for(self, s: dict, side_a: bool, who: str) -> bool:
        if s["kind"] == MERCHANT_PAIR:
            return who in self.state.issuers.get(s["a"], ()) if side_a else who == s["b"]
        return who in self.state.issuers.get(s["a"] if side_a else s["b"], ())

    # ------------------------------------------------------------------------------------------------
    # Consortium
    # ------------------------------------------------------------------------------------------------

    def _council(self) -> tuple[frozenset, int, int]:
        st = self.state
        return frozenset(st.members), st.threshold, st.emergency_threshold

    def _council_changes(self, tx: _Tx) -> None:
        """Called before a change of the members or thresholds: keeps the council the running execution began
        with (the first change of the transaction, or the first after its previous ProposalExecuted)."""
        if tx.council is None:
            tx.council = self._council()

    def on_Consortium__MemberAdded(self, ev: Event, tx: _Tx) -> None:
        self._council_changes(tx)
        self.state.members.add(ev.args["member"])
        self._expect(ev, "member-count", "member count", ev.args["memberCount"], len(self.state.members))

    def on_Consortium__MemberRemoved(self, ev: Event, tx: _Tx) -> None:
        self._council_changes(tx)
        self.state.members.discard(ev.args["member"])
        self._expect(ev, "member-count", "member count", ev.args["memberCount"], len(self.state.members))

    def on_Consortium__ThresholdsChanged(self, ev: Event, tx: _Tx) -> None:
        self._council_changes(tx)
        self.state.threshold, self.state.emergency_threshold = ev.args["threshold"], ev.args["emergencyThreshold"]

    def on_Consortium__ProposalLifetimeChanged(self, ev: Event, tx: _Tx) -> None:
        self.state.lifetime = ev.args["lifetime"]

    def on_Consortium__CallPolicySet(self, ev: Event, tx: _Tx) -> None:
        a = ev.args
        self.state.policies[(a["target"], a["selector"][:10])] = [a["delay"], a["emergency"]]

    def on_Consortium__ProposalCreated(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        pid = a["proposalId"]
        if a["proposer"] not in st.members:
            self.problem(VIOLATION, "proposal-by-non-member", f"{a['proposer']} proposed", ev)
        self._expect(ev, "proposal-id", "proposal id", pid, len(st.proposals) + 1)
        calls = [[c[0], c[1][:10], c[1][10:]] for c in a["calls"]]
        emergency = all(st.policies.get((t, sel), [0, False])[1] for t, sel, _ in calls)
        self._expect(ev, "proposal-emergency", f"emergency flag of proposal {pid}", a["emergency"], emergency)
        st.proposals[pid] = {"calls": [[t, sel] for t, sel, _ in calls], "innerTargets": [_inner(t, sel, rest)
                                                                                           for t, sel, rest in calls],
                             "emergency": a["emergency"], "approvers": set(), "queued": False, "readyAt": 0,
                             "expiresAt": a["expiresAt"], "state": "pending"}

    def on_Consortium__ProposalApproved(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        p = st.proposals.get(a["proposalId"])
        if p is None:
            self.problem(VIOLATION, "unknown-proposal", f"approval of unknown proposal {a['proposalId']}", ev)
            return
        if a["member"] not in st.members:
            self.problem(VIOLATION, "approval-by-non-member", f"{a['member']} approved", ev)
        p["approvers"].add(a["member"])
        self._expect(ev, "approvals", f"approvals of proposal {a['proposalId']}", a["approvals"],
                     len(p["approvers"] & st.members))
        self._expect(ev, "required-approvals", f"required approvals of proposal {a['proposalId']}", a["required"],
                     self._required(p))

    def on_Consortium__ProposalQueued(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        p = st.proposals.get(a["proposalId"])
        if p is None:
            return
        if len(p["approvers"] & st.members) < self._required(p):
            self.problem(VIOLATION, "queued-without-approvals", f"proposal {a['proposalId']} queued without enough "
                                                                f"approvals", ev)
        delay = 0
        for (t, sel), inner in zip(p["calls"], p["innerTargets"]):
            delay = max(delay, st.policies.get((t, sel), [0, False])[0],
                        st.policies.get(tuple(inner), [0, False])[0] if inner else 0)
        if a["readyAt"] < ev.timestamp + delay:
            self.problem(VIOLATION, "notice-too-short", f"proposal {a['proposalId']} ready at {a['readyAt']}, before "
                                                        f"its notice delay of {delay} s", ev)
        p.update(queued=True, readyAt=a["readyAt"], expiresAt=a["expiresAt"], state="queued")

    def on_Consortium__ProposalExecuted(self, ev: Event, tx: _Tx) -> None:
        """Judged against the consortium as it stood when `execute` began (the event comes after the proposal's
        calls ran, and those may have changed the members or thresholds): the executor was a member, and the
        approvals of the members then reached the threshold then."""
        st, a = self.state, ev.args
        tx.executed = True
        members, threshold, emergency_threshold = tx.council or self._council()
        tx.council = None  # a later execute in the same transaction begins from the state after this one
        p = st.proposals.get(a["proposalId"])
        if p is None:
            self.problem(VIOLATION, "unknown-proposal", f"execution of unknown proposal {a['proposalId']}", ev)
            return
        if a["executor"] not in members:
            self.problem(VIOLATION, "executed-by-non-member", f"{a['executor']} executed proposal {a['proposalId']} "
                                                              f"without being a member", ev,
                         executor=a["executor"], proposal=a["proposalId"], members=sorted(members))
        if not p["queued"] or ev.timestamp < p["readyAt"] or ev.timestamp >= p["expiresAt"]:
            self.problem(VIOLATION, "executed-early", f"proposal {a['proposalId']} executed outside its window "
                                                      f"[{p['readyAt']}, {p['expiresAt']})", ev)
        required = emergency_threshold if p["emergency"] else threshold
        approvals = p["approvers"] & members
        if len(approvals) < required:
            self.problem(VIOLATION, "executed-without-approvals", f"proposal {a['proposalId']} executed with "
                                                                  f"{len(approvals)} approvals of members, "
                                                                  f"{required} required", ev,
                         proposal=a["proposalId"], approvals=sorted(approvals), required=required)
        if p["state"] in ("executed", "cancelled"):
            self.problem(VIOLATION, "executed-twice", f"proposal {a['proposalId']} was {p['state']}", ev)
        p["state"] = "executed"

    def on_Consortium__ProposalCancelled(self, ev: Event, tx: _Tx) -> None:
        p = self.state.proposals.get(ev.args["proposalId"])
        if p is not None:
            p["state"] = "cancelled"

    def _required(self, p: dict) -> int:
        return self.state.emergency_threshold if p["emergency"] else self.state.threshold

    # ------------------------------------------------------------------------------------------------
    # AuditAttestations
    # ------------------------------------------------------------------------------------------------

    def on_AuditAttestations__AuditAttested(self, ev: Event, tx: _Tx) -> None:
        st, a = self.state, ev.args
        if not st.has_role("AUDITOR", a["auditor"]):
            self.problem(VIOLATION, "attested-by-non-auditor", f"{a['auditor']} attested without AUDITOR_ROLE", ev)
        st.attestations.append({"id": a["id"], "auditor": a["auditor"], "reportHash": a["reportHash"],
                                "merkleRoot": a["merkleRoot"], "fromBlock": a["fromBlock"], "toBlock": a["toBlock"],
                                "block": ev.block})


_ZERO = "0x" + "00" * 20


def _clamp(refunded: int, later: int, cap: int) -> int:
    if refunded <= later:
        return 0
    return min(refunded - later, cap)


def _statement_id(kind: int, period: int, a: int, b: int) -> str:
    return "0x" + keccak(abi_encode(["uint8", "uint256", "uint256", "uint256"], [kind, period, a, b])).hex()


def _inner(target: str, selector: str, rest: str) -> list | None:
    """For Consortium.setCallPolicy calls: the (target, selector) whose policy they change (its delay applies)."""
    if selector != _SET_CALL_POLICY or len(rest) < 128:
        return None
    return ["0x" + rest[24:64], "0x" + rest[64:72]]


_SET_CALL_POLICY = "0x" + keccak(text="setCallPolicy(address,bytes4,uint64,bool)")[:4].hex()


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return v
