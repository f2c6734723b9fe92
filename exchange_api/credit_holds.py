"""Credits held for redemptions this service accepted that the indexed balances do not show spent yet.

A redemption is admitted against the resident's credits as indexed minus what is held (`services/redemptions.py`):
two redemptions sent in the same block cannot both spend the same points, which a simulation on the chain's
latest state would let through (it sees neither). A redemption takes exactly its credits in value (its plan burns
whole points and the change absorbs the rest: IRedemption), so a hold is the credits; the hold also keeps the plan's
points, which the plans made for the resident's next requests leave aside (services/redemptions.py). A hold is taken
when the redemption is admitted, kept while it is pending, and dropped when the indexer commits its `Redeemed`
event (the burn shows in the balances from that same commit on) or when it failed. Holds live in the process:
one service process relays a deployment's redemptions (as its relayer accounts' nonces already require); a
restart reloads them from the store (`load`).
"""
from __future__ import annotations

from collections import defaultdict


class CreditHolds:
    def __init__(self):
        self._held: dict[str, dict[str, int]] = defaultdict(dict)   # resident -> redemption id -> credits
        self._resident: dict[str, str] = {}                          # redemption id -> resident
        self._points: dict[str, tuple] = {}                           # redemption id -> ((scheme, points), ...)

    def clear(self) -> None:
        """Forget every hold: for a chain rewound under the service (tests' evm_revert), whose pending
        redemptions can no longer be mined."""
        self._held.clear()
        self._resident.clear()
        self._points.clear()

    def held(self, resident: str) -> tuple[int, int]:
        """(credits held, number of pending redemptions) for `resident`."""
        held = self._held.get(resident)
        return (sum(held.values()), len(held)) if held else (0, 0)

    def __contains__(self, redemption_id: str) -> bool:
        return redemption_id in self._resident

    def points_held(self, resident: str) -> dict[int, int]:
        """scheme -> points the resident's pending plans (admitted here since the start) burn."""
        out: dict[int, int] = defaultdict(int)
        for redemption_id in self._held.get(resident, ()):
            for scheme, points in self._points.get(redemption_id, ()):
                out[scheme] += points
        return out

    def reserve(self, resident: str, redemption_id: str, credits: int, points: tuple = ()) -> None:
        self._held[resident][redemption_id] = credits
        self._resident[redemption_id] = resident
        if points:
            self._points[redemption_id] = points

    def release(self, redemption_id: str) -> None:
        self._points.pop(redemption_id, None)
        resident = self._resident.pop(redemption_id, None)
        if resident is not None:
            held = self._held[resident]
            held.pop(redemption_id, None)
            if not held:
                del self._held[resident]

    def indexed(self, redemption_ids) -> None:
        """The indexer committed these redemptions: the balances it serves now show what they spent."""
        for redemption_id in redemption_ids:
            self.release(redemption_id)

    def load(self, rows) -> None:
        """After a restart: (resident, redemption id, credits) of every redemption pending, or mined after the
        indexer's cursor."""
        for resident, redemption_id, credits in rows:
            self.reserve(resident, redemption_id, credits)
