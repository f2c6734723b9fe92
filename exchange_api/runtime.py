"""Everything a running service holds: settings, store, chain client, relayer, indexer, webhook dispatcher,
and what it keeps in memory (API keys, the indexed view, credit holds, rate-limit buckets)."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from exchange_api import metrics
from exchange_api.chain import ChainClient, event_table
from exchange_api.credit_holds import CreditHolds
from exchange_api.indexed_view import IndexedView
from exchange_api.indexer import Indexer
from exchange_api.relayer import Relayer
from exchange_api.relayer_lease import RelayerLease
from exchange_api.settings import Settings
from exchange_api.store.db import Store

log = logging.getLogger("citypoints.api")

LEASE_CHECK_S = 3.0  # how often the relayer's PostgreSQL lease is seen to be alive


@dataclass
class Principal:
    key_id: str
    role: str
    merchant_id: int | None = None
    merchant: str | None = None  # the merchant's address
    merchant_name: str | None = None


MAX_BUCKETS = 100_000  # rate-limit buckets kept (per API key, or per address for calls without one)


@dataclass
class Bucket:
    tokens: float
    at: float


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.database_url)
        deployment = settings.deployment()
        self.chain = ChainClient(settings.rpc_url or deployment["rpcUrl"], deployment)
        self.relayer = Relayer(self.chain, self.store, settings.relayer_private_keys(),
                               onboarding_key=settings.onboarding_private_key())
        self.lease = RelayerLease(self.store)
        self.relayer.lease = self.lease
        self.indexer = Indexer(self.chain, self.store, range_size=settings.indexer_range,
                               poll_s=settings.indexer_poll_s)
        self.events = event_table(self.chain.addresses)
        from exchange_api.webhooks import Dispatcher
        self.webhooks = Dispatcher(self)
        self.auth_cache: dict[str, tuple[Principal | None, float]] = {}
        self.view = IndexedView()
        self.holds = CreditHolds()
        self.indexer.on_commit = self._indexed
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()  # least recently used first; at most MAX_BUCKETS
        self.tasks: list[asyncio.Task] = []
        self.pii_key = settings.pii_key_bytes()
        self.identity_key = settings.identity_key_bytes()
        self.started = time.time()

    async def start(self, *, background: bool = True) -> None:
        await asyncio.to_thread(self.store.migrate)
        await asyncio.to_thread(self.lease.acquire)  # LeaseHeld: another process relays for this store
        from exchange_api.services.confirmations import on_mined, outcome_filter
        self.relayer.on_mined = lambda mark, receipts: on_mined(self, mark, receipts)
        self.relayer.outcome_logs = outcome_filter(self)
        from exchange_api.services.redemptions import held_after_restart
        self.holds.load(await self.store.run(held_after_restart))
        try:
            counts = await self.relayer.reconcile()
            if any(counts.values()):
                log.info("relayer reconciled after restart: %s", counts)
        except Exception as exc:  # the node or database may still be coming up; the tracker sweeps later
            log.warning("relayer reconcile deferred: %s", type(exc).__name__)
        if background:
            self.tasks.append(asyncio.create_task(self.relayer.run_tracker(), name="relayer-tracker"))
            if self.settings.indexer_enabled:
                self.tasks.append(asyncio.create_task(self.indexer.run(), name="indexer"))
            self.tasks.append(asyncio.create_task(self.webhooks.run(), name="webhooks"))
            self.tasks.append(asyncio.create_task(self._keep_lease(), name="relayer-lease"))
            self.tasks.append(asyncio.create_task(_watch_loop_lag(), name="loop-lag"))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self.tasks.clear()
        await self.relayer.stop()
        self.lease.release()
        await self.webhooks.aclose()
        await self.chain.aclose()
        self.store.dispose()

    async def _keep_lease(self, every_s: float = LEASE_CHECK_S) -> None:
        """PostgreSQL's lock lives with its session: see that it still does (relayer_lease.py)."""
        while True:
            await asyncio.sleep(every_s)
            await asyncio.to_thread(self.lease.check)

    def _indexed(self, balances: dict | None, redeemed: list[str] = ()) -> None:
        self.view.indexed(balances)
        self.holds.indexed(redeemed)

    def allow(self, bucket_key: str) -> float | None:
        """Token bucket per key: None when allowed, else seconds until the next token."""
        rate, burst = self.settings.rate_limit_per_s, self.settings.rate_limit_burst
        now = time.monotonic()
        b = self.buckets.get(bucket_key)
        if b is None:
            b = self.buckets[bucket_key] = Bucket(float(burst), now)
            if len(self.buckets) > MAX_BUCKETS:  # a flood of addresses costs bounded memory: forget the stalest
                self.buckets.popitem(last=False)  # (idle longest, so nearest to full: little is given away)
        else:
            self.buckets.move_to_end(bucket_key)
        b.tokens = min(float(burst), b.tokens + (now - b.at) * rate)
        b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return None
        return (1.0 - b.tokens) / rate


async def _watch_loop_lag(every_s: float = 0.05) -> None:
    """How late the event loop wakes a task that is due (metrics LOOP_LAG): anything blocking the loop (file or
    database work, heavy decoding) shows here as the wait it imposed on every request."""
    loop, worst = asyncio.get_running_loop(), 0.0
    while True:
        due = loop.time() + every_s
        await asyncio.sleep(every_s)
        lag = max(0.0, loop.time() - due)
        metrics.LOOP_LAG.observe(lag)
        if lag > worst:
            worst = lag
            metrics.LOOP_LAG_MAX.set(lag)
