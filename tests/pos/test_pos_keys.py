"""A merchant's keys (issue 22): staff scopes, rotation with a grace, revocation and last use, on SQLite and
PostgreSQL (the API of tests/pos/conftest.py `pos_live`, whose `merchant_key` is a manager's).

Given a manager key, when it makes a cashier's key, then the cashier takes sales but cannot refund, publish offers,
read statements, see webhooks or manage keys (403 `insufficient_scope` naming the manager scope, nothing changed);
a rotated key keeps working for the grace its manager chose and is refused (401) after it; a revoked key is refused
at once, even with its principal in the authentication cache; each key's last use is kept to the minute.
"""
from __future__ import annotations

import datetime as dt
import time

import pytest
from eth_account import Account
from sqlalchemy import func, select

from exchange_api.deps import AUTH_CACHE_S
from exchange_api.merchant_keys import create_key
from exchange_api.store.models import ApiKey, Offer, RedemptionRequest, WebhookEndpoint

POS = {"X-CityPoints-POS": "1"}


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def new_key(client, scope: str, name: str | None = None, manager: str | None = None) -> dict:
    resp = client.post("/v1/keys", json={"name": name or f"{scope} {time.monotonic_ns()}", "scope": scope},
                       headers=bearer(manager or client.live.merchant_key))
    assert resp.status_code == 201, resp.text
    return resp.json()


def counts(live) -> tuple[int, int, int]:
    def n(s, table):
        return s.scalar(select(func.count()).select_from(table))
    return live.rt.store.call(lambda s: (n(s, Offer), n(s, WebhookEndpoint), n(s, RedemptionRequest)))


OFFER = {"titleZh": "咖啡", "titleEn": "Coffee", "price": 300, "category": "food", "district": "jinjiang"}

# what a cashier may not do: (method, path, body); each is a manager's
MANAGER_ONLY = [
    ("POST", "/v1/redemptions/0x" + "11" * 32 + "/refunds", {"credits": 100}),
    ("POST", "/v1/offers", OFFER),
    ("PUT", "/v1/merchant_profile", {"nameZh": "店", "nameEn": "Shop", "category": "food", "district": "jinjiang"}),
    ("GET", "/v1/offers", None),
    ("GET", "/v1/statements", None),
    ("GET", "/v1/settlements", None),
    ("GET", "/v1/redemptions?status=confirmed&created_from=2026-01-01&created_to=2026-02-01", None),
    ("GET", "/v1/webhook_endpoints", None),
    ("POST", "/v1/webhook_endpoints", {"url": "https://hooks.example/shop"}),
    ("GET", "/v1/keys", None),
    ("POST", "/v1/keys", {"name": "sneaky", "scope": "manager"}),
]


@pytest.mark.parametrize("method,path,body", MANAGER_ONLY, ids=[f"{m} {p.split('?')[0]}" for m, p, _ in MANAGER_ONLY])
def test_cashierKey_onAManagersEndpoint_is403InsufficientScope_andChangesNothing(pos_client, method, path, body):
    cashier = new_key(pos_client, "cashier")["apiKey"]
    before = counts(pos_client.live)
    resp = pos_client.request(method, path, json=body, headers=bearer(cashier))
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert error["code"] == "insufficient_scope" and "manager" in error["message"] and error["requestId"]
    assert counts(pos_client.live) == before


def test_cashierKey_takesSales_andReadsTheLastDaysSales(pos_client, wallet_city):
    cashier = new_key(pos_client, "cashier")["apiKey"]
    resp = pos_client.post("/v1/redemption_requests", headers=bearer(cashier),
                           json={"resident": wallet_city.residents[0].address, "credits": 250, "orderRef": "Table 2"})
    assert resp.status_code == 201, resp.text
    request_id = resp.json()["id"]
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(cashier)).status_code == 200
    since = (dt.datetime.utcnow() - dt.timedelta(hours=3)).isoformat(timespec="seconds")
    assert pos_client.get(f"/v1/redemptions?created_from={since}", headers=bearer(cashier)).status_code == 200
    assert pos_client.post(f"/v1/redemption_requests/{request_id}/cancel", json={},
                           headers=bearer(cashier)).status_code == 200
    # the same for a manager's key: everything a cashier may
    assert pos_client.get("/v1/offers", headers=bearer(pos_client.live.merchant_key)).status_code == 200


def test_tillSession_carriesTheKeysScope(pos_client):
    cashier = new_key(pos_client, "cashier")
    signed = pos_client.post("/v1/pos/session", json={"apiKey": cashier["apiKey"]})
    assert signed.status_code == 201 and signed.json()["key"] == {"id": cashier["id"], "scope": "cashier"}
    resp = pos_client.get("/v1/keys")  # the cookie, not the header
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "insufficient_scope"
    assert pos_client.get("/v1/redemption_requests?status=open").status_code == 200


