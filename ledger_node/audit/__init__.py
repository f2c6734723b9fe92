"""The auditor's replay (docs/DESIGN.md flow 5): rebuild the whole ledger from JSON-RPC alone, compare it with the
contracts' own answers, check every rule, flag farming patterns, and publish a signed, attested report.

Modules, read in this order: `cli` (the `citypoints audit` commands) -> `run` (one audit end to end) ->
`rpc` (keep-alive JSON-RPC, batched) -> `events` (topic -> decoder tables) -> `replay` (the fold over events;
the rules checked as they arrive in `replay_governance`, `replay_issuance`, `replay_redemption`,
`replay_clearing`; the rebuilt world in `state`) -> `signatures` (consent and intent signers from calldata) ->
`rules` (end-of-range comparison with eth_call) -> `patterns` (suspicious patterns, thresholds) -> `merkle` ->
`report` -> `attest`.
"""
from __future__ import annotations

from ledger_node.errors import LedgerNodeError


class AuditError(LedgerNodeError):
    """The audit could not be carried out (node unreachable, report unreadable); not a finding about the chain."""
