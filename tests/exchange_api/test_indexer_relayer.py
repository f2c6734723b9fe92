"""The indexer's resume, idempotent re-processing and rebuild; the relayer's crash recovery."""
from __future__ import annotations

import asyncio
import dataclasses
import time

from sqlalchemy import func, select
from web3 import Web3

from exchange_api.chain import ChainClient, unhex
from exchange_api.errors import NodeUnavailable
from exchange_api.indexer import ChainMoved, Indexer
from exchange_api.relayer import Relayer
from exchange_api.services import redemptions
from exchange_api.services.results import Pending
from exchange_api.store.db import Store
from exchange_api.store.models import IdxActivity, IdxBalance, IdxCursor, IdxEvent, IdxMerchantPosition, IdxNet, IdxRedemption, \
    Redemption, RelayedTransaction
from ledger_node import chain as ledger_node_chain

from .conftest import S1, auth, until_relayer_idle, wait_indexed


def _nets(store) -> dict[str, int]:
    return store.call(lambda s: {n.party: n.net for n in s.scalars(select(IdxNet))})


def _count(store, model):
    return store.call(lambda s: s.scalar(select(func.count()).select_from(model)))


def test_indexer_resumesReprocessesIdempotentlyAndRebuildsOnReorg(api, w3, api_city, keys, live):
    rt = live.rt
    api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[0], 10), headers=auth(keys["merchant"]))
    wait_indexed(api, w3)
    events, balances = _count(rt.store, IdxEvent), rt.store.call(lambda s: {
        (b.account, b.scheme): b.balance for b in s.scalars(select(IdxBalance))})
    nets = _nets(rt.store)
    # Clearing stores no nets: the indexer sums them, here the merchant's open positions (nothing settled yet)
    merchant = api_city.merchant.address
    owed = rt.store.call(lambda s: sum(p.amount for p in s.scalars(select(IdxMerchantPosition))
                                       if p.merchant == merchant))
    assert owed > 0 and nets[f"merchant:{merchant}"] == -owed
    chain = ChainClient(rt.chain.rpc_url, rt.chain.deployment)
    ix = Indexer(chain, rt.store)

    async def go():
        try:
            cursor = rt.store.call(lambda s: s.get(IdxCursor, 1))
            # resume: nothing new to do from the persisted cursor
            assert await ix.sync_once() == 0 and ix.block == cursor.block_number
            # re-process the last range (as after a crash between writing and moving the cursor): same rows
            def back(s):
                s.get(IdxCursor, 1).block_number = cursor.block_number - 3
                s.get(IdxCursor, 1).block_hash = w3.eth.get_block(cursor.block_number - 3)["hash"].to_0x_hex()
            rt.store.call(back)
            await ix.sync_once()
            assert _count(rt.store, IdxEvent) == events
            assert _nets(rt.store) == nets  # the moves of a range indexed again are not added twice
            # a reorganised chain (hash mismatch at the cursor) is rebuilt from the start block; the live server's
            # own indexer runs on this loop too: it may see the mismatch first, or, still re-processing the rewound
            # range, write its cursor over the mismatch (then the mismatch is made again)
            before = ix.rebuilds + rt.indexer.rebuilds
            for _ in range(20):
                rt.store.call(lambda s: setattr(s.get(IdxCursor, 1), "block_hash", "0x" + "00" * 32))
                await ix.sync_once()
                if ix.rebuilds + rt.indexer.rebuilds > before:
                    break
                await asyncio.sleep(0.3)
            assert ix.rebuilds + rt.indexer.rebuilds >= before + 1
        finally:
            await chain.aclose()
    asyncio.run_coroutine_threadsafe(go(), _server_loop(live)).result(60)
    assert _count(rt.store, IdxEvent) == events
    assert rt.store.call(lambda s: {(b.account, b.scheme): b.balance for b in s.scalars(select(IdxBalance))}) \
        == balances
    assert _nets(rt.store) == nets  # rebuilt from the start block: the same sums


