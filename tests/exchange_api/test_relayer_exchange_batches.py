"""Exchanges that reach the relayer together go out as one exchangeMany transaction (issue 25: gas an exchange):
each is settled from its own event, and one the chain skips fails alone with the error the contract gave it."""
from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from exchange_api.chain import EXCHANGE, EXCHANGE_MANY, unhex
from exchange_api.schemas import IntentIn
from exchange_api.services.exchanges import exchange_id
from exchange_api.services.results import Done
from exchange_api.store.models import ExchangeSubmission, RelayedTransaction
from ledger_node import chain

from .test_hostile_input import intent
from .test_indexer_relayer import _server_loop


def _submit_together(live, bodies: list[dict]) -> list:
    async def together():
        return await asyncio.gather(*(live.rt.services.exchanges.submit(IntentIn(**b, wait=True)) for b in bodies),
                                    return_exceptions=True)
    return asyncio.run_coroutine_threadsafe(together(), _server_loop(live)).result(60)


def test_exchangesArrivingTogether_goInOneTransaction_eachSettledFromItsOwnEvent(api, w3, api_city, live):
    bodies = [intent(w3, api_city, r) for r in api_city.residents]
    results = _submit_together(live, bodies)
    assert all(isinstance(r, Done) and r.body["status"] == "confirmed" for r in results), results
    assert all(r.body["received"] == 3 and r.body["credits"] == 100 for r in results)  # each from its own event
    by_tx: dict[str, list[str]] = {}
    for r in results:
        by_tx.setdefault(r.body["txHash"], []).append(r.body["id"])
    batch_hash, members = max(by_tx.items(), key=lambda kv: len(kv[1]))
    assert len(members) >= 2, "exchanges that reached the relayer together each went alone"
    assert bytes(w3.eth.get_transaction(batch_hash)["input"][:4]) == EXCHANGE_MANY.selector
    row = live.rt.store.call(lambda s: s.get(RelayedTransaction, batch_hash))
    assert (row.kind, row.status) == ("exchange_batch", "mined")
    exchanged = api_city.contracts["Exchange"].events.Exchanged().get_logs(from_block=0)
    assert sorted(e["args"]["resident"] for e in exchanged) == sorted(r.address for r in api_city.residents)


def _relay(rt, b: dict):
    """What the service hands the relayer for a signed intent (its record with it), without its checks before it."""
    resident, nonce, sig = b["resident"], unhex(b["nonce"]), unhex(b["signature"])
    args = (resident, b["fromScheme"], b["toScheme"], b["points"], b["minReceived"], nonce, b["deadline"], sig)
    xid = exchange_id(resident, nonce)

    def record(s, h):
        s.add(ExchangeSubmission(id=xid, resident=resident, from_scheme=b["fromScheme"], to_scheme=b["toScheme"],
                                 points=b["points"], min_received=b["minReceived"], nonce=b["nonce"].lower(),
                                 deadline=b["deadline"], status="pending", tx_hash=h))
        s.flush()
    return xid, rt.relayer.submit(kind="exchange", subject_id=xid, to=rt.chain.addresses["Exchange"],
                                  data=EXCHANGE.encode(*args), gas=rt.settings.redeem_gas, resident=resident,
                                  intent_nonce=b["nonce"].lower(), deadline=b["deadline"], persist_with=record,
                                  batch_item=args)


def test_aBatchMemberCarriedOutElsewhere_isConfirmedNamingThatTransaction_anotherIntentOfItsNonceFails(
        api, w3, api_city, live):
    """Two intents of the batch find their nonce used on chain (ExchangeSkipped, ResidentNonceUsed): one because
    someone else sent that very intent (its record says confirmed, with that transaction and what it received: the
    chain's word, where it said failed before), one because its resident signed another intent under the same nonce
    and that one was sent (failed `consent_already_used`)."""
    rt = live.rt
    bodies = [intent(w3, api_city, r) for r in api_city.residents]
    spent, clashed = bodies[2], bodies[3]
    twin = intent(w3, api_city, api_city.residents[3], points=5)
    assert twin["nonce"] == clashed["nonce"] and twin["points"] != clashed["points"]  # another intent, its nonce
    exchange = api_city.contracts["Exchange"]
    sent = [chain.transact(w3, api_city.relayers[0], exchange.functions.exchange(
        b["resident"], b["fromScheme"], b["toScheme"], b["points"], b["minReceived"], unhex(b["nonce"]),
        b["deadline"], unhex(b["signature"]))) for b in (spent, twin)]

    async def together():
        ids, sends = zip(*(_relay(rt, b) for b in bodies))
        hashes = await asyncio.gather(*sends)
        await asyncio.gather(*(rt.relayer.wait(h, 30) for h in set(hashes)))
        return ids, hashes
    ids, hashes = asyncio.run_coroutine_threadsafe(together(), _server_loop(live)).result(60)
    assert len(set(hashes)) < len(hashes), "intents that reached the relayer together each went alone"

    def records():
        return rt.store.call(lambda s: {x.id: (x.status, x.failure_code, x.received, x.tx_hash)
                                        for x in s.scalars(select(ExchangeSubmission))})
    deadline = time.monotonic() + 20  # the two wait for the indexer to reach their block
    while any(r[0] == "pending" for r in records().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    out = records()
    assert out[ids[2]] == ("confirmed", None, 3, "0x" + bytes(sent[0]["transactionHash"]).hex())
    assert out[ids[3]][:3] == ("failed", "consent_already_used", None)
    assert all(out[x][:3] == ("confirmed", None, 3) for i, x in enumerate(ids) if i not in (2, 3))
