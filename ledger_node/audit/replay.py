"""Rebuild the whole CityPoints state from events, checking each rule at the event that exercises it.

Events arrive in chain order. Each transaction is a small context: the ledger's TransferSingle events wait
there for the domain event that explains them (PointsIssued, PointsRevoked, PointsMinted, PointsBurned,
AccountMoved, PointsRestored), ledger-operator mints, restores, burns and change moves (ChangeUpdated) and clearing
moves wait for the Exchanged / Redeemed / Refunded event that explains them, and rule-changing events must be explained by a
ProposalExecuted of the same transaction (or a contract creation). Whatever is left unexplained when the
transaction ends is a violation.

Where an event carries the state after the change (balancesAfter, totalSupplyAfter, quotaUsedAfter, positions,
nets, usedTodayAfter), it is compared with the rebuilt value at once: tampering shows at the event after it.

Every rule is judged against the state at the moment it applied, i.e. the state the logs before it left. Where a
contract emits its event after the calls it made (Consortium.execute emits ProposalExecuted after the proposal's
calls), the handler uses what the state was before those calls (`Tx.council`).

This module is the fold: it takes the events in order, groups them into transactions (replay_tx.Tx), dispatches
each to its `on_<Contract>__<Event>` handler, records problems and checks what a transaction left unexplained.
The handlers live by domain and are mixed into `Replayer`: replay_governance (Consortium, Membership,
AuditAttestations), replay_issuance (PointsLedger, Rates), replay_redemption (Exchange, Redemption, nonces),
replay_clearing (Clearing) and replay_trail (IdentityTrail). They read and write `self.state` (state.State) and
report through `self.problem` and `self._expect`.
"""
from __future__ import annotations

from typing import Iterable

from ledger_node.audit.events import Event
from ledger_node.audit.model import MISMATCH, VIOLATION, Problem
from ledger_node.audit.replay_clearing import ClearingHandlers
from ledger_node.audit.replay_governance import GovernanceHandlers
from ledger_node.audit.replay_issuance import IssuanceHandlers
from ledger_node.audit.replay_trail import TrailHandlers
from ledger_node.audit.replay_redemption import RedemptionHandlers
from ledger_node.audit.replay_tx import Tx
from ledger_node.rules_documents import RulesLibrary
from ledger_node.audit.state import State

# Events that only governance (an executed proposal) or a constructor may cause.
GOVERNED = {
    "PointsLedger": {"SchemeAdded", "SchemeStatusChanged", "IssuerDailyQuotaChanged", "ResidentDailyCapChanged",
                     "SchemeExpiryChanged", "LedgerPauseChanged", "DayOffsetChanged", "URI", "SchemeRegistrySet"},
    "Membership": {"RoleGranted", "RoleRevoked", "MerchantRegistered", "MerchantSuspensionChanged",
                   "IssuerAccountsSet", "RecoveryNoticeChanged", "PointsLedgerSet"},
    "Rates": {"RateSet", "SchemeRegistrySet"},
    "SchemeRegistry": {"SchemeDescribed", "RulesPublished"},
    "Exchange": {"PairAllowed", "DailyLimitSet"},
    "Redemption": {"RefundWindowSet"},
    "Consortium": {"MemberAdded", "MemberRemoved", "ThresholdsChanged", "CallPolicySet", "ProposalLifetimeChanged"},
}


class Replayer(GovernanceHandlers, IssuanceHandlers, RedemptionHandlers, ClearingHandlers, TrailHandlers):
    """Feeds events into a State, collecting problems, the intents whose signatures must be checked, and the
    transactions whose rule changes need a creation check; pattern detectors observe as it goes."""

    def __init__(self, contracts: dict[str, str], state: State | None = None, detector=None,
                 rules: RulesLibrary | None = None):
        self.contracts = {k: v.lower() for k, v in contracts.items()}
        self.rules_library = rules if rules is not None else RulesLibrary()
        self.state = state or State()
        self.detector = detector
        self.problems: list[Problem] = []
        self.intents: list[dict] = []  # checked against calldata by signatures.py
        self.governed_txs: list[dict] = []  # rule changes without ProposalExecuted: must be contract creations
        self.events = 0
        self._tx: Tx | None = None
        self._handlers = {}
        for name in dir(self):
            if name.startswith("on_"):
                contract, _, event = name[3:].partition("__")
                self._handlers[(contract, event)] = getattr(self, name)

    # ------------------------------------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------------------------------------

    def process(self, events: Iterable[Event]) -> None:
        # The hot loop of the audit (one pass per event of the chain): a TransferSingle, most of a chain's events,
        # only waits on its transaction for the domain event that explains it.
        handlers, counts = self._handlers, self.state.counts
        tx = self._tx
        tx_hash, transfers = (tx.hash, tx.transfers) if tx is not None else (None, None)
        for ev in events:
            if ev.tx != tx_hash:
                if tx is not None:
                    self._finish_tx(tx)
                tx = self._tx = Tx(ev.tx, ev.block)
                tx_hash, transfers = tx.hash, tx.transfers
            self.events += 1
            name = ev.name
            counts[name] += 1
            if name == "TransferSingle":
                transfers.append(ev.args)
                continue
            if name in GOVERNED.get(ev.contract, ()):
                tx.governed.append(name)
            handler = handlers.get((ev.contract, name))
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

    def _finish_tx(self, tx: Tx) -> None:
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
        if tx.changes:
            self.problems.append(Problem(VIOLATION, "conservation",
                                         f"{len(tx.changes)} ChangeUpdated event(s) not explained by a part of a "
                                         f"Redeemed or Refunded or a side of an Exchanged: value moved outside the "
                                         f"flows", evidence={"changes": _jsonable(tx.changes)}, **where))
        if tx.mpos or tx.ipos:
            self.problems.append(Problem(VIOLATION, "unexplained-position",
                                         "clearing positions moved without a redemption, refund or exchange",
                                         evidence={"merchant": _jsonable(tx.mpos), "issuer": _jsonable(tx.ipos)},
                                         **where))
        if tx.nonces:
            self.problems.append(Problem(VIOLATION, "unexplained-nonce", "nonce spent without a domain event",
                                         evidence={"nonces": _jsonable(tx.nonces)}, **where))
        if tx.citation is not None:
            self.problems.append(Problem(MISMATCH, "citation-without-issuance",
                                         "IssuanceRulesCited without the PointsIssued of its call",
                                         evidence={"logIndex": tx.citation[4].log_index}, **where))
        if tx.governed and not tx.executed:
            self.governed_txs.append({"block": tx.block, "tx": tx.hash, "events": sorted(set(tx.governed))})


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return v
