"""Webhook deliveries: a slow receiver delays only its own deliveries (one in flight per endpoint, endpoints side
by side), each endpoint's delivery log is readable by its merchant, a delivery can be sent again, and the signing
secret is stored only encrypted (the endpoint's row and the idempotent replay of its creation)."""
from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import create_engine, delete, inspect, select, text

from exchange_api.store.db import sqlite_file
from exchange_api.store.models import WebhookDelivery, WebhookEndpoint
from exchange_api.webhooks import verify_signature

from .conftest import auth
from .test_webhooks_guard import Receiver, emit


def endpoint_merchant(live, endpoint_id: str) -> int:
    return live.rt.store.call(lambda s: s.scalar(select(WebhookEndpoint.merchant_id).where(
        WebhookEndpoint.id == endpoint_id)))


def log_of(api, h, endpoint_id: str, **params) -> dict:
    resp = api.get(f"/v1/webhook_endpoints/{endpoint_id}/deliveries", params=params, headers=h)
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_log(api, h, endpoint_id: str, check, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        data = log_of(api, h, endpoint_id)["data"]
        if check(data) or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def test_slowReceiver_doesNotDelayAnotherMerchantsDeliveries(api, keys, live, local_webhooks):
    slow, fast = Receiver(delay=2.0), Receiver()
    hs, hf = auth(keys["merchant"]), auth(keys["merchant2"])
    ep_slow = api.post("/v1/webhook_endpoints", json={"url": slow.url}, headers=hs).json()
    ep_fast = api.post("/v1/webhook_endpoints", json={"url": fast.url}, headers=hf).json()
    try:
        emit(live, endpoint_merchant(live, ep_slow["id"]), 3)
        slow.wait(1)  # the slow receiver holds its first delivery for 2 s
        t0 = time.monotonic()
        emit(live, endpoint_merchant(live, ep_fast["id"]), 3)
        fast.wait(3, timeout=5)
        delays = [e["at"] - t0 for e in fast.events[:3]]
        assert max(delays) < 1.0, f"the fast receiver waited {max(delays):.2f} s behind the slow one"
        assert len(slow.events) == 1 and slow.in_flight == 1  # still on its first
        slow.wait(2, timeout=6)
        assert slow.max_in_flight == 1  # one delivery at a time per endpoint
        fast_log = log_of(api, hf, ep_fast["id"])["data"]
        assert all(d["status"] == "delivered" and d["lastStatusCode"] == 200 for d in fast_log[:3])
    finally:
        api.delete(f"/v1/webhook_endpoints/{ep_slow['id']}", headers=hs)
        api.delete(f"/v1/webhook_endpoints/{ep_fast['id']}", headers=hf)
        slow.close()
        fast.close()


def test_deliveryLog_showsAttemptsAndRetries_andARedeliverySendsTheEventAgain(api, keys, live, local_webhooks):
    receiver = Receiver(status=503)
    h = auth(keys["merchant2"])
    created = api.post("/v1/webhook_endpoints", json={"url": receiver.url}, headers=h).json()
    ep, secret = created["id"], created["secret"]
    try:
        emit(live, endpoint_merchant(live, ep), 2)
        log = wait_log(api, h, ep, lambda d: len(d) == 2 and all(x["attempts"] >= 2 for x in d))
        for d in log:  # refused twice or more: waiting for its next retry, which the log shows
            assert d["status"] == "pending" and d["attempts"] >= 2 and d["lastStatusCode"] == 503, d
            assert d["lastError"] == "HTTP 503" and d["nextAttemptAt"] and d["lastAttemptAt"], d
            assert d["endpointId"] == ep and d["eventType"] == "redemption.confirmed"
        page = log_of(api, h, ep, limit=1)
        assert page["has_more"] and len(page["data"]) == 1
        rest = log_of(api, h, ep, starting_after=page["data"][0]["id"])["data"]
        assert [d["id"] for d in page["data"] + rest] == [d["id"] for d in log]

        receiver.status = 200
        log = wait_log(api, h, ep, lambda d: all(x["status"] == "delivered" for x in d))
        assert all(d["status"] == "delivered" and d["lastStatusCode"] == 200 and d["lastError"] is None
                   and d["nextAttemptAt"] is None for d in log), log
        got = len(receiver.events)
        attempts = log[0]["attempts"]

        again = api.post(f"/v1/webhook_endpoints/{ep}/deliveries/{log[0]['id']}/redeliver", headers=h)
        assert again.status_code == 202 and again.json()["status"] == "pending"
        receiver.wait(got + 1)
        event = receiver.events[-1]
        assert event["id"] == log[0]["id"]  # the same event (receivers deduplicate by its id), signed anew
        assert verify_signature(event["body"], event["signature"], secret)["id"] == log[0]["id"]
        after = wait_log(api, h, ep, lambda d: d[0]["attempts"] == attempts + 1 and d[0]["status"] == "delivered")
        assert after[0]["attempts"] == attempts + 1 and after[0]["status"] == "delivered"

        # another merchant sees neither the log nor can redeliver; unknown ids are 404
        other = auth(keys["merchant"])
        assert api.get(f"/v1/webhook_endpoints/{ep}/deliveries", headers=other).status_code == 404
        assert api.post(f"/v1/webhook_endpoints/{ep}/deliveries/{log[0]['id']}/redeliver",
                        headers=other).status_code == 404
        missing = api.post(f"/v1/webhook_endpoints/{ep}/deliveries/evt_nope/redeliver", headers=h)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "webhook_delivery_not_found"
        assert api.get(f"/v1/webhook_endpoints/{ep}/deliveries").status_code == 401
    finally:
        api.delete(f"/v1/webhook_endpoints/{ep}", headers=h)
        receiver.close()


def test_anAttemptWhoseRowIsGone_leavesTheEventThatTookItsNumberAlone(api, keys, live, local_webhooks):
    """A delivery still in flight when its row went (a restored store; SQLite hands the number to the next event)
    records nothing on the later event's row: each row counts its own attempts."""
    slow, fast = Receiver(delay=1.5), Receiver()
    hs, hf = auth(keys["merchant"]), auth(keys["merchant2"])
    ep_slow = api.post("/v1/webhook_endpoints", json={"url": slow.url}, headers=hs).json()["id"]
    ep_fast = api.post("/v1/webhook_endpoints", json={"url": fast.url}, headers=hf).json()["id"]
    try:
        emit(live, endpoint_merchant(live, ep_slow), 1)
        slow.wait(1)  # in flight for 1.5 s
        live.rt.store.call(lambda s: s.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == ep_slow)))
        emit(live, endpoint_merchant(live, ep_fast), 1)
        fast.wait(1)
        time.sleep(2.0)  # the slow attempt has ended
        (later,) = log_of(api, hf, ep_fast)["data"]
        assert later["attempts"] == len(fast.events) == 1 and later["status"] == "delivered", later
    finally:
        api.delete(f"/v1/webhook_endpoints/{ep_slow}", headers=hs)
        api.delete(f"/v1/webhook_endpoints/{ep_fast}", headers=hf)
        slow.close()
        fast.close()


