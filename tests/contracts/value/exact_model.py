"""A Python reference model of exact change (issue 27) for the value contracts' stateful tests: what a redemption,
a refund and an exchange do to a resident's points and change (value units: credit cents x 1e6), and the error the
chain must give when it refuses, in the order the contracts check. Plans come from the one planner
(ledger_node.redemption_plan), so the tests also check that every plan it makes is one the chain takes."""
from __future__ import annotations

from ledger_node.redemption_plan import Holding, NotEnoughValue, plan

SCALE = 10**6
MAX_PARTS = 16
ACTIVE, PAUSED, RETIRED = 1, 2, 3
SPENDABLE = (ACTIVE, RETIRED)


class Rejected(Exception):
    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


class ExactModel:
    """Points and change per resident and scheme, the schemes' rates and status, and the ledger's global pause."""

    def __init__(self, schemes: tuple[int, ...], rates: dict[int, int]):
        self.schemes = schemes
        self.rates = dict(rates)
        self.status = {s: ACTIVE for s in schemes}
        self.paused = False
        self.points: dict[str, dict[int, int]] = {}
        self.change: dict[str, dict[int, int]] = {}

    def add_resident(self, address: str, points: dict[int, int]) -> None:
        self.points[address] = {s: points.get(s, 0) for s in self.schemes}
        self.change[address] = {s: 0 for s in self.schemes}

    def move(self, old: str, new: str) -> None:
        """A recovery moves points and change."""
        self.points[new] = self.points.pop(old)
        self.change[new] = self.change.pop(old)

    def worth(self, address: str) -> int:
        """Value units the resident holds at the rates now: points at their rates plus change, every scheme."""
        return sum(self.points[address][s] * self.rates[s] + self.change[address][s] for s in self.schemes)

    # ---- redemption ----------------------------------------------------------------------------------------

    def holdings(self, address: str, order: list[int]) -> list[Holding]:
        """What the planner sees, in the resident's order (preferred first, then the ledger's); unspendable
        schemes have rate 0."""
        ordered = [s for s in order if s in self.schemes] + [s for s in self.schemes if s not in order]
        return [Holding(s, self.points[address][s], self.change[address][s],
                        self.rates[s] if self.status[s] in SPENDABLE and not self.paused else 0) for s in ordered]

    def plan(self, address: str, credits: int, order: list[int] = ()) -> list[tuple[int, int, int]] | None:
        try:
            return [p.as_tuple() for p in plan(credits, self.holdings(address, list(order)))]
        except NotEnoughValue:
            return None

    def take(self, address: str, credits: int, parts: list[tuple[int, int, int]]) -> list[dict]:
        """Redemption._take on the model: the parts' values, or Rejected with the chain's first error. Changes the
        model only on success."""
        if not parts or len(parts) > MAX_PARTS:
            raise Rejected("RedemptionInvalidPlan")
        points = dict(self.points[address])
        change = dict(self.change[address])
        taken, seen = [], set()
        for scheme, n, c in parts:
            if c == 0 or c > credits or scheme in seen:
                raise Rejected("RedemptionInvalidPlan")
            seen.add(scheme)
            rate = self.rates.get(scheme, 0)
            if rate == 0:
                raise Rejected("RedemptionNoRate")
            if self.status[scheme] not in SPENDABLE:
                raise Rejected("PointsLedgerSchemeNotActive")
            if self.paused:
                raise Rejected("PointsLedgerPaused")
            if points[scheme] < n:
                raise Rejected("PointsLedgerInsufficientBalance")
            available = change[scheme] + n * rate
            if available < c * SCALE:
                raise Rejected("PointsLedgerValueShort")
            if n > 0 and (n - 1) * rate >= c * SCALE:
                raise Rejected("RedemptionPlanTakesTooMuch")
            taken.append({"scheme": scheme, "points": n, "value": n * rate, "credits": c,
                          "changeBefore": change[scheme], "changeAfter": available - c * SCALE})
            points[scheme] -= n
            change[scheme] = available - c * SCALE
        if sum(c for _, _, c in parts) != credits:
            raise Rejected("RedemptionPlanMismatch")
        self.points[address], self.change[address] = points, change
        return taken

    def give_back(self, address: str, parts: list[tuple[int, int, int]], before: int, total: int) -> list[dict]:
        """Redemption._giveBack: each part's share of the credits refunded between `before` and `total`, last part
        first, restored as value at the rate now (whole points, the rest as change)."""
        if self.paused:
            raise Rejected("PointsLedgerPaused")
        given, later = [], 0
        for scheme, _, c in reversed(parts):
            share = _clamp(total, later, c) - _clamp(before, later, c)
            later += c
            if share == 0:
                continue
            rate = self.rates[scheme]
            before_change = self.change[address][scheme]
            points, after = divmod(before_change + share * SCALE, rate)
            self.points[address][scheme] += points
            self.change[address][scheme] = after
            given.append({"scheme": scheme, "points": points, "value": points * rate, "credits": share,
                          "changeBefore": before_change, "changeAfter": after})
        return given

    # ---- exchange ------------------------------------------------------------------------------------------

    def exchange(self, address: str, a: int, b: int, points: int, min_received: int) -> tuple[int, dict, dict]:
        """Exchange._move and _settle up to the daily limit (the caller checks it after): (credits, taken, given),
        or Rejected with the chain's first error. Changes the model only on success."""
        rate_a, rate_b = self.rates[a], self.rates[b]
        change_a, change_b = self.change[address][a], self.change[address][b]
        credits = (points * rate_a + change_a) // SCALE
        if credits == 0:
            raise Rejected("ExchangeBelowMinimum")
        if self.status[a] not in SPENDABLE:
            raise Rejected("PointsLedgerSchemeNotActive")
        if self.paused:
            raise Rejected("PointsLedgerPaused")
        if self.points[address][a] < points:
            raise Rejected("PointsLedgerInsufficientBalance")
        if self.status[b] != ACTIVE:
            raise Rejected("PointsLedgerSchemeNotActive")
        received, change_b_after = divmod(change_b + credits * SCALE, rate_b)
        if received == 0 or received < min_received:
            raise Rejected("ExchangeBelowMinimum")
        taken = {"points": points, "value": points * rate_a, "changeBefore": change_a,
                 "changeAfter": points * rate_a + change_a - credits * SCALE}
        given = {"points": received, "value": received * rate_b, "changeBefore": change_b,
                 "changeAfter": change_b_after}
        return credits, taken, given

    def apply_exchange(self, address: str, a: int, b: int, taken: dict, given: dict) -> None:
        self.points[address][a] -= taken["points"]
        self.change[address][a] = taken["changeAfter"]
        self.points[address][b] += given["points"]
        self.change[address][b] = given["changeAfter"]


def _clamp(refunded: int, later: int, cap: int) -> int:
    return 0 if refunded <= later else min(refunded - later, cap)


def conserves_redeemed(p: dict) -> bool:
    return p["value"] + p["changeBefore"] == p["credits"] * SCALE + p["changeAfter"]


def conserves_refunded(p: dict) -> bool:
    return p["credits"] * SCALE + p["changeBefore"] == p["value"] + p["changeAfter"]


def conserves_exchanged(credits: int, taken: dict, given: dict) -> bool:
    return (taken["value"] + taken["changeBefore"] == credits * SCALE + taken["changeAfter"]
            and credits * SCALE + given["changeBefore"] == given["value"] + given["changeAfter"])