def test_indexer_keepsNoRawRowOfWhatItsProjectionsHold_butKeepsThePositionMoves(api, w3, api_city, keys, live):
    """A redemption's burn, change and record are in the balances, activity and redemptions: idx_events keeps no
    raw row of them (a block of 200 redemptions wrote 1,200, half of the store writer's time for the block); the
    position move stays (the nets are summed only for moves not indexed before)."""
    before = _count(live.rt.store, IdxEvent)
    r = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[0], 10), headers=auth(keys["merchant"]))
    assert r.status_code == 201, r.text
    wait_indexed(api, w3)
    rid = r.json()["id"]
    block = r.json()["blockNumber"]
    names = live.rt.store.call(lambda s: sorted(s.scalars(select(IdxEvent.name).where(IdxEvent.block_number == block))))
    assert names == ["MerchantPositionChanged"]
    assert _count(live.rt.store, IdxEvent) == before + 1
    assert live.rt.store.call(lambda s: s.get(IdxRedemption, rid)) is not None
    kinds = live.rt.store.call(lambda s: list(s.scalars(select(IdxActivity.kind).where(
        IdxActivity.tx_hash == r.json()["txHash"]))))
    assert kinds == ["burned"]  # the resident's history has the burn


def _tables(store) -> dict:
    """What the indexer wrote: raw events, history, balances, nets, redemptions and the cursor's block."""
    def read(s):
        return {"events": sorted(s.execute(select(IdxEvent.block_number, IdxEvent.log_index, IdxEvent.name)).all()),
                "activity": sorted(s.execute(select(IdxActivity.block_number, IdxActivity.log_index, IdxActivity.item,
                                                    IdxActivity.kind, IdxActivity.amount)).all()),
                "balances": sorted(s.execute(select(IdxBalance.account, IdxBalance.scheme, IdxBalance.balance)).all()),
                "nets": dict(s.execute(select(IdxNet.party, IdxNet.net)).all()),
                "redemptions": sorted(s.scalars(select(IdxRedemption.redemption_id))),
                "cursor": s.get(IdxCursor, 1).block_number}
    return store.call(read)


def test_indexer_killedBetweenItsHistoryAndItsCursor_writesEveryRowOnce_andAddsEveryNetOnce(
        api, w3, api_city, keys, live, empty_database_url, monkeypatch):
    """A range's history (raw events, activity, redemptions) goes first, in transactions of at most HISTORY_CHUNK
    rows (a request's write waits behind one of them, not behind a block's worth), and its state with the cursor
    last. Killed between the two, the range run again leaves exactly the tables a clean index leaves: no row twice,
    no position move's net added twice or lost."""
    from exchange_api import indexer as indexer_module
    monkeypatch.setattr(indexer_module, "HISTORY_CHUNK", 3)
    sizes: list[int] = []
    insert_history = indexer_module._insert

    def counted(s, part):
        sizes.append(sum(len(rows) for _, _, rows in part))
        insert_history(s, part)
    monkeypatch.setattr(indexer_module, "_insert", counted)
    for resident in api_city.residents[:3]:
        r = api.post("/v1/redemptions", json=api_city.consent(w3, resident, 10), headers=auth(keys["merchant"]))
        assert r.status_code == 201, r.text
    store = Store(empty_database_url)
    store.migrate()
    chain = ChainClient(live.rt.chain.rpc_url, live.rt.chain.deployment)
    ix = Indexer(chain, store)

    def killed(*_args):
        raise RuntimeError("killed before the cursor's transaction")

    async def go():
        try:
            ix._write = killed
            try:
                await ix.sync_once()
                raise AssertionError("the cursor's transaction was not reached")
            except RuntimeError:
                pass
            partial = _tables(store)
            del ix._write  # alive again: the range from the cursor, as after a restart
            await ix.sync_once()
            after = _tables(store)
            await ix.reset()
            await ix.sync_once()
            return partial, after, _tables(store)
        finally:
            await chain.aclose()
    try:
        partial, after, clean = asyncio.run_coroutine_threadsafe(go(), _server_loop(live)).result(120)
    finally:
        store.dispose()
    assert partial["activity"] and partial["redemptions"]  # the history was committed before the kill
    assert not partial["balances"] and not partial["nets"] and partial["cursor"] < after["cursor"]
    assert len(sizes) > 1 and max(sizes) <= 3
    assert after == clean
    assert after["nets"][f"merchant:{api_city.merchant.address}"] < 0  # what the merchant is owed, once


