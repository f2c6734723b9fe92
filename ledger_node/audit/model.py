"""What an audit reports: problems (the chain or the contracts disagree with the rules or with the rebuilt
state: they fail the audit) and findings (patterns that look like farming or cheating: warnings)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

MISMATCH = "mismatch"  # the rebuilt state differs from what the chain says (events or eth_call)
VIOLATION = "violation"  # something happened that the rules forbid
UNVERIFIABLE = "unverifiable"  # a rule could not be checked from JSON-RPC (e.g. calldata not found)


@dataclass
class Problem:
    kind: str
    code: str
    message: str
    block: int | None = None
    tx: str | None = None
    evidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Finding:
    pattern: str
    message: str
    evidence: dict = field(default_factory=dict)
    severity: str = "warning"

    def to_json(self) -> dict:
        return asdict(self)
