"""Everything a running service holds: settings, store, chain client, relayer, indexer, webhook dispatcher,
and what it keeps in memory (API keys, the indexed view, credit holds, rate-limit buckets). The composition root:
each service is built here once with the dependencies it uses (`Services`), and the relayer's callbacks are wired
to them; routers take their service through deps.py, and no service reaches into this object."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, fields

from exchange_api import metrics
from exchange_api.chain import ChainClient, event_table
from exchange_api.credit_holds import CreditHolds
from exchange_api.idempotency import Idempotency
from exchange_api.indexed_view import IndexedView
from exchange_api.indexer import Indexer
from exchange_api.relayer import Relayer
from exchange_api.relayer_lease import RelayerLease
from exchange_api.request_limits import TokenBuckets
from exchange_api.services.common import Principal
from exchange_api.services.confirmations import Confirmations
from exchange_api.services.eligibility import Eligibility
from exchange_api.services.identity_trail import IdentityTrail
from exchange_api.services.merchant_applications import MerchantApplications
from exchange_api.services.merchant_keys import MerchantKeys
from exchange_api.services.resident_lookup import ResidentLookup
from exchange_api.services.exchanges import Exchanges
from exchange_api.services.offers import Offers
from exchange_api.services.onboarding import Onboarding
from exchange_api.services.pos_sessions import PosSessions
from exchange_api.services.governance import Governance
from exchange_api.services.public import Public
from exchange_api.services.recoveries import Recoveries
from exchange_api.services.redemptions import Redemptions, held_after_restart
from exchange_api.services.refunds import Refunds
from exchange_api.services.vouchers import Vouchers
from exchange_api.services.residents import Residents
from exchange_api.services.webhooks import WebhookEndpoints
from exchange_api.settings import Settings
from exchange_api.spent_intents import SpentIntents
from exchange_api.store.db import Store
from exchange_api.webhooks import Dispatcher

log = logging.getLogger("citypoints.api")

LEASE_CHECK_S = 3.0  # how often the relayer's PostgreSQL lease is seen to be alive
VOUCHER_SWEEP_S = 30.0  # how often unpaid voucher reservations past their deadline are released


MAX_BUCKETS = 100_000  # rate-limit buckets kept (per API key, or per address for calls without one)


@dataclass
class Services:
    """The services, each built once with the dependencies it uses (their fields say which)."""
    residents: Residents
    redemptions: Redemptions
    refunds: Refunds
    exchanges: Exchanges
    onboarding: Onboarding
    public: Public
    webhook_endpoints: WebhookEndpoints
    confirmations: Confirmations  # the relayer's on_mined and outcome_logs
    governance: Governance
    eligibility: Eligibility
    offers: Offers
    recoveries: Recoveries
    pos_sessions: PosSessions  # the /pos page's sign-in
    identity_trail: IdentityTrail
    resident_lookup: ResidentLookup
    vouchers: Vouchers  # offers redeemed for vouchers the till checks off
    merchant_keys: MerchantKeys  # a merchant's managers' keys API: staff keys, rotation, revocation
    merchant_applications: MerchantApplications  # shops applying to accept points, and their first key


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.pii_key = settings.pii_key_bytes()
        self.identity_key = settings.identity_key_bytes()
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
        self.webhooks = Dispatcher(self.store, settings, self.pii_key)
        self.idempotency = Idempotency(self.store, self.pii_key)
        self.auth_cache: dict[str, tuple[Principal | None, float]] = {}
        self.key_used: dict[str, float] = {}  # key id -> when its last use was written (deps.touch)
        self.view = IndexedView()
        self.holds = CreditHolds()
        self.spent = SpentIntents()
        self.indexer.on_commit = self._indexed
        self.indexer.on_reset = self.spent.clear
        self.relayer.on_new_head = self.indexer.wake
        self.buckets = TokenBuckets(MAX_BUCKETS)
        self.tasks: list[asyncio.Task] = []
        self._settling: asyncio.Task | None = None  # settle_used, one at a time
        self._settle_again = False
        self.started = time.time()
        self.services = self._build_services()
        self.relayer.on_mined = self.services.confirmations.on_mined
        self.services.confirmations.on_deferred = self._settle_awaiting
        self.relayer.outcome_logs = self.services.confirmations.outcome_filter()

    def _build_services(self) -> Services:
        store, chain, relayer, settings = self.store, self.chain, self.relayer, self.settings
        residents = Residents(store, chain, view=self.view, indexer=self.indexer, settings=settings,
                              pii_key=self.pii_key)
        trail = IdentityTrail(store, chain, relayer, settings)
        onboarding = Onboarding(store, chain, relayer, settings, identity_key=self.identity_key, pii_key=self.pii_key,
                                trail=trail)
        redemptions = Redemptions(store, chain, relayer, indexer=self.indexer, view=self.view, holds=self.holds,
                                  residents=residents, spent=self.spent, kept_keys=self.idempotency.kept,
                                  settings=settings)
        refunds = Refunds(store, chain, relayer, settings)
        return Services(
            residents=residents,
            redemptions=redemptions,
            refunds=refunds,
            exchanges=Exchanges(store, chain, relayer, settings),
            onboarding=onboarding,
            public=Public(store, chain, self.indexer),
            webhook_endpoints=WebhookEndpoints(store, settings, pii_key=self.pii_key, dispatcher=self.webhooks),
            confirmations=Confirmations(store, self.events, self.holds, self.webhooks, settings),
            governance=Governance(store, chain, relayer, self.indexer, settings),
            eligibility=Eligibility(chain, relayer, settings),
            offers=Offers(store, settings),
            recoveries=Recoveries(store, chain, relayer, self.indexer, onboarding, settings),
            pos_sessions=PosSessions(store, settings),
            identity_trail=trail,
            resident_lookup=ResidentLookup(chain, trail, self.identity_key),
            vouchers=Vouchers(store, redemptions, refunds, settings),

            merchant_keys=MerchantKeys(store, self.auth_cache),
            merchant_applications=MerchantApplications(store, settings, pii_key=self.pii_key))

    def replace_settings(self, settings: Settings) -> None:
        """Settings swapped while running (tests do, for one test's development settings): this runtime, the
        webhook dispatcher and every service read the new ones. What was read once at start stays (database, node,
        keys, relayer accounts)."""
        self.settings = settings
        self.webhooks.settings = settings
        for f in fields(self.services):
            service = getattr(self.services, f.name)
            if hasattr(service, "settings"):
                service.settings = settings

    async def start(self, *, background: bool = True) -> None:
        await asyncio.to_thread(self.store.migrate)
        await asyncio.to_thread(self.lease.acquire)  # LeaseHeld: another process relays for this store
        self.holds.load(await self.store.run(held_after_restart))
        self.idempotency.start()
        if self.settings.indexer_enabled:  # before the indexer's first commit: its ids are kept aside meanwhile
            self.spent.start_reload(self.store)
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
            self.tasks.append(asyncio.create_task(watch_loop_lag(), name="loop-lag"))
            self.tasks.append(asyncio.create_task(self._release_vouchers(), name="voucher-reservations"))

    async def stop(self) -> None:
        if self._settling is not None:
            self.tasks.append(self._settling)
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

    async def _release_vouchers(self, every_s: float = VOUCHER_SWEEP_S) -> None:
        """Reservations of vouchers left unpaid past their deadline give their units back (services/vouchers.py), so
        the catalogue shows the offer again without waiting for the next resident to ask for it."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.services.vouchers.release_expired()
            except Exception as exc:  # the database may be away: the next round, or the next reservation, does it
                log.warning("voucher reservations not released: %s", type(exc).__name__)

    def _indexed(self, balances: dict | None, redeemed: list[str] = (), spent: list[str] = ()) -> None:
        self.view.indexed(balances)
        self.holds.indexed(redeemed)
        self.spent.add(spent)
        if self.services.confirmations.awaiting:
            self._settle_awaiting()

    def _settle_awaiting(self) -> None:
        """Records whose nonce the chain found used are settled from the index once it has their block
        (services/confirmations.py): after each indexer commit while some await it, and as soon as one is left to
        await it (the index may have its block already). One run at a time; a call during a run makes it go again."""
        self._settle_again = True
        if self._settling is None or self._settling.done():
            self._settling = asyncio.create_task(self._settle_used(), name="settle-used")

    async def _settle_used(self) -> None:
        while self._settle_again:
            self._settle_again = False
            try:
                await self.services.confirmations.settle_used(self.indexer.block)
            except Exception as exc:  # noqa: BLE001 - the database may be away: the next commit tries again
                self.services.confirmations.awaiting = True
                log.warning("records awaiting the index not settled: %s", type(exc).__name__)
                return

    def allow(self, bucket_key: str, rate: float | None = None, burst: int | None = None) -> float | None:
        """Token bucket per key: None when allowed, else seconds until the next token. `rate` (a second) and
        `burst` default to the API's limits; a stricter endpoint gives its own (and its own keys)."""
        return self.buckets.take(bucket_key, rate if rate is not None else self.settings.rate_limit_per_s,
                                 burst if burst is not None else self.settings.rate_limit_burst)


async def watch_loop_lag(every_s: float = 0.05) -> None:
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