def test_indexer_takesANewBlockAsSoonAsTheRelayerSeesIt_notAtItsNextPoll(api, w3, live, monkeypatch):
    """Until the indexed view has the head, redemptions are simulated on the node instead of checked from memory:
    the relayer's tracker (a poll every 20 ms) wakes the indexer, however long the indexer's own poll."""
    monkeypatch.setattr(live.rt.indexer, "poll_s", 30.0)
    try:
        time.sleep(0.3)  # the indexer is now in its 30 s wait
        w3.provider.make_request("evm_mine", [])
        head = w3.eth.block_number
        deadline = time.monotonic() + 5
        while live.rt.indexer.block < head:
            assert time.monotonic() < deadline, f"block {head} not indexed within 5 s ({live.rt.indexer.block})"
            time.sleep(0.02)
    finally:
        monkeypatch.undo()
        live.rt.indexer.wake()  # out of its long wait: for the next test it polls as before


def test_indexer_blockTimesFromHeaders_whenTheNodesLogsLackThem(api, w3, api_city, live):
    """anvil puts each log's blockTimestamp in eth_getLogs; a node that does not (the field is recent in the
    JSON-RPC spec) has the indexer read the headers: the same times either way."""
    rt = live.rt
    head = w3.eth.block_number
    chain = ChainClient(rt.chain.rpc_url, rt.chain.deployment)
    ix = Indexer(chain, rt.store)
    real_batch = chain.batch

    async def without_log_times(calls):
        answers = await real_batch(calls)
        for answer in answers:
            if isinstance(answer.get("result"), list):  # eth_getLogs's
                for lg in answer["result"]:
                    lg.pop("blockTimestamp", None)
        return answers

    async def go():
        try:
            with_times = await ix._fetch(1, head, "")
            chain.batch = without_log_times
            from_headers = await ix._fetch(1, head, "")
            return with_times, from_headers
        finally:
            await chain.aclose()
    (logs, to_hash, times), (logs2, to_hash2, times2) = asyncio.run_coroutine_threadsafe(
        go(), _server_loop(live)).result(60)
    assert logs and all("blockTimestamp" in lg for lg in logs) and not any("blockTimestamp" in lg for lg in logs2)
    assert times2 == times and to_hash2 == to_hash
    blocks = {int(lg["blockNumber"], 16) for lg in logs}
    assert blocks <= set(times)
    assert all(times[b] == w3.eth.get_block(b)["timestamp"] for b in blocks)


def test_indexer_refusesARange_thatDoesNotGrowFromTheLastBlockIndexed(api, w3, api_city, live):
    """A chain reset and grown again past the cursor between two rounds (the cursor's check ran before the reset)
    must not have its new blocks indexed on top of the replaced ones: the range is refused, the next round
    rebuilds."""
    rt = live.rt
    w3.provider.make_request("evm_mine", [])
    head = w3.eth.block_number
    parent = w3.eth.get_block(head - 1)["hash"].to_0x_hex()
    chain = ChainClient(rt.chain.rpc_url, rt.chain.deployment)
    ix = Indexer(chain, rt.store)

    async def go():
        try:
            following = await ix._fetch(head, head, parent)
            try:
                await ix._fetch(head, head, "0x" + "11" * 32)
            except ChainMoved as moved:
                return following, moved
            return following, None
        finally:
            await chain.aclose()
    (_, to_hash, _), moved = asyncio.run_coroutine_threadsafe(go(), _server_loop(live)).result(60)
    assert to_hash == w3.eth.get_block(head)["hash"].to_0x_hex()
    assert moved is not None and f"block {head} does not follow" in str(moved)


