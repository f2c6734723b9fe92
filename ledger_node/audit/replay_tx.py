"""One transaction of the audit replay: what its events leave waiting for the event that explains them.

The fold (replay.py, whose docstring says what waits for what) opens a `Tx` at a transaction's first event and
reports whatever is still waiting when the next transaction begins; the domain handlers (replay_*.py) add to it
and take from it.
"""
from __future__ import annotations


class Tx:
    """Waiting items of one transaction (hash, block): each list holds what no explaining event has taken yet."""

    __slots__ = ("hash", "block", "transfers", "burns", "mints", "restores", "changes", "mpos", "ipos", "nonces",
                 "governed", "executed", "council", "grants", "citation")

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
        self.changes: list[tuple] = []  # ChangeUpdated: (scheme, account, before, after, ref, operator)
        self.mpos: list[tuple] = []  # (scheme, merchant, delta)
        self.ipos: list[tuple] = []  # (from, to, credits)
        self.nonces: list[tuple] = []  # (contract, resident, nonce)
        self.governed: list[str] = []
        self.grants: list[tuple[int, str]] = []  # (scheme, account) made issuer here, awaiting its ProposalExecuted
        self.executed = False
        # IssuanceRulesCited waiting for the PointsIssued of its call: (scheme, issuer, version, rules hash, event)
        self.citation: tuple | None = None
