"""Redemptions that reach the relayer together go out as one redeemMany transaction (issue 25: gas a redemption):
each is settled from its own event, one the chain skips fails alone, one the store refuses is left out of the
batch, and a batch whose nonce went to another transaction is signed again with its records moved to it."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time

from eth_abi import decode
from eth_account import Account
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from exchange_api.chain import REDEEM, REDEEM_MANY, ChainClient, unhex
from exchange_api.relayer import Relayer
from exchange_api.services import redemptions
from exchange_api.services.results import Done, Pending
from exchange_api.store.models import Merchant, Redemption, RelayedTransaction
from ledger_node import chain

from .conftest import S1
from .test_indexer_relayer import _server_loop, dead_on_send, with_nonces_reread

GAS_FLOOR = 100_000  # issue 25: a one-scheme redemption


def _merchant_id(rt, api_city):
    return rt.store.call(lambda s: s.scalar(select(Merchant.id).where(Merchant.address == api_city.merchant.address)))


def _rid(c: dict) -> str:
    return redemptions.redemption_id(c["resident"], unhex(c["nonce"]))


def _consents(w3, api_city, n: int) -> list[dict]:
    """`n` consents of the city's residents, each a point of one scheme for its 10 credit cents (the floor's
    redemption: one scheme, an exact plan)."""
    return [api_city.consent(w3, api_city.residents[i % len(api_city.residents)], 10, order_ref=os.urandom(32),
                             parts=[(S1, 1, 10)]) for i in range(n)]


def _redeemed_once(api_city, rids) -> bool:
    events = api_city.contracts["Redemption"].events.Redeemed().get_logs(from_block=0)
    seen = ["0x" + e["args"]["redemptionId"].hex() for e in events]
    return all(seen.count(rid) == 1 for rid in rids)


def _record(merchant_id, c, rid=None):
    """persist_with for a raw relayer submission: the redemption's record, as the service writes it."""
    def write(s, h):
        s.execute(insert(Redemption.__table__), dict(
            id=rid or _rid(c), merchant_id=merchant_id, merchant=c["merchant"], resident=c["resident"],
            credits=c["credits"], order_ref=c["orderRef"], nonce=c["nonce"], deadline=c["deadline"],
            signature=c["signature"], status="pending", tx_hash=h))
    return write


def _relay(rt, api_city, c, persist_with):
    """What the service hands the relayer for a consent, without its checks before it."""
    args = api_city.redeem_args(c)
    return rt.relayer.submit(kind="redemption", subject_id=_rid(c), to=rt.chain.addresses["Redemption"],
                             data=REDEEM.encode(*args), gas=rt.settings.redeem_gas, persist_with=persist_with,
                             batch_item=args)


async def _until_unanswered(relayer) -> None:
    """Until `relayer`'s send failed as into a node killed before it (dead_on_send): its records pending."""
    for _ in range(200):
        if relayer._resend_needed:
            return
        await asyncio.sleep(0.01)


def _nonce_taken(w3, key: str, account, nonce: int) -> None:
    """The relayer account's `nonce` goes to another transaction (an empty transfer to itself)."""
    filler = Account.sign_transaction({"to": account.address, "value": 0, "gas": 21_000, "gasPrice": 0,
                                       "nonce": nonce, "chainId": w3.eth.chain_id}, key)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(filler.raw_transaction))


def _batch_items(data) -> list:
    """The consents a redeemMany call carries."""
    return decode([REDEEM_MANY.types[0]], bytes(data[4:]))[0]


def _records(rt, rids):
    rows = rt.store.call(lambda s: list(s.scalars(select(Redemption).where(Redemption.id.in_(rids)))))
    return {r.id: r for r in rows}