def test_indexer_rebuilds_whenTheChainWasReplacedAndGrewPastItsCursor(api, w3, api_city, live, empty_database_url):
    """A chain reverted below the cursor and grown past it between two rounds: the range that does not grow from
    the cursor is refused, and the next round finds the cursor's block gone and rebuilds; the indexed blocks are
    then the chain's."""
    store = Store(empty_database_url)
    store.migrate()
    chain = ChainClient(live.rt.chain.rpc_url, live.rt.chain.deployment)
    ix = Indexer(chain, store)
    ledger, issuer = api_city.contracts["PointsLedger"], api_city.issuer1
    marker = w3.provider.make_request("evm_snapshot", [])["result"]

    def issue(tag: str) -> None:
        ledger_node_chain.transact(w3, issuer, ledger.functions.issueBatch(
            S1, [api_city.residents[0].address], [1], [Web3.keccak(text=f"rebuild-{tag}-{time.time_ns()}")]))

    async def rounds(n: int) -> None:
        for _ in range(n):
            try:
                await ix.sync_once()
            except ChainMoved:
                continue

    try:
        issue("replaced")
        issue("replaced")
        asyncio.run_coroutine_threadsafe(rounds(1), _server_loop(live)).result(60)
        replaced_head = w3.eth.block_number
        assert ix.block == replaced_head
        w3.provider.make_request("evm_revert", [marker])
        while w3.eth.block_number <= replaced_head:  # grown past the cursor, on other blocks
            issue("kept")
        asyncio.run_coroutine_threadsafe(rounds(3), _server_loop(live)).result(60)
        head = w3.eth.get_block("latest")
        cursor = store.call(lambda s: s.get(IdxCursor, 1))
        assert cursor.block_number == head["number"] and cursor.block_hash == head["hash"].to_0x_hex()
        assert ix.rebuilds == 1
    finally:
        asyncio.run_coroutine_threadsafe(chain.aclose(), _server_loop(live)).result(10)
        store.dispose()


def test_relayer_settlesABlocksTransactionsInChunks_andEveryRecordIsConfirmed(api, w3, api_city, keys, live,
                                                                               monkeypatch):
    """A block's mined transactions are settled a few at a time (SETTLE_CHUNK; the requests' writes go in between):
    every redemption of the block is confirmed, with its block."""
    from exchange_api import relayer as relayer_module
    monkeypatch.setattr(relayer_module, "SETTLE_CHUNK", 2)
    residents = api_city.residents[:5]
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        ids = []
        for r in residents:
            sent = api.post("/v1/redemptions", json={**api_city.consent(w3, r, 10), "wait": False},
                            headers=auth(keys["merchant"]))
            assert sent.status_code == 202, sent.text
            ids.append(sent.json()["id"])
        deadline = time.monotonic() + 20  # answered at the persist: the relayer sends them a moment later
        while int(w3.provider.make_request("txpool_status", [])["result"]["pending"], 16) < len(residents):
            assert time.monotonic() < deadline, "the relayer did not send the five redemptions"
            time.sleep(0.02)
        w3.provider.make_request("evm_mine", [])  # the five in one block
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    block = w3.eth.block_number
    deadline = time.monotonic() + 20
    while True:
        got = [api.get(f"/v1/redemptions/{i}", headers=auth(keys["merchant"])).json() for i in ids]
        if all(g["status"] == "confirmed" for g in got) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [(g["status"], g["blockNumber"]) for g in got] == [("confirmed", block)] * 5


def _server_loop(live):
    return live.rt.tasks[0].get_loop()


def with_nonces_reread(live, coro, timeout: float):
    """`coro`'s result, run on the service's loop while another relayer sends from the live one's accounts: the
    live relayer's nonce counters are read again from the chain before and after."""
    for a in live.rt.relayer.accounts:
        a.nonces.reset()
    try:
        return asyncio.run_coroutine_threadsafe(coro, _server_loop(live)).result(timeout)
    finally:
        for a in live.rt.relayer.accounts:
            a.nonces.reset()