def test_createKey_showsItOnce_andListsItWithoutTheKey(pos_client):
    made = new_key(pos_client, "cashier", name="Till 2")
    assert made["apiKey"].startswith("cpk_") and made["scope"] == "cashier" and made["status"] == "active"
    assert made["prefix"] == made["apiKey"][:12] and made["lastUsedAt"] is None and not made["current"]
    listed = pos_client.get("/v1/keys", headers=bearer(pos_client.live.merchant_key))
    assert listed.status_code == 200
    assert made["apiKey"] not in listed.text
    mine = {k["id"]: k for k in listed.json()["data"]}
    assert mine[made["id"]]["name"] == "Till 2" and mine[made["id"]]["apiKey"] is None
    assert [k for k in mine.values() if k["current"]][0]["scope"] == "manager"
    stored = pos_client.live.rt.store.call(lambda s: s.get(ApiKey, made["id"]))
    assert stored.key_hash != made["apiKey"] and made["apiKey"] not in (stored.prefix + stored.key_hash)


def test_createKey_withBadInput_is422_andMakesNoKey(pos_client):
    n = pos_client.live.rt.store.call(lambda s: s.scalar(select(func.count()).select_from(ApiKey)))
    for body in ({"name": "x", "scope": "owner"}, {"name": "", "scope": "cashier"}, {"name": "a" * 101,
                 "scope": "cashier"}, {"name": "tab\there", "scope": "cashier"}, {"scope": "cashier"}):
        resp = pos_client.post("/v1/keys", json=body, headers=bearer(pos_client.live.merchant_key))
        assert resp.status_code == 422, (body, resp.text)
    for grace in (-1, 7 * 24 * 3600 + 1, "60", 1.5):
        made = new_key(pos_client, "cashier")
        resp = pos_client.post(f"/v1/keys/{made['id']}/rotate", json={"graceSeconds": grace},
                               headers=bearer(pos_client.live.merchant_key))
        assert resp.status_code == 422, (grace, resp.text)
        n += 1
    assert pos_client.live.rt.store.call(lambda s: s.scalar(select(func.count()).select_from(ApiKey))) == n


def test_rotate_newKeyWorks_oldKeyWorksThroughItsGrace_then401(pos_client):
    old = new_key(pos_client, "cashier", name="Evening till")
    # the old key is in the authentication cache when it is rotated
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(old["apiKey"])).status_code == 200
    resp = pos_client.post(f"/v1/keys/{old['id']}/rotate", json={"graceSeconds": 2},
                           headers=bearer(pos_client.live.merchant_key))
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert new["apiKey"] != old["apiKey"] and new["name"] == "Evening till" and new["scope"] == "cashier"
    assert new["replaces"]["id"] == old["id"] and new["replaces"]["status"] == "expiring"
    assert new["replaces"]["replacedBy"] == new["id"] and "apiKey" not in new["replaces"]
    ends = dt.datetime.fromisoformat(new["replaces"]["expiresAt"].removesuffix("Z"))
    assert 0 < (ends - dt.datetime.utcnow()).total_seconds() <= 2.5
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(new["apiKey"])).status_code == 200
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(old["apiKey"])).status_code == 200
    again = pos_client.post(f"/v1/keys/{old['id']}/rotate", json={"graceSeconds": 0},
                            headers=bearer(pos_client.live.merchant_key))
    assert again.status_code == 409 and again.json()["error"]["code"] == "key_already_rotated"
    time.sleep(max(0.0, (ends - dt.datetime.utcnow()).total_seconds()) + 0.2)
    refused = pos_client.get("/v1/redemption_requests?status=open", headers=bearer(old["apiKey"]))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(new["apiKey"])).status_code == 200
    listed = pos_client.get("/v1/keys", headers=bearer(pos_client.live.merchant_key)).json()["data"]
    listed = {k["id"]: k for k in listed}
    assert listed[old["id"]]["status"] == "expired"


def test_rotate_withNoGrace_endsTheOldKeyAndItsTillSessionAtOnce(pos_client):
    old = new_key(pos_client, "cashier")
    assert pos_client.post("/v1/pos/session", json={"apiKey": old["apiKey"]}).status_code == 201
    assert pos_client.get("/v1/redemption_requests?status=open").status_code == 200
    resp = pos_client.post(f"/v1/keys/{old['id']}/rotate", json={"graceSeconds": 0},
                           headers=bearer(pos_client.live.merchant_key))
    assert resp.status_code == 201
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(old["apiKey"])).status_code == 401
    session = pos_client.get("/v1/redemption_requests?status=open")
    assert session.status_code == 401 and session.json()["error"]["code"] == "invalid_session"