def _settled(rt, rids, timeout: float = 20.0):
    """The records once none is pending: one whose nonce the chain found used waits for the indexer to reach its
    block (services/confirmations.py settle_used)."""
    deadline = time.monotonic() + timeout
    while True:
        records = _records(rt, rids)
        if all(r.status != "pending" for r in records.values()) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_redemptionsArrivingTogether_goInOneTransaction_eachSettledFromItsOwnEvent_underTheGasFloor(
        api, w3, api_city, live):
    rt = live.rt
    merchant_id = _merchant_id(rt, api_city)
    consents = _consents(w3, api_city, 8)

    async def together():
        return await asyncio.gather(*(rt.services.redemptions.submit(merchant_id, c, wait=True) for c in consents))
    results = asyncio.run_coroutine_threadsafe(together(), _server_loop(live)).result(60)
    assert all(isinstance(r, Done) and r.body["status"] == "confirmed" for r in results)  # 201 each
    assert all(r.body["parts"][0]["credits"] == 10 for r in results)  # each from its own Redeemed event
    by_tx: dict[str, list[str]] = {}
    for r in results:
        by_tx.setdefault(r.body["txHash"], []).append(r.body["id"])
    batch_hash, members = max(by_tx.items(), key=lambda kv: len(kv[1]))
    assert len(members) >= 2, "redemptions that reached the relayer together each went alone"
    tx, receipt = w3.eth.get_transaction(batch_hash), w3.eth.get_transaction_receipt(batch_hash)
    assert bytes(tx["input"][:4]) == REDEEM_MANY.selector
    assert receipt["gasUsed"] / len(members) < GAS_FLOOR, (receipt["gasUsed"], len(members))
    row = rt.store.call(lambda s: s.get(RelayedTransaction, batch_hash))
    assert (row.kind, row.status) == ("redemption_batch", "mined")
    assert _redeemed_once(api_city, [r.body["id"] for r in results])


def test_aBatchMemberTheChainRefuses_failsAloneWithItsCode_theOthersAreConfirmed(api, w3, api_city, live):
    rt = live.rt
    merchant_id = _merchant_id(rt, api_city)
    spent, fresh, other = _consents(w3, api_city, 3)
    # another consent of the same resident under the same nonce (her wallet used a number twice): the merchant
    # redeems that one itself, on chain, so the consent the API holds can never be carried out
    twin = api_city.consent(w3, api_city.residents[0], 20, order_ref=os.urandom(32), parts=[(S1, 2, 20)],
                            nonce=unhex(spent["nonce"]))
    redemption = api_city.contracts["Redemption"]
    chain.transact(w3, api_city.merchant, redemption.functions.redeem(*api_city.redeem_args(twin)))

    async def together():
        hashes = await asyncio.gather(*(_relay(rt, api_city, c, _record(merchant_id, c))
                                        for c in (spent, fresh, other)))
        mined = await rt.relayer.wait(hashes[0], 30)
        return hashes, mined
    hashes, mined = asyncio.run_coroutine_threadsafe(together(), _server_loop(live)).result(60)
    assert len(set(hashes)) == 1 and mined is not None and mined.ok  # one transaction, and it succeeded
    records = _settled(rt, [_rid(c) for c in (spent, fresh, other)])
    assert (records[_rid(spent)].status, records[_rid(spent)].failure_code) == ("failed", "consent_already_used")
    assert records[_rid(fresh)].status == records[_rid(other)].status == "confirmed"
    assert records[_rid(fresh)].parts and records[_rid(spent)].parts is None
    assert _redeemed_once(api_city, [_rid(c) for c in (spent, fresh, other)])


def test_aBatchMemberTheMerchantRedeemedItself_isConfirmed_namingTheTransactionThatCarriedItOut(api, w3, api_city,
                                                                                                live):
    """The chain holds the consent's redemption (the merchant sent it itself): the record says confirmed, as the
    chain does, with that transaction, its block and its parts; it was failed `consent_already_used` before."""
    rt = live.rt
    merchant_id = _merchant_id(rt, api_city)
    spent, fresh = _consents(w3, api_city, 2)
    redemption = api_city.contracts["Redemption"]
    own = chain.transact(w3, api_city.merchant, redemption.functions.redeem(*api_city.redeem_args(spent)))

    async def together():
        hashes = await asyncio.gather(*(_relay(rt, api_city, c, _record(merchant_id, c)) for c in (spent, fresh)))
        return hashes, await rt.relayer.wait(hashes[0], 30)
    hashes, mined = asyncio.run_coroutine_threadsafe(together(), _server_loop(live)).result(60)
    assert len(set(hashes)) == 1 and mined is not None and mined.ok
    records = _settled(rt, [_rid(spent), _rid(fresh)])
    r = records[_rid(spent)]
    assert (r.status, r.failure_code) == ("confirmed", None)
    assert (r.tx_hash, r.block_number) == ("0x" + bytes(own["transactionHash"]).hex(), own["blockNumber"])
    assert records[_rid(fresh)].status == "confirmed" and records[_rid(fresh)].tx_hash == hashes[1]
    assert json.loads(r.parts)[0][:2] == [S1, 1] and r.parts == records[_rid(fresh)].parts  # the same plan
    assert _redeemed_once(api_city, [_rid(spent), _rid(fresh)])


