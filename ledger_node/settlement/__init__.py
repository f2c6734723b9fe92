"""`citypoints settle`: the clearing side of the city without code (docs/DESIGN.md, period settlement).

Clearing keeps each period's positions; this package reads a closed period into a statement checked against the
period's events, and sends the steps of settling it (close, pay, confirm, dispute) with a member's key.

Modules, read in this order: `cli` (the commands) -> `statement` (one closed period: positions, events, the check,
JSON and CSV) -> `periods` (every period at a glance, and what is still awaited from whom) -> `payments` (the
transactions) -> `ledger` (the deployment's contracts and their logs) -> `keys` (the signing key) -> `errors`.
"""