def test_revoke_refusesTheKeyAtOnce_thoughItWasCached(pos_client):
    staff = new_key(pos_client, "manager")
    assert pos_client.get("/v1/keys", headers=bearer(staff["apiKey"])).status_code == 200  # cached now
    resp = pos_client.delete(f"/v1/keys/{staff['id']}", headers=bearer(pos_client.live.merchant_key))
    assert resp.status_code == 200 and resp.json()["status"] == "revoked"
    refused = pos_client.get("/v1/keys", headers=bearer(staff["apiKey"]))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    # revoking it again answers its state; a key of no merchant of this caller's is 404
    assert pos_client.delete(f"/v1/keys/{staff['id']}", headers=bearer(pos_client.live.merchant_key)).status_code == 200
    unknown = pos_client.delete("/v1/keys/key_00000000deadbeef", headers=bearer(pos_client.live.merchant_key))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "key_not_found"


def test_revoke_anotherMerchantsKey_is404_andLeavesItWorking(pos_client):
    live = pos_client.live
    other = live.rt.store.call(lambda s: create_key(s, name="Other shop", merchant_address=Account.create().address))
    resp = pos_client.delete(f"/v1/keys/{other.id}", headers=bearer(live.merchant_key))
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "key_not_found"
    assert pos_client.get("/v1/keys", headers=bearer(other.api_key)).status_code == 200
    assert other.id not in pos_client.get("/v1/keys", headers=bearer(live.merchant_key)).text


def test_revoke_theLastManagerKey_is409_andTheKeyKeepsWorking(pos_client):
    live = pos_client.live
    only = live.rt.store.call(lambda s: create_key(s, name="Only manager", merchant_address=Account.create().address))
    resp = pos_client.delete(f"/v1/keys/{only.id}", headers=bearer(only.api_key))
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "last_manager_key"
    assert pos_client.get("/v1/keys", headers=bearer(only.api_key)).status_code == 200


def test_revokedKeyFromAnotherProcess_isRefusedWithinTheCacheTime(pos_client):
    """The operator's `citypoints merchant revoke-key` writes the store only: this process's cache forgets the key
    within AUTH_CACHE_S."""
    live = pos_client.live
    staff = new_key(pos_client, "cashier")
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(staff["apiKey"])).status_code == 200
    live.rt.store.call(lambda s: setattr(s.get(ApiKey, staff["id"]), "revoked_at", dt.datetime.utcnow()))
    time.sleep(AUTH_CACHE_S + 0.2)
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(staff["apiKey"])).status_code == 401


def test_lastUsed_isKeptToTheMinute_withoutAWriteARequest(pos_client):
    live = pos_client.live
    staff = new_key(pos_client, "cashier")
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(staff["apiKey"])).status_code == 200
    used = live.rt.store.call(lambda s: s.get(ApiKey, staff["id"]).last_used_at)
    assert used is not None and abs((dt.datetime.utcnow() - used).total_seconds()) < 60
    listed = {k["id"]: k for k in pos_client.get("/v1/keys", headers=bearer(live.merchant_key)).json()["data"]}
    assert listed[staff["id"]]["lastUsedAt"] == used.isoformat() + "Z"
    # within the minute, further uses write nothing: a mark put in the store stays
    mark = dt.datetime(2026, 1, 1)
    live.rt.store.call(lambda s: setattr(s.get(ApiKey, staff["id"]), "last_used_at", mark))
    for _ in range(5):
        assert pos_client.get("/v1/redemption_requests?status=open",
                              headers=bearer(staff["apiKey"])).status_code == 200
    assert live.rt.store.call(lambda s: s.get(ApiKey, staff["id"]).last_used_at) == mark
    # a minute on (this process's note of the last write moved back), the next use is written
    live.rt.key_used[staff["id"]] -= 61
    assert pos_client.get("/v1/redemption_requests?status=open", headers=bearer(staff["apiKey"])).status_code == 200
    assert live.rt.store.call(lambda s: s.get(ApiKey, staff["id"]).last_used_at) > mark


def test_createKey_isIdempotent_andTheReplayShowsTheSameKey(pos_client):
    headers = {**bearer(pos_client.live.merchant_key), "Idempotency-Key": f"k-{time.monotonic_ns()}"}
    body = {"name": "Replay", "scope": "cashier"}
    first = pos_client.post("/v1/keys", json=body, headers=headers)
    second = pos_client.post("/v1/keys", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["apiKey"] == second.json()["apiKey"]
    assert second.headers.get("idempotent-replayed") == "true"