def test_aBatchMemberTheStoreRefuses_isLeftOut_theBatchIsSignedWithoutIt_noFiller(api, w3, api_city, live):
    rt = live.rt
    merchant_id = _merchant_id(rt, api_city)
    twin, other = _consents(w3, api_city, 2)

    def fillers():
        return rt.store.call(lambda s: s.scalar(select(func.count()).select_from(RelayedTransaction).where(
            RelayedTransaction.kind == "filler")))
    before = fillers()

    async def together():  # the same consent twice (two copies reaching the relayer at once) and another one
        out = await asyncio.gather(_relay(rt, api_city, twin, _record(merchant_id, twin)),
                                   _relay(rt, api_city, twin, _record(merchant_id, twin)),
                                   _relay(rt, api_city, other, _record(merchant_id, other)), return_exceptions=True)
        done = [x for x in out if isinstance(x, str)]
        return out, await rt.relayer.wait(done[0], 30)
    out, mined = asyncio.run_coroutine_threadsafe(together(), _server_loop(live)).result(60)
    assert sorted(type(x).__name__ for x in out) == ["IntegrityError", "str", "str"]
    assert isinstance(next(x for x in out if not isinstance(x, str)), IntegrityError)
    hashes = {x for x in out if isinstance(x, str)}
    assert len(hashes) == 1 and mined is not None and mined.ok
    tx = w3.eth.get_transaction(hashes.pop())
    assert len(_batch_items(tx["input"])) == 2  # signed again without the refused copy, on the same nonce
    records = _records(rt, [_rid(twin), _rid(other)])
    assert records[_rid(twin)].status == records[_rid(other)].status == "confirmed"
    assert _redeemed_once(api_city, [_rid(twin), _rid(other)])
    assert fillers() == before  # no nonce was left to fill


def test_aBatchWhoseNonceWentElsewhere_isSignedAgain_andItsRecordsFollowIt(api, w3, api_city, live):
    rt = live.rt
    merchant_id = _merchant_id(rt, api_city)
    consents = _consents(w3, api_city, 3)

    async def crash_then_recover():
        chain, dead, real = dead_on_send(rt, rt.settings.relayer_private_keys()[:1])
        service = dataclasses.replace(rt.services.redemptions, chain=chain, relayer=dead)
        results = await asyncio.gather(*(service.submit(merchant_id, c, wait=False) for c in consents))
        await _until_unanswered(dead)
        chain.batch = real
        return results, dead.accounts[0]
    results, account = asyncio.run_coroutine_threadsafe(crash_then_recover(), _server_loop(live)).result(60)
    assert all(isinstance(r, Pending) for r in results)
    by_tx = {r.body["txHash"] for r in results}
    batch = next(h for h in by_tx if sum(r.body["txHash"] == h for r in results) >= 2)
    row = rt.store.call(lambda s: s.get(RelayedTransaction, batch))
    assert (row.kind, row.status) == ("redemption_batch", "signed")
    # the batch never reached the node; its nonce goes to another transaction of that account
    key = rt.settings.relayer_private_keys()[0]
    _nonce_taken(w3, key, account, row.relayer_nonce)

    async def restart():
        chain = ChainClient(rt.chain.rpc_url, rt.chain.deployment)
        fresh = Relayer(chain, rt.store, rt.settings.relayer_private_keys())
        fresh.on_mined = rt.services.confirmations.on_mined
        counts = await fresh.reconcile()
        rids = [r.body["id"] for r in results]
        for _ in range(200):
            await fresh.track_once(sweep=True)
            if all(r.status == "confirmed" for r in _records(rt, rids).values()):
                break
            await asyncio.sleep(0.05)
        await chain.aclose()
        return counts
    counts = with_nonces_reread(live, restart(), 90)
    assert counts["resigned"] >= 1
    records = _records(rt, [r.body["id"] for r in results])
    assert all(r.status == "confirmed" for r in records.values()), {r.id: r.status for r in records.values()}
    moved = {r.tx_hash for r in records.values() if r.id in {x.body["id"] for x in results
                                                              if x.body["txHash"] == batch}}
    assert len(moved) == 1 and batch not in moved  # the batch's records name the transaction that mined them
    assert rt.store.call(lambda s: s.get(RelayedTransaction, batch)).status == "replaced"
    assert _redeemed_once(api_city, [r.body["id"] for r in results])


