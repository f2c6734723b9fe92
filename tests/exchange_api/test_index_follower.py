"""The read process's view follows the indexer commit by commit (read_replica.IndexFollower): the balance rows a
commit wrote replace the view's entries and every other account stays in memory; a commit that changed what every
balance reads (a rate, a status, a merchant, a recovery) or a rebuild of the tables starts the view over. On SQLite
and PostgreSQL."""
from __future__ import annotations

import asyncio

from sqlalchemy import update

from exchange_api.indexed_view import IndexedView
from exchange_api.read_replica import IndexFollower
from exchange_api.store.db import Store
from exchange_api.store.models import IdxBalance, IdxCursor

A, B = "0x" + "aa" * 20, "0x" + "bb" * 20


def test_follower_updatesTheAccountsACommitChanged_andStartsOverOnlyWhenEveryBalanceMayReadDifferently(
        empty_database_url):
    store = Store(empty_database_url)
    try:
        store.migrate()
        store.call(lambda s: s.add_all([
            IdxCursor(id=1, chain_id=7, start_block=0, block_number=10, block_hash="0x10", head=10),
            IdxBalance(account=A, scheme=1, balance=100, change=0, block_number=5),
            IdxBalance(account=B, scheme=1, balance=200, change=0, block_number=5)]))

        def commit(block: int, account: str, balance: int, change: int = 0, **cursor):
            """As an indexer commit: the rows it wrote name its block, then the cursor moves."""
            def write(s):
                s.execute(update(IdxBalance).where(IdxBalance.account == account).values(
                    balance=balance, change=change, block_number=block))
                s.execute(update(IdxCursor).values(block_number=block, block_hash=hex(block), head=block, **cursor))
            store.call(write)

        async def scenario():
            view = IndexedView()
            follower = IndexFollower(store, view, poll_s=0.05)
            await follower.follow_once()
            points = lambda account: view.holdings(store, account)  # noqa: E731
            assert (await points(A))[0] == {1: 100} and (await points(B))[0] == {1: 200}

            commit(11, A, 90, change=3)  # a redemption of A's
            await follower.follow_once()
            assert follower.block == 11
            assert B in view._points, "an account the commit did not touch was dropped from memory"
            assert view._points[A] == {1: 90} and view._change[A] == {1: 3}  # updated in place, no store read
            assert (await points(A))[0] == {1: 90}

            commit(12, B, 150, view_reset_block=12)  # the same commit changed a rate: everything reads anew
            await follower.follow_once()
            assert view._points == {} and (await points(B))[0] == {1: 150}

            await points(A)
            store.call(lambda s: s.execute(update(IdxCursor).values(rebuilds=1, block_number=3, view_reset_block=0)))
            commit(13, A, 80)  # the tables were rebuilt (and indexed past the view's block again)
            await follower.follow_once()
            assert view._points == {}
            assert (await points(A))[0] == {1: 80}
        asyncio.run(scenario())
    finally:
        store.dispose()
