"""The indexed chain state the service answers from memory: residents' points per scheme, the schemes' rates and
statuses, merchants' standing. Loaded from the indexer's tables on first use and then kept current by the
indexer's commits: a commit writes the new balances of the accounts it touched into the entries held here (so a
wallet's reads and a redemption's admission cost no database round trip once an account is loaded), and a change
of a rate, a scheme's status or a merchant's standing drops everything (rare; the next read loads it again).
"""
from __future__ import annotations

from sqlalchemy import select

from exchange_api.store.models import IdxBalance, IdxMerchant, IdxScheme

MAX_ACCOUNTS = 200_000  # entries kept before the cache starts over


class IndexedView:
    def __init__(self):
        self.epoch = 0  # bumped by every indexer commit: a load that spans one is not kept
        self._points: dict[str, dict[int, int]] = {}
        self._change: dict[str, dict[int, int]] = {}   # account -> scheme -> change (value units), loaded with points
        self._schemes: dict[int, IdxScheme] | None = None
        self._merchants: dict[str, bool] = {}

    def clear(self) -> None:
        self._points.clear()
        self._change.clear()
        self._schemes = None
        self._merchants.clear()

    def indexed(self, changed: tuple[dict, dict] | None) -> None:
        """An indexer commit: the balances and change after it of the accounts it touched, or None when anything
        else may have changed (rates, statuses, merchants, a rebuild, a recovery)."""
        self.epoch += 1
        if changed is None:
            self.clear()
            return
        balances, changes = changed
        for (account, scheme), balance in balances.items():
            held = self._points.get(account)
            if held is not None:
                held[scheme] = balance
        for (account, scheme), change in changes.items():
            held = self._change.get(account)
            if held is not None:
                held[scheme] = change

    async def holdings(self, store, account: str) -> tuple[dict[int, int], dict[int, int], dict[int, IdxScheme]]:
        """(scheme -> points, scheme -> change in value units, scheme -> its row) of `account` (checksummed), as of
        one indexer commit: a read that spans a commit (the points might predate it) is made again."""
        while True:
            epoch = self.epoch
            points, change = await self._account(store, account)
            schemes = await self.schemes(store)
            if epoch == self.epoch:
                return points, change, schemes

    async def _account(self, store, account: str) -> tuple[dict[int, int], dict[int, int]]:
        held = self._points.get(account)
        change = self._change.get(account)
        if held is None or change is None:
            epoch = self.epoch
            rows = await store.run(lambda s: s.execute(
                select(IdxBalance.scheme, IdxBalance.balance, IdxBalance.change)
                .where(IdxBalance.account == account)).all())
            held = {scheme: balance for scheme, balance, _ in rows}
            change = {scheme: c for scheme, _, c in rows if c}
            if epoch == self.epoch:
                if len(self._points) >= MAX_ACCOUNTS:
                    self._points.clear()
                    self._change.clear()
                self._points[account] = held
                self._change[account] = change
        return held, change

    async def schemes(self, store) -> dict[int, IdxScheme]:
        schemes = self._schemes
        if schemes is None:
            epoch = self.epoch
            schemes = await store.run(lambda s: {r.scheme: r for r in s.scalars(select(IdxScheme))})
            if epoch == self.epoch:
                self._schemes = schemes
        return schemes

    async def merchant_active(self, store, merchant: str) -> bool:
        """Registered and not suspended, as indexed."""
        active = self._merchants.get(merchant)
        if active is None:
            epoch = self.epoch
            row = await store.run(lambda s: s.get(IdxMerchant, merchant))
            active = bool(row is not None and row.active)
            if epoch == self.epoch:
                self._merchants[merchant] = active
        return active
