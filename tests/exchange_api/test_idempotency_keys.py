"""Idempotency-Key on a redemption: the key's row goes in with the redemption's own rows (one trip through the
store's writer instead of two), so the rules must hold without a claim written first: one key, one redemption,
whichever way two requests with it meet; and the relayer's check reads the store for a key only when the memory of
kept keys (`idempotency.KeptKeys`) cannot clear it."""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from starlette.requests import Request

from exchange_api import idempotency
from exchange_api.store.models import IdempotencyRecord, Redemption, RelayedTransaction

from .conftest import S1, auth
from .test_indexer_relayer import _server_loop


def _redemptions(live, resident: str) -> int:
    return live.rt.store.call(lambda s: s.scalar(select(func.count()).select_from(Redemption).where(
        Redemption.resident == resident)))


def test_twoRequestsWithOneKeyAtOnce_makeOneRedemption_theOtherReplaysOrIsInProgress(api, w3, api_city, keys, live):
    resident = api_city.residents[4]
    consent = {**api_city.consent(w3, resident, 10, order_ref=os.urandom(32), parts=[(S1, 1, 10)]), "wait": False}
    headers = auth(keys["merchant"], **{"Idempotency-Key": "till-7-" + os.urandom(4).hex()})
    before = _redemptions(live, resident.address)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.post("/v1/redemptions", json=consent, headers=headers), range(4)))
    first = [a for a in answers if a.status_code == 202 and a.headers.get("idempotent-replayed") != "true"]
    assert len(first) == 1, [(a.status_code, a.text) for a in answers]
    for a in answers:
        assert a is first[0] or (a.status_code == 202 and a.json() == first[0].json()) or \
            (a.status_code == 409 and a.json()["error"]["code"] == "idempotency_in_progress"), a.text
    assert _redemptions(live, resident.address) == before + 1
    again = api.post("/v1/redemptions", json=consent, headers=headers)  # its answer was kept with the redemption
    assert again.status_code == 202 and again.json() == first[0].json()
    assert again.headers.get("idempotent-replayed") == "true"


def test_aKeyUsedBeforeWithAnotherConsent_is409_beforeAnythingIsSigned(api, w3, api_city, keys, live):
    """The key is found among the rows by the relayer's check of its batch, before any nonce is taken: no
    transaction, not even the empty one that fills a nonce, and no record."""
    resident = api_city.residents[3]
    headers = auth(keys["merchant"], **{"Idempotency-Key": "till-8-" + os.urandom(4).hex()})
    first = api.post("/v1/redemptions", headers=headers, json={
        **api_city.consent(w3, resident, 10, order_ref=os.urandom(32), parts=[(S1, 1, 10)]), "wait": False})
    assert first.status_code == 202, first.text
    _reusedWithAnotherConsent_is409WithNothingSent(api, w3, api_city, live, resident, headers)


def _reusedWithAnotherConsent_is409WithNothingSent(api, w3, api_city, live, resident, headers) -> None:
    """The key in `headers` again, with another consent: 409 `idempotency_key_reused`, no record and no relayed
    transaction (not even the empty one that fills a nonce)."""
    store = live.rt.store
    count = lambda model: store.call(lambda s: s.scalar(select(func.count()).select_from(model)))  # noqa: E731
    before = (count(Redemption), count(RelayedTransaction))
    other = api.post("/v1/redemptions", headers=headers, json={
        **api_city.consent(w3, resident, 10, order_ref=os.urandom(32), parts=[(S1, 1, 10)]), "wait": False})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused", other.text
    assert (count(Redemption), count(RelayedTransaction)) == before


def _request(key: str) -> Request:
    request = Request({"type": "http", "method": "POST", "path": "/v1/redemptions", "query_string": b"",
                       "headers": [(b"idempotency-key", key.encode())]})
    request.state.request_id = "req_test"
    return request


def test_aKeyWrittenByAnotherProcessMeanwhile_refusesTheHandlersRows_andTheRequestIsAnsweredAsAReplay(live):
    """Another API process takes the key after this one looked it up and before its handler writes: the handler's
    write (its rows and the key's) is refused whole, and the caller gets the other request's answer."""
    store, idem = live.rt.store, live.rt.idempotency
    scope, key = "merchant:test", "race-" + os.urandom(4).hex()
    body = {"credits": 10}
    digest = hashlib.sha256(json.dumps(["POST", "/v1/redemptions", body], sort_keys=True,
                                       default=str).encode()).hexdigest()
    written = []

    async def handler():
        store.call(lambda s: s.add(IdempotencyRecord(scope=scope, key=key, request_hash=digest, status_code=202,
                                                     body=json.dumps({"id": "the other process's"}))))
        slot = idempotency.current()
        statement, params = idempotency.row(slot, {"id": "this process's"})
        await store.write(lambda s: (written.append(1), s.execute(statement, params)))
        return {"id": "this process's"}

    answer = asyncio.run_coroutine_threadsafe(
        idem.run(_request(key), scope, body, handler, lambda result: (202, result), overlap=True),
        _server_loop(live)).result(30)
    assert written and answer.status_code == 202 and answer.headers.get("idempotent-replayed") == "true"
    assert json.loads(answer.body) == {"id": "the other process's"}
    row = store.call(lambda s: s.get(IdempotencyRecord, (scope, key)))
    assert json.loads(row.body) == {"id": "the other process's"}


def _prechecks() -> float:
    from exchange_api.metrics import REGISTRY
    return REGISTRY.get_sample_value("citypoints_redemption_stage_seconds_count", {"stage": "pre-check read"}) or 0


def test_aFreshKey_costsNoStoreRead_andAKeyKeptBeforeARestart_isStill409WithNothingSent(api, w3, api_city, keys,
                                                                                        live):
    """The relayer's check of a batch reads the store only for a key the memory of kept keys cannot clear: a fresh
    key (nearly every request's) is not read; a key kept before the service started, which only the memory's load
    from the store knows, is found by that read before any nonce is taken (no transaction, no filler)."""
    resident = api_city.residents[5]
    headers = auth(keys["merchant"], **{"Idempotency-Key": "till-9-" + os.urandom(4).hex()})
    reads = _prechecks()
    first = api.post("/v1/redemptions", headers=headers, json={
        **api_city.consent(w3, resident, 10, order_ref=os.urandom(32), parts=[(S1, 1, 10)]), "wait": False})
    assert first.status_code == 202, first.text
    assert _prechecks() == reads  # neither its key nor its intent could have been used: the store was not asked

    idem = live.rt.idempotency

    async def restart():  # the memory as a service starting on this store has it: only what the load reads
        idem.kept.clear()
        idem.kept.ready = False
        idem.start()
        await idem.kept._reload
    asyncio.run_coroutine_threadsafe(restart(), _server_loop(live)).result(30)
    assert idem.kept.ready
    _reusedWithAnotherConsent_is409WithNothingSent(api, w3, api_city, live, resident, headers)
    assert _prechecks() == reads + 1
