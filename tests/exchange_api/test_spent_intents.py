"""The relayer's memory of spent intents (exchange_api/spent_intents.py): it may say "maybe" of a fresh intent, never
"no" of a spent one, and a load from the store misses nothing the indexer commits meanwhile, on SQLite and
PostgreSQL."""
from __future__ import annotations

import asyncio
import os

from sqlalchemy import insert

from exchange_api.spent_intents import SpentIntents, preferred_order_intent
from exchange_api.store.db import Store
from exchange_api.store.models import IdxPreferredOrder, IdxRedemption
from ledger_node.domain import redemption_id


def _ids(n: int) -> list[str]:
    return ["0x" + os.urandom(32).hex() for _ in range(n)]


def test_spentIntents_neverSaysNoOfAnAddedId_andRarelyMaybeOfAFreshOne_atItsCapacity():
    spent = SpentIntents(capacity=4096)
    spent.ready = True
    added = _ids(4096)
    spent.add(added)
    assert all(spent.possible(i) for i in added)
    fresh = _ids(20_000)
    maybes = sum(spent.possible(i) for i in fresh)
    assert maybes < 40, f"{maybes} of 20,000 fresh intents were a maybe (about 1 in 2,000 expected at capacity)"


def test_spentIntents_beforeItsFirstLoad_sendsEveryIntentToTheStore():
    spent = SpentIntents(capacity=4096)
    assert all(spent.possible(i) for i in _ids(100))


def test_spentIntents_clear_forgetsWhatTheWipedTablesHeld():
    spent = SpentIntents(capacity=4096)
    spent.ready = True
    ids = _ids(50)
    spent.add(ids)
    spent.clear()
    assert sum(spent.possible(i) for i in ids) == 0 and spent.count == 0


def test_spentIntents_loadsRedemptionsAndPreferredOrders_keepsWhatIsCommittedDuringTheLoad_andGrows(
        empty_database_url):
    store = Store(empty_database_url)
    try:
        store.migrate()
        residents = ["0x" + os.urandom(20).hex() for _ in range(3)]
        redeemed = [redemption_id(r, os.urandom(32)) for r in residents]
        preferred = [(r, "0x" + os.urandom(32).hex()) for r in residents]

        def redemptions(ids):
            return lambda s: s.execute(insert(IdxRedemption), [dict(
                redemption_id=rid, resident=residents[0], merchant=residents[1], order_ref="0x" + "00" * 32,
                nonce="0x" + "00" * 32, credits=1, refunded=0, parts="[]", block_number=1, tx_hash="0x" + "00" * 32)
                for rid in ids])
        store.call(redemptions(redeemed))
        store.call(lambda s: s.execute(insert(IdxPreferredOrder), [dict(
            nonce=nonce, resident=r, schemes="[1]", block_number=1, log_index=i)
            for i, (r, nonce) in enumerate(preferred)]))

        def commit(spent, ids):  # as the indexer does: the rows committed, then the ids handed over
            store.call(redemptions(ids))
            spent.add(ids)

        async def scenario():
            spent = SpentIntents(capacity=64)
            loading = spent.start_reload(store)
            during = _ids(3)  # an indexer commit while the load reads the store
            commit(spent, during)
            assert not spent.ready and all(spent.possible(i) for i in _ids(10))  # the store decides meanwhile
            await loading
            assert spent.ready
            known = [*redeemed, *(preferred_order_intent(r, n) for r, n in preferred), *during]
            assert all(spent.possible(i) for i in known)
            # a consent signed with a preferred order's nonce has the order's intent id
            assert preferred_order_intent(*preferred[0]) == redemption_id(preferred[0][0],
                                                                           bytes.fromhex(preferred[0][1][2:]))
            assert spent.capacity == 64
            more = _ids(100)  # past its capacity: loaded again from the store, twice the size, keeping these
            commit(spent, more)
            assert spent.capacity == 64 and all(spent.possible(i) for i in more)  # the old one answers meanwhile
            await spent._reload
            assert spent.capacity == 2 * 109 and all(spent.possible(i) for i in [*known, *more])
            return spent
        asyncio.run(scenario())
    finally:
        store.dispose()


def test_spentIntents_aLoadTheStoreCannotAnswer_isTriedAgainUntilDone(empty_database_url, monkeypatch):
    """The store cannot answer at start (here the redemptions' table is away): the memory is not ready (every intent
    goes to the store, as before it existed), and it loads once the store answers, with what the indexer committed
    meanwhile."""
    from sqlalchemy import text

    from exchange_api import id_filter

    monkeypatch.setattr(id_filter, "LOAD_RETRY_S", 0.05)
    store = Store(empty_database_url)
    resident = "0x" + os.urandom(20).hex()
    redeemed, during = [redemption_id(resident, os.urandom(32)) for _ in range(2)], _ids(2)
    try:
        store.migrate()
        store.call(lambda s: s.execute(insert(IdxRedemption), [dict(
            redemption_id=rid, resident=resident, merchant=resident, order_ref="0x" + "00" * 32,
            nonce="0x" + "00" * 32, credits=1, refunded=0, parts="[]", block_number=1, tx_hash="0x" + "00" * 32)
            for rid in redeemed]))
        store.call(lambda s: s.execute(text("ALTER TABLE idx_redemptions RENAME TO idx_redemptions_away")))

        async def scenario():
            spent = SpentIntents(capacity=64)
            loading = spent.start_reload(store)
            await asyncio.sleep(0.2)
            assert not spent.ready and not loading.done()  # failed, and trying again
            assert all(spent.possible(i) for i in _ids(10))  # meanwhile the store decides
            spent.add(during)  # an indexer commit meanwhile
            await asyncio.to_thread(store.call, lambda s: s.execute(text(
                "ALTER TABLE idx_redemptions_away RENAME TO idx_redemptions")))
            await asyncio.wait_for(loading, 10)
            assert spent.ready and all(spent.possible(i) for i in [*redeemed, *during])
        asyncio.run(scenario())
    finally:
        store.dispose()