def dead_on_send(rt, keys: list[str] | None = None):
    """(chain client, relayer over the live store, the client's real `batch`): its sends fail as into a node killed
    before them; set `chain.batch` back to the real one to bring the node "back"."""
    chain = ChainClient(rt.chain.rpc_url, rt.chain.deployment)
    dead = Relayer(chain, rt.store, keys or rt.settings.relayer_private_keys())
    real = chain.batch

    async def node_dies_on_send(calls):
        if any(method == "eth_sendRawTransaction" for method, _ in calls):
            raise NodeUnavailable("killed before the send")
        return await real(calls)
    chain.batch = node_dies_on_send
    return chain, dead, real


def test_relayer_crashAfterPersistBeforeSend_reconcileSendsExactlyOnce(api, w3, api_city, keys, live):
    rt = live.rt
    consent = api_city.consent(w3, api_city.residents[1], 77)
    from exchange_api.store.models import Merchant
    merchant_id = rt.store.call(lambda s: s.scalar(select(Merchant.id).where(
        Merchant.address == api_city.merchant.address)))

    async def crash_then_recover():
        chain, dead, real = dead_on_send(rt)
        # the live service's store, indexer and holds; this chain client and relayer
        service = dataclasses.replace(rt.services.redemptions, chain=chain, relayer=dead)
        # persisted before the send: the relayer owes it to the chain, so the merchant is told "pending" (202)
        result = await service.submit(merchant_id, consent, wait=False)
        assert isinstance(result, Pending) and result.body["status"] == "pending"
        for _ in range(200):  # the answer came at the persist; the send (into the dead node) follows
            if dead._resend_needed:
                break
            await asyncio.sleep(0.01)
        chain.batch = real
        rid = redemptions.redemption_id(consent["resident"], unhex(consent["nonce"]))
        row = rt.store.call(lambda s: s.scalar(select(RelayedTransaction).where(RelayedTransaction.subject_id == rid)))
        assert row.status == "signed"
        # "restart": a new relayer over the same store reconciles
        fresh = Relayer(chain, rt.store, rt.settings.relayer_private_keys())
        fresh.on_mined = rt.services.confirmations.on_mined
        counts = await fresh.reconcile()
        assert counts["resent"] + counts["resigned"] == 1
        for _ in range(200):
            await fresh.track_once(sweep=True)
            if rt.store.call(lambda s: s.scalar(select(Redemption.status).where(Redemption.id == rid))) == "confirmed":
                break
            await asyncio.sleep(0.05)
        # a second restart finds nothing to do, and the consent cannot be spent again
        again = Relayer(chain, rt.store, rt.settings.relayer_private_keys())
        again.on_mined = fresh.on_mined
        assert sum((await again.reconcile()).values()) == 0
        await chain.aclose()
        return rid
    rid = with_nonces_reread(live, crash_then_recover(), 60)
    assert rt.store.call(lambda s: s.scalar(select(Redemption.status).where(Redemption.id == rid))) == "confirmed"
    redeemed = api_city.contracts["Redemption"].events.Redeemed().get_logs(from_block=0)
    assert sum(1 for e in redeemed if "0x" + e["args"]["redemptionId"].hex() == rid) == 1
    dup = api.post("/v1/redemptions", json=consent, headers=auth(keys["merchant"]))
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "consent_already_used"
    until_relayer_idle(rt)  # the nonce the refused copy took is filled by a transaction of its own