def test_signingSecret_isNeverStoredInClear_notEvenForIdempotentReplays(api, keys, live):
    h = auth(keys["merchant2"], **{"Idempotency-Key": f"hook-{time.time_ns()}"})
    url = "https://93.184.216.34/hooks/secret-test"
    first = api.post("/v1/webhook_endpoints", json={"url": url}, headers=h)
    assert first.status_code == 201
    secret = first.json()["secret"]
    replay = api.post("/v1/webhook_endpoints", json={"url": url}, headers=h)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["secret"] == secret  # a client that lost the first answer still gets its secret
    try:
        needles = (secret, secret.removeprefix("whsec_"))
        url_db = live.settings.database_url
        path = sqlite_file(url_db)
        if path is not None:
            live.rt.store.call(lambda s: s.execute(text("SELECT 1")))
            for f in (path, Path(f"{path}-wal")):
                raw = f.read_bytes() if f.exists() else b""
                for n in needles:
                    assert n.encode() not in raw, f"the secret is in {f.name} in clear"
        engine = create_engine(url_db.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                tables = inspect(conn).get_table_names()
                assert "idempotency_keys" in tables and "webhook_endpoints" in tables
                for table in tables:
                    for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                        for value in row:
                            blob = value if isinstance(value, bytes) else str(value).encode()
                            for n in needles:
                                assert n.encode() not in blob, f"the secret is in {table} in clear"
        finally:
            engine.dispose()
    finally:
        api.delete(f"/v1/webhook_endpoints/{first.json()['id']}", headers=auth(keys["merchant2"]))
