"""Group-committed writes (each caller's failure is its own) and the relayer's batches (a consent refused by
the database leaves its nonce to a filler, so the relayer's later transactions still go through)."""
from __future__ import annotations

import asyncio
import os

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from exchange_api.errors import Conflict, NotFound
from exchange_api.services import redemptions
from exchange_api.services.results import Done
from exchange_api.store.db import Store
from exchange_api.store.models import IdempotencyRecord, Merchant, Redemption, RelayedTransaction

from .test_indexer_relayer import _server_loop

RECORDS = IdempotencyRecord.__table__


def _add(scope, key):
    return lambda s: s.execute(insert(RECORDS).values(scope=scope, key=key, request_hash="h"))


def _raise(exc):
    def fn(s):
        s.execute(insert(RECORDS).values(scope="t-group", key="written-then-raised", request_hash="h"))
        raise exc
    return fn


def test_storeWrite_groupedCallers_eachGetTheirOwnOutcomeAndOnlySuccessesAreWritten(database_url, live):
    store = Store(database_url)

    async def go():
        await store.write(_add("t-group", "taken"))
        return await asyncio.gather(
            store.write(_add("t-group", "a")),
            store.write(_add("t-group", "taken")),  # a unique key taken: IntegrityError for this caller only
            store.write(_raise(NotFound("nope", code="x"))),  # the caller's own exception, its writes undone
            store.write(_add("t-group", "taken"), isolated=False),  # no savepoint: the group reruns isolated
            store.write(_add("t-group", "b"), isolated=False),
            return_exceptions=True)
    try:
        outcomes = asyncio.run(go())
        keys = store.call(lambda s: sorted(s.scalars(select(RECORDS.c.key).where(RECORDS.c.scope == "t-group"))))
    finally:
        store.call(lambda s: s.execute(RECORDS.delete().where(RECORDS.c.scope == "t-group")))
        store.dispose()
    assert outcomes[0] is not None and not isinstance(outcomes[0], Exception)
    assert isinstance(outcomes[1], IntegrityError) and isinstance(outcomes[3], IntegrityError)
    assert isinstance(outcomes[2], NotFound)
    assert not isinstance(outcomes[4], Exception)
    assert keys == ["a", "b", "taken"]  # each written once, nothing of the failed callers
    assert store.groups <= 4  # five writes went out in few commits


def test_relayerBatch_sameConsentTwice_oneRedeemsTheOtherConflictsAndItsNonceIsFilled(api, w3, api_city, keys, live):
    """The service refuses the second copy of a consent before relaying it (its credits are held); should two
    copies reach the relayer anyway (the store refuses the second record), the second one's nonce is filled."""
    from exchange_api.chain import REDEEM, unhex
    rt = live.rt
    consent = api_city.consent(w3, api_city.residents[3], 21, order_ref=os.urandom(32))
    twin = api_city.consent(w3, api_city.residents[3], 22, order_ref=os.urandom(32))
    merchant_id = rt.store.call(lambda s: s.scalar(select(Merchant.id).where(
        Merchant.address == api_city.merchant.address)))
    rid = redemptions.redemption_id(twin["resident"], unhex(twin["nonce"]))
    filled_before = set(rt.store.call(lambda s: list(s.scalars(select(RelayedTransaction.tx_hash).where(
        RelayedTransaction.kind == "filler")))))  # earlier tests' fillers, on chains since rewound

    def relay(persist_with):  # what submit() hands the relayer, without the service's checks before it
        data = REDEEM.encode(*api_city.redeem_args(twin))
        return rt.relayer.submit(kind="redemption", subject_id=rid, to=rt.chain.addresses["Redemption"], data=data,
                                 gas=rt.settings.redeem_gas, persist_with=persist_with)

    def record(s, h):
        s.execute(insert(Redemption.__table__), dict(
            id=rid, merchant_id=merchant_id, merchant=twin["merchant"], resident=twin["resident"],
            credits=twin["credits"], order_ref=twin["orderRef"], nonce=twin["nonce"], deadline=twin["deadline"],
            signature=twin["signature"], status="pending", tx_hash=h))

    async def twice_then_more():
        service = rt.services.redemptions
        both = await asyncio.gather(service.submit(merchant_id, consent, wait=False),
                                    service.submit(merchant_id, consent, wait=False),
                                    return_exceptions=True)
        relayed = await asyncio.gather(relay(record), relay(record), return_exceptions=True)
        # every relayer account takes another transaction: none is stuck behind a nonce gap
        later = await asyncio.gather(*(service.submit(merchant_id, api_city.consent(
            w3, api_city.residents[3], 1, order_ref=os.urandom(32)), wait=True) for _ in rt.relayer.accounts))
        return both, relayed, later
    both, relayed, later = asyncio.run_coroutine_threadsafe(twice_then_more(), _server_loop(live)).result(90)
    assert sorted(type(x).__name__ for x in both) == ["Conflict", "Pending"]  # 409 and 202
    conflict = next(x for x in both if isinstance(x, Conflict))
    assert conflict.code == "consent_already_used"
    assert sorted(type(x).__name__ for x in relayed) == ["IntegrityError", "str"]
    assert [isinstance(r, Done) for r in later] == [True] * len(rt.relayer.accounts)  # 201 each
    fillers = rt.store.call(lambda s: list(s.scalars(select(RelayedTransaction).where(
        RelayedTransaction.kind == "filler", RelayedTransaction.tx_hash.not_in(filled_before)))))
    assert fillers and all(f.status == "mined" for f in fillers)
    for c in (consent, twin):
        rid = redemptions.redemption_id(c["resident"], unhex(c["nonce"]))
        assert rt.store.call(lambda s: s.scalar(select(func.count()).select_from(Redemption).where(
            Redemption.id == rid))) == 1
        redeemed = api_city.contracts["Redemption"].events.Redeemed().get_logs(from_block=0)
        assert sum(1 for e in redeemed if "0x" + e["args"]["redemptionId"].hex() == rid) == 1


def test_storeWrite_requestsWaitForTheDisk_backgroundWritesDoNot_evenOnTheSameConnection(empty_database_url):
    """A request's write is on disk before its caller hears of it; a background write (the indexer's, a mined
    transaction's settlement: both written again from the chain if lost) is committed without waiting for the
    disk. The writer's connections are pooled: a request's write after a background one still waits."""
    from sqlalchemy import text

    store = Store(empty_database_url)
    sqlite = store.url.startswith("sqlite")
    ask = text("PRAGMA synchronous") if sqlite else text("SHOW synchronous_commit")
    waits, skips = (2, 1) if sqlite else ("on", "off")  # SQLite FULL / NORMAL; PostgreSQL's setting
    try:
        async def go():
            seen = []
            for background in (False, True, False, True, False):
                seen.append(await store.write(lambda s: s.execute(ask).scalar(), background=background))
            return seen
        assert asyncio.run(go()) == [waits, skips, waits, skips, waits]
    finally:
        store.dispose()
