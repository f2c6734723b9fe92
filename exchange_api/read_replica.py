"""The read process: the wallet's reads of the indexer's tables (balances, history, caps, balance proof, schemes,
rates, supply, periods) and the public catalogue of offers, hosted in a process of their own so a burst of
redemptions in the API process cannot delay them (`citypoints serve` starts it behind the front, service.py; the
routes: app.READ_ROUTERS).

Why a process: a redemption costs the API process ~4 ms of CPU on its one event loop (signature, admission,
store write), so at 200 a second a balance read queued behind them (its p99 3-8 times the quiet figure); a second
event loop in the same process would still share the GIL. The read handlers are the API's own (the routers'
`reads`, their services `Residents` and `Public`), built here with what they read from and nothing that writes:
no relayer, no indexer, no webhooks, and no store writes (public reads take an optional API key, which is looked
up, never touched).

Fed by the indexer: the API process's indexer writes the tables; `IndexFollower` polls its cursor
(`read_replica_poll_s`) and, when it moved, brings the in-memory view up to it: the balance rows written since its
last look (each row names the block that wrote it) replace the view's, or, when a commit since changed what every
balance reads (a rate, a scheme's status, a merchant, a recovery: the cursor's `view_reset_block`) or the tables
were rebuilt, the view starts over (`IndexedView.indexed(None)`). Every answer is as of the cursor it names
(`asOfBlock`) or newer, and a balance is never older than the `asOfBlock` beside it. Before, the view started over
at every commit, so during a burst of redemptions (a commit a second) nearly every balance read missed it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from exchange_api.chain import ChainClient
from exchange_api.indexed_view import IndexedView
from exchange_api.request_limits import TokenBuckets
from exchange_api.runtime import MAX_BUCKETS, watch_loop_lag
from exchange_api.services.common import Principal
from exchange_api.services.offers import Offers
from exchange_api.services.public import Public
from exchange_api.services.residents import Residents
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import IdxBalance, IdxCursor

log = logging.getLogger("citypoints.reads")
# a catalogue page is answered again for this long: at 200 reads a second most are the same few first pages (each
# read of the store cost this process ~3 ms of CPU on the 2-core machine; BENCHMARKS.md "api"); an offer changed
# or sold out shows at most this much later, and reserving one is checked against the store whatever the page said
CATALOGUE_CACHE_S = 1.0
# balance rows changed since the view's last look read into it at most; more (the follower was away, the indexer
# caught up a long range) and the view starts over
MAX_CHANGED_ROWS = 20_000


CURSOR = select(IdxCursor.chain_id, IdxCursor.start_block, IdxCursor.rebuilds, IdxCursor.block_number,
                IdxCursor.block_hash, IdxCursor.head, IdxCursor.view_reset_block).where(IdxCursor.id == 1)
CHANGED = select(IdxBalance.account, IdxBalance.scheme, IdxBalance.balance, IdxBalance.change).where(
    IdxBalance.block_number > bindparam("after")).limit(MAX_CHANGED_ROWS + 1)


@dataclass
class ReadServices:
    """The services the read process hosts (deps.py picks them by these names, as in the API process)."""
    residents: Residents
    public: Public
    offers: Offers


class IndexFollower:
    """The indexer's progress as its cursor in the store says, for a process that does not index: `block` (what
    the tables hold, as of the last poll), `head` (the node's head when the indexer wrote it) and `lag`."""

    def __init__(self, store: Store, view: IndexedView, *, poll_s: float):
        self.store = store
        self.view = view
        self.poll_s = poll_s
        self.block = -1
        self.head = 0
        self.followed_at: float | None = None  # time.monotonic() of the last cursor read
        self._seen: tuple | None = None

    @property
    def lag(self) -> int:
        return max(self.head - self.block, 0) if self.block >= 0 else self.head

    async def follow_once(self) -> None:
        before = self._seen

        def load(s):
            conn = s.connection()  # Core statements built once: this runs 20 times a second, beside the reads
            c = conn.execute(CURSOR).first()
            if c is None:
                return None, None
            seen = (c.chain_id, c.start_block, c.rebuilds, c.block_number, c.block_hash, c.head)
            if before is None or seen[:3] != before[:3] or c.block_number < before[3] \
                    or c.view_reset_block > before[3]:
                return seen, None  # another chain, a rebuild, or a change every balance reads: start over
            rows = conn.execute(CHANGED, {"after": before[3]}).all()
            if len(rows) > MAX_CHANGED_ROWS:
                return seen, None
            return seen, ({(a, sc): b for a, sc, b, _ in rows}, {(a, sc): ch for a, sc, _, ch in rows})
        seen, changed = await self.store.run(load)
        if seen != self._seen:  # the indexer committed (or started over): what the view holds may be older
            self.view.indexed(changed)
            self._seen = seen
            self.block, self.head = (-1, 0) if seen is None else (seen[3], seen[5])
        self.followed_at = time.monotonic()

    async def run(self) -> None:
        while True:
            try:
                await self.follow_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: readiness says so; the next round tries again
                log.warning("reads: the indexer's cursor could not be read: %s", type(exc).__name__)
            await asyncio.sleep(self.poll_s)


class ReadRuntime:
    """What the read process holds: settings, a store it only reads, a chain client (caps are read from the chain),
    the indexed view and its follower, the read services, and the per-process caches and limits the routers'
    dependencies use (API keys looked up, rate-limit buckets)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.database_url)
        deployment = settings.deployment()
        self.chain = ChainClient(settings.rpc_url or deployment["rpcUrl"], deployment)
        self.view = IndexedView()
        self.follower = IndexFollower(self.store, self.view, poll_s=settings.read_replica_poll_s)
        self.auth_cache: dict[str, tuple[Principal | None, float]] = {}
        self.buckets = TokenBuckets(MAX_BUCKETS)
        self.tasks: list[asyncio.Task] = []
        self.services = ReadServices(
            residents=Residents(self.store, self.chain, view=self.view, indexer=self.follower, settings=settings,
                                pii_key=settings.pii_key_bytes()),
            public=Public(self.store, self.chain, self.follower),
            offers=Offers(self.store, settings, catalogue_cache_s=CATALOGUE_CACHE_S))

    async def start(self) -> None:
        """The API process migrates the store before the read process starts (service.py); this one never writes."""
        await self.follower.follow_once()
        self.tasks.append(asyncio.create_task(self.follower.run(), name="index-follower"))
        self.tasks.append(asyncio.create_task(watch_loop_lag(), name="loop-lag"))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self.tasks.clear()
        await self.chain.aclose()
        self.store.dispose()

    def allow(self, bucket_key: str, rate: float | None = None, burst: int | None = None) -> float | None:
        """As Runtime.allow, with this process's own buckets."""
        return self.buckets.take(bucket_key, rate if rate is not None else self.settings.rate_limit_per_s,
                                 burst if burst is not None else self.settings.rate_limit_burst)
