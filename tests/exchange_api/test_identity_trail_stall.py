"""With the durable node's engine stopped (SIGSTOP of its anvil, as tests/exchange_api/test_relayer_stall.py does),
the one function that opens personal data cannot get its identity-use trail entry acknowledged, so it refuses:
503 `trail_unavailable`, the data stays closed (a start whose name does not match would otherwise be 422
`identity_mismatch`), and nothing is decided on it. Resumed, the same request opens the data after its entry."""
from __future__ import annotations

import os
import signal

from eth_account import Account

from exchange_api.merchant_keys import create_key

from .conftest import auth
from .test_recovery_api import person
from .test_relayer_stall import _engine_pid, durable_city, stall_service  # noqa: F401  (fixtures)


def test_engineStopped_decryptionRefused_noTrailNoData(stall_service):  # noqa: F811
    node, w3, city, server, client, _ = stall_service
    office = auth(server.rt.store.call(lambda s: create_key(s, name="office", role="onboarding").api_key))
    who = person("N1")
    resident = Account.create()
    registered = client.post("/v1/onboarding/residents", json={"address": resident.address, **who}, headers=office)
    assert registered.status_code == 201, registered.text
    trail = city.contracts["IdentityTrail"]
    count = trail.functions.entryCount().call()
    wrong = {**who, "name": "Someone Else", "newAccount": Account.create().address}
    before = server.rt.settings
    server.rt.replace_settings(before.model_copy(update={"confirm_timeout_s": 3}))
    engine = _engine_pid(node)
    # the recovery's chain simulation comes first and needs the engine: while it runs, the engine is stopped just
    # as the trail entry is sent (the simulation of an unchanged chain is served before the stop)
    original = server.rt.services.identity_trail.write_ahead

    async def stop_then_write(*args, **kwargs):
        os.kill(engine, signal.SIGSTOP)
        return await original(*args, **kwargs)

    server.rt.services.identity_trail.write_ahead = stop_then_write
    try:
        resp = client.post("/v1/recoveries", json=wrong, headers=office)
    finally:
        os.kill(engine, signal.SIGCONT)
        server.rt.services.identity_trail.write_ahead = original
        server.rt.replace_settings(before)
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "trail_unavailable"
    assert who["name"] not in resp.text and who["identityNumber"] not in resp.text
    # resumed: the request is answered from the opened data, after its entry
    again = client.post("/v1/recoveries", json=wrong, headers=office)
    assert again.status_code == 422 and again.json()["error"]["code"] == "identity_mismatch", again.text
    assert trail.functions.entryCount().call() >= count + 1