def test_settlementChunks_countABatchByItsRedemptions():
    """A mined batch is settled in the store's writer with its records: a chunk counts its redemptions, so one
    write never holds the writer for a block's worth of batches (requests' writes wait behind it)."""
    from types import SimpleNamespace

    from exchange_api.relayer import Mined
    redeemed, skipped, other = "0x" + "01" * 32, "0x" + "02" * 32, "0x" + "03" * 32
    relayer = SimpleNamespace(outcome_logs={"address": [], "topics": [[redeemed, skipped]]})

    def mined(*topics):  # a receipt with these logs (an unrelated event is not a record)
        return Mined({"logs": [{"topics": [t]} for t in topics]}, True, None)
    batch_of_60 = mined(*[redeemed] * 58, skipped, skipped, *[other] * 100)
    batch_of_20 = mined(*[redeemed] * 20)
    txs = [("0xa", mined(redeemed)), ("0xb", batch_of_60), ("0xc", mined()), ("0xd", batch_of_20),
           ("0xe", mined(redeemed))]
    chunks = Relayer._settle_chunks(relayer, txs)
    assert [list(c) for c in chunks] == [["0xa", "0xb"], ["0xc", "0xd", "0xe"]]


def test_aLoneRedemptionCarriedOutByAnotherWhileItsOwnWasUnsent_isConfirmedNamingThatTransaction(api, w3, api_city,
                                                                                                  live):
    """Its transaction never reached the node (killed before the send), the merchant sent the consent itself
    meanwhile, and the relayer account's nonce went to another transaction: reconcile() must not sign it again (the
    chain has it), and the record says confirmed with the merchant's transaction (it stayed pending for ever)."""
    rt = live.rt
    merchant_id = _merchant_id(rt, api_city)
    c, = _consents(w3, api_city, 1)
    key = rt.settings.relayer_private_keys()[0]

    async def crash():
        client, dead, real = dead_on_send(rt, [key])
        args = api_city.redeem_args(c)
        h = await dead.submit(kind="redemption", subject_id=_rid(c), to=rt.chain.addresses["Redemption"],
                              data=REDEEM.encode(*args), gas=rt.settings.redeem_gas, resident=c["resident"],
                              intent_nonce=c["nonce"].lower(), deadline=c["deadline"],
                              persist_with=_record(merchant_id, c))
        await _until_unanswered(dead)
        client.batch = real
        return h, dead.accounts[0]
    h, account = asyncio.run_coroutine_threadsafe(crash(), _server_loop(live)).result(60)
    row = rt.store.call(lambda s: s.get(RelayedTransaction, h))
    assert (row.kind, row.status) == ("redemption", "signed")
    redemption = api_city.contracts["Redemption"]
    own = chain.transact(w3, api_city.merchant, redemption.functions.redeem(*api_city.redeem_args(c)))
    _nonce_taken(w3, key, account, row.relayer_nonce)

    async def restart():
        client = ChainClient(rt.chain.rpc_url, rt.chain.deployment)
        fresh = Relayer(client, rt.store, [key])
        fresh.on_mined = rt.services.confirmations.on_mined
        counts = await fresh.reconcile()
        await client.aclose()
        return counts
    counts = with_nonces_reread(live, restart(), 90)
    assert (counts["dropped"], counts["resigned"]) == (1, 0)
    r = _settled(rt, [_rid(c)])[_rid(c)]
    assert (r.status, r.failure_code) == ("confirmed", None)
    assert (r.tx_hash, r.block_number) == ("0x" + bytes(own["transactionHash"]).hex(), own["blockNumber"])
    assert rt.store.call(lambda s: s.get(RelayedTransaction, h)).status == "replaced"
    assert _redeemed_once(api_city, [_rid(c)])