def test_relayer_crashAfterSend_reconcileFindsTheReceipt(api, w3, api_city, keys, live):
    rt = live.rt
    body = api.post("/v1/redemptions", json={**api_city.consent(w3, api_city.residents[2], 12), "wait": False},
                    headers=auth(keys["merchant"])).json()
    # pretend the process died before it saw the block: the records say "sent, not mined"
    def forget(s):
        s.scalar(select(RelayedTransaction).where(RelayedTransaction.tx_hash == body["txHash"])).status = "signed"
        s.scalar(select(Redemption).where(Redemption.id == body["id"])).status = "pending"
    w3.eth.wait_for_transaction_receipt(body["txHash"], timeout=20)
    for _ in range(200):  # let the live relayer finish with it first
        if api.get(f"/v1/redemptions/{body['id']}", headers=auth(keys["merchant"])).json()["status"] == "confirmed":
            break
        time.sleep(0.05)
    rt.store.call(forget)

    async def restart():
        chain = ChainClient(rt.chain.rpc_url, rt.chain.deployment)
        fresh = Relayer(chain, rt.store, rt.settings.relayer_private_keys())
        fresh.on_mined = rt.services.confirmations.on_mined
        counts = await fresh.reconcile()
        await chain.aclose()
        return counts
    counts = asyncio.run_coroutine_threadsafe(restart(), _server_loop(live)).result(60)
    assert counts["mined"] == 1 and counts["resent"] == counts["resigned"] == 0
    assert api.get(f"/v1/redemptions/{body['id']}", headers=auth(keys["merchant"])).json()["status"] == "confirmed"


def test_relayer_marksItsTransactionAndSettlesTheRecordTogether_orNeither(api, w3, api_city, keys, live, monkeypatch):
    """A redemption's transaction is marked mined in the same database transaction that confirms the redemption:
    while settling the record fails (a crash there, a database error), the transaction stays unmarked and the
    tracker tries again, so the record is never left pending behind a transaction marked mined (which reconcile()
    would never look at again); once settling works, it is confirmed."""
    from exchange_api.services import confirmations
    rt, real, failing = live.rt, confirmations._settle_redemptions, [True]

    def settle(s, items, indexer_enabled):
        if failing[0]:
            raise RuntimeError("the process dies while settling")
        return real(s, items, indexer_enabled)
    monkeypatch.setattr(confirmations, "_settle_redemptions", settle)
    body = api.post("/v1/redemptions", json={**api_city.consent(w3, api_city.residents[3], 21), "wait": False},
                    headers=auth(keys["merchant"])).json()
    w3.eth.wait_for_transaction_receipt(body["txHash"], timeout=20)

    def statuses():
        return rt.store.call(lambda s: (
            s.scalar(select(RelayedTransaction.status).where(RelayedTransaction.tx_hash == body["txHash"])),
            s.scalar(select(Redemption.status).where(Redemption.id == body["id"]))))
    until = time.monotonic() + 2.5  # the tracker tries again with its sweep, every second
    while time.monotonic() < until:
        relayed, record = statuses()
        assert relayed in ("signed", "sent") and record == "pending", (relayed, record)
        time.sleep(0.05)
    failing[0] = False
    deadline = time.monotonic() + 10
    while statuses() != ("mined", "confirmed"):
        assert time.monotonic() < deadline, statuses()
        time.sleep(0.05)


def test_relayer_keepsTheHeadFresh_whileItsTrackerWaitsOnReceipts(live):
    """An engine busy dumping its state answers receipts tens of seconds late; the head the gateway answers itself
    must not go stale meanwhile (every redemption would be simulated on that busy engine and refused)."""
    rt = live.rt

    async def go():
        chain = ChainClient(rt.chain.rpc_url, rt.chain.deployment)
        relayer = Relayer(chain, rt.store, rt.settings.relayer_private_keys())
        settling = asyncio.Event()

        async def receipts_late(hashes, known=None):  # the tracker waiting on the busy engine's receipts
            settling.set()
            await asyncio.sleep(3)
        relayer._settle = receipts_late
        relayer._watch("0x" + "11" * 32)  # a transaction it waits for: the sweep looks it up after a second
        tracker = asyncio.create_task(relayer.run_tracker())
        try:
            await asyncio.wait_for(settling.wait(), 5)
            fresh = []
            for _ in range(20):
                await asyncio.sleep(0.1)
                fresh.append(relayer.current_head() is not None)
            return fresh
        finally:
            tracker.cancel()
            await asyncio.gather(tracker, return_exceptions=True)
            await chain.aclose()
    fresh = asyncio.run_coroutine_threadsafe(go(), _server_loop(live)).result(30)
    assert all(fresh), f"the head looked stale in {fresh.count(False)} of 20 looks during a 3 s wait on receipts"
