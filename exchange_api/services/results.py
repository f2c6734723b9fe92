"""What a service answers: a typed result, not an HTTP status. A service says whether what it did is settled or
only accepted; the routers translate that to a status code (routers/__init__.py `created`, `changed`), the only
place a success's status is chosen."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Done:
    """Settled: created, changed or final as the body says (HTTP 201 for a creation, 200 for a change)."""
    body: dict


@dataclass(frozen=True)
class Pending:
    """Accepted, not settled yet (HTTP 202): its transaction is not mined within the wait (or the caller asked not
    to wait), or a delivery is queued."""
    body: dict


Result = Done | Pending
