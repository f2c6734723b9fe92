"""The plan of a redemption (contracts/interfaces/IRedemption.sol, "Exact change"): which whole points of which
schemes pay a price, and how many credit cents each part pays. The resident signs the plan; the chain takes exactly
it. The API makes it when a wallet opens a payment request, the wallet shows it before signing, the demo and the
benches use it: one planner.

Value is counted in value units (credit cents x RATE_SCALE), so every rate is exact. A scheme's points and the
resident's change there are worth `points * rate + change`; a part can pay at most that in whole cents
(`floor(worth / RATE_SCALE)`); what the points burned are worth beyond the cents paid stays as change.

The plan burns the least value of points that pays the price (so the resident keeps as many whole points as
possible and the change left is as small as it can be), using the change already held first; among plans that
burn the same value it takes from the schemes in the resident's order (preferred first). The search is exhaustive
while it stays under NODE_LIMIT nodes (every small case: a few schemes, tens of points) and otherwise returns the
best plan found, never worse than taking each scheme in order.
"""
from __future__ import annotations

from dataclasses import dataclass

from ledger_node.domain import RATE_SCALE
from ledger_node.errors import LedgerNodeError

NODE_LIMIT = 20_000      # search nodes before the best plan so far is taken
WINDOW = 64              # point counts tried below what would cover the rest alone, per scheme


@dataclass(frozen=True)
class Holding:
    """One scheme the resident can spend now: `rate` 0 (no rate, paused) means it pays nothing."""
    scheme: int
    points: int
    change: int = 0     # value units
    rate: int = 0       # credit cents a point x RATE_SCALE


@dataclass(frozen=True)
class Part:
    """What the resident signs for one scheme: burn `points`, pay `credits` of the price."""
    scheme: int
    points: int
    credits: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.scheme, self.points, self.credits)

    def as_message(self) -> dict:
        return {"scheme": self.scheme, "points": self.points, "credits": self.credits}


class NotEnoughValue(LedgerNodeError, ValueError):
    """The resident's points and change pay fewer credits than asked."""

    def __init__(self, credits: int, available: int):
        super().__init__(f"the points and change are worth {available} credit cents, less than the {credits} asked")
        self.credits, self.available = credits, available


def payable(h: Holding, points: int | None = None) -> int:
    """Whole credit cents `points` (default: all) of a holding pay with its change."""
    if h.rate == 0:
        return 0
    return (h.change + (h.points if points is None else points) * h.rate) // RATE_SCALE


def plan(credits: int, holdings: list[Holding]) -> list[Part]:
    """The parts that pay `credits` from `holdings` (in the resident's order); raises NotEnoughValue."""
    if credits <= 0:
        raise ValueError("a plan pays a positive number of credit cents")
    usable = [h for h in holdings if h.rate > 0 and payable(h) > 0]
    total = sum(payable(h) for h in usable)
    if total < credits:
        raise NotEnoughValue(credits, total)
    counts = _trim(credits, usable, _search(credits, usable))
    return _assign(credits, usable, counts)


def _search(credits: int, hs: list[Holding]) -> list[int]:
    """Point counts per holding: least value burned, then most from the earlier holdings (depth-first, counts tried
    from high to low, so the first plan found at a value is the preferred one)."""
    n = len(hs)
    change_rest = [0] * (n + 1)
    cap_rest = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        change_rest[i] = change_rest[i + 1] + hs[i].change
        cap_rest[i] = cap_rest[i + 1] + payable(hs[i])
    best: list = [None, None]   # value, counts
    nodes = 0
    counts = [0] * n

    def dfs(i: int, value: int, need: int) -> None:
        nonlocal nodes
        nodes += 1
        if need <= 0:
            if best[0] is None or value < best[0]:
                best[0], best[1] = value, counts[:i] + [0] * (n - i)
            return
        if i == n or cap_rest[i] < need or nodes > NODE_LIMIT:
            return
        if best[0] is not None and value + max(0, need * RATE_SCALE - change_rest[i]) >= best[0]:
            return
        h = hs[i]
        alone = max(0, -(-(need * RATE_SCALE - h.change) // h.rate))   # points covering the rest by themselves
        top = min(h.points, alone)
        tried = list(range(top, max(-1, top - WINDOW - 1), -1))
        if tried[-1] != 0:
            tried.append(0)
        for k in tried:
            counts[i] = k
            dfs(i + 1, value + k * h.rate, need - payable(h, k))
            if nodes > NODE_LIMIT and best[0] is not None:
                return
        counts[i] = 0

    dfs(0, 0, credits)
    return best[1]


def _trim(credits: int, hs: list[Holding], counts: list[int]) -> list[int]:
    """Drop points the plan does not need (only a search cut short by NODE_LIMIT can leave some), last first."""
    counts = counts[:]
    total = sum(payable(h, k) for h, k in zip(hs, counts))
    for i in range(len(hs) - 1, -1, -1):
        while counts[i] > 0:
            less = total - payable(hs[i], counts[i]) + payable(hs[i], counts[i] - 1)
            if less < credits:
                break
            counts[i], total = counts[i] - 1, less
    return counts


def _assign(credits: int, hs: list[Holding], counts: list[int]) -> list[Part]:
    """Credits per part: each pays what it can (`hi`), then the surplus is taken off from the last holding back,
    never so far that a part burning points would keep a whole point's worth as change (`lo`)."""
    hi = [payable(h, k) for h, k in zip(hs, counts)]
    lo = [payable(h, k - 1) + 1 if k > 0 else 0 for h, k in zip(hs, counts)]
    surplus = sum(hi) - credits
    pay = hi[:]
    for i in range(len(hs) - 1, -1, -1):
        cut = min(surplus, hi[i] - lo[i])
        pay[i] -= cut
        surplus -= cut
    assert surplus == 0, "a least-value plan always leaves room for its surplus"
    return [Part(h.scheme, k, m) for h, k, m in zip(hs, counts, pay) if m > 0]


def holdings_on_chain(ledger, rates, redemption, resident: str) -> list[Holding]:
    """The resident's holdings read from the chain (web3 contract objects of PointsLedger, Rates and Redemption),
    in the resident's order: the preferred schemes, then the rest in the ledger's order. Schemes that cannot be
    spent now (paused, no rate) have rate 0. For tools and tests; the API plans from its indexed view."""
    from ledger_node.domain import SPENDABLE
    ids = list(ledger.functions.schemeIds().call())
    preferred = [s for s in redemption.functions.preferredOrder(resident).call() if s in ids]
    out = []
    for scheme in preferred + [s for s in ids if s not in preferred]:
        status = ledger.functions.schemeInfo(scheme).call()[0]
        rate = rates.functions.rateOf(scheme).call() if status in SPENDABLE else 0
        out.append(Holding(scheme, ledger.functions.balanceOf(resident, scheme).call(),
                           ledger.functions.changeOf(resident, scheme).call(), rate))
    return out


def plan_on_chain(ledger, rates, redemption, resident: str, credits: int) -> list[Part]:
    """`plan` over the resident's holdings as the chain has them now."""
    return plan(credits, holdings_on_chain(ledger, rates, redemption, resident))
