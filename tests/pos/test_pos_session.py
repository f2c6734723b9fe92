"""The point-of-sale page's session (POST/GET/DELETE /v1/pos/session), on SQLite and PostgreSQL.

Given a merchant's API key, when the page signs in, then it holds an HttpOnly, SameSite=Strict cookie (never the
key), merchant endpoints accept the cookie, a change without the page's CSRF header is refused and changes
nothing, and a wrong key, an expired, signed-out or revoked session are 401 in the error shape.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time

import httpx
from sqlalchemy import func, select

from exchange_api.merchant_keys import revoke_key
from exchange_api.store.models import ApiKey, PosSession, RedemptionRequest

POS = {"X-CityPoints-POS": "1"}


def sign_in(client, key: str) -> httpx.Response:
    return client.post("/v1/pos/session", json={"apiKey": key})


def set_cookie(resp: httpx.Response) -> str:
    cookies = resp.headers.get_list("set-cookie")
    assert len(cookies) == 1, cookies
    return cookies[0]


def requests_stored(live) -> int:
    return live.rt.store.call(lambda s: s.scalar(select(func.count()).select_from(RedemptionRequest)))


def ask(client, resident: str, credits: int = 250, headers=POS) -> httpx.Response:
    return client.post("/v1/redemption_requests", headers=headers,
                       json={"resident": resident, "credits": credits, "orderRef": "Table 7 · 2 coffees"})


def test_signIn_withTheKey_setsAStrictHttpOnlyCookieAndNeverEchoesTheKey(pos_client, wallet_city):
    live = pos_client.live
    resp = sign_in(pos_client, live.merchant_key)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["merchant"]["address"] == wallet_city.merchant.address
    assert body["merchant"]["name"] == {"zh": "Museum shop", "en": "Museum shop"}  # no profile: the registered name
    expires = dt.datetime.fromisoformat(body["expiresAt"].removesuffix("Z"))
    assert abs((expires - dt.datetime.utcnow()).total_seconds() - 8 * 3600) < 60
    cookie = set_cookie(resp)
    attrs = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attrs and "samesite=strict" in attrs and "path=/" in attrs and "max-age=28800" in attrs
    assert "secure" not in attrs  # plain http on loopback: a Secure cookie would never come back
    token = cookie.split(";")[0].split("=", 1)[1]
    assert len(token) >= 40
    assert live.merchant_key not in resp.text and live.merchant_key not in cookie
    # stored only hashed, tied to the key
    rows = live.rt.store.call(lambda s: [(r.token_hash, r.key_id) for r in s.scalars(select(PosSession))])
    assert (hashlib.sha256(token.encode()).hexdigest(),) in [(h,) for h, _ in rows]
    assert not [h for h, _ in rows if token in h]
    # the page reloaded: the session says who it is for
    again = pos_client.get("/v1/pos/session")
    assert again.status_code == 200 and again.json()["merchant"]["address"] == wallet_city.merchant.address


def test_signIn_overHttps_marksTheCookieSecure(pos_client):
    rt = pos_client.live.rt
    before = rt.settings
    rt.replace_settings(before.model_copy(update={"public_url": "https://shop.example"}))
    try:
        resp = sign_in(pos_client, pos_client.live.merchant_key)
    finally:
        rt.replace_settings(before)
    assert resp.status_code == 201
    assert "secure" in [a.strip().lower() for a in set_cookie(resp).split(";")]


def test_signIn_withAWrongKey_is401InTheErrorShape_andIsRateLimited(pos_client):
    wrong = "cpk_" + "x" * 32
    resp = sign_in(pos_client, wrong)
    assert resp.status_code == 401
    err = resp.json()["error"]
    assert err["code"] == "invalid_api_key" and err["message"] and err["requestId"].startswith("req_")
    assert wrong not in resp.text and "set-cookie" not in resp.headers
    for _ in range(4):  # the fixture's limit: 5 failures a minute per address
        assert sign_in(pos_client, wrong).status_code == 401
    limited = sign_in(pos_client, pos_client.live.merchant_key)  # even the right key, until the minute passes
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "too_many_auth_failures"
    assert int(limited.headers["retry-after"]) >= 1 and "set-cookie" not in limited.headers
    # malformed bodies are 422 naming the field, without the input
    pos_client.live.app.state.auth_failures.clear()
    bad = pos_client.post("/v1/pos/session", json={"apiKey": "", "extra": 1})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_signIn_withAnAuditorKey_isRefused(pos_client):
    resp = sign_in(pos_client, pos_client.live.auditor_key)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "wrong_key_role"
    assert "set-cookie" not in resp.headers


def test_cookieSession_actsForTheMerchant_andChangesNeedTheCsrfHeader(pos_client, wallet_city):
    live = pos_client.live
    resident = wallet_city.residents[0].address
    assert sign_in(pos_client, live.merchant_key).status_code == 201
    made = ask(pos_client, resident)
    assert made.status_code == 201, made.text
    assert made.json()["orderLabel"] == "Table 7 · 2 coffees"
    # a cross-site form post: the cookie (had the browser sent it) but no custom header -> refused, nothing stored
    before = requests_stored(live)
    forged = ask(pos_client, resident, headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_header_missing"
    cancel = pos_client.post(f"/v1/redemption_requests/{made.json()['id']}/cancel")
    assert cancel.status_code == 403
    assert requests_stored(live) == before
    assert pos_client.get(f"/v1/redemption_requests/{made.json()['id']}").json()["status"] == "open"
    # reads need no header; the merchant's own open requests are listed, without the consent to sign
    listed = pos_client.get("/v1/redemption_requests", params={"status": "open"})
    assert listed.status_code == 200
    mine = [r for r in listed.json()["data"] if r["id"] == made.json()["id"]]
    assert mine and mine[0]["typedData"] is None
    assert pos_client.post(f"/v1/redemption_requests/{made.json()['id']}/cancel", headers=POS).json()["status"] \
        == "cancelled"
    # without any cookie or key, merchant endpoints stay closed
    with httpx.Client(base_url=live.url) as anonymous:
        resp = anonymous.get("/v1/redemption_requests")
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "missing_api_key"


def test_signedOutExpiredOrRevokedSession_is401(pos_client, wallet_city):
    live = pos_client.live
    resident = wallet_city.residents[1].address
    token = set_cookie(sign_in(pos_client, live.merchant_key)).split(";")[0].split("=", 1)[1]
    # signed out: the cookie is cleared, and the old token no longer works anywhere
    out = pos_client.delete("/v1/pos/session", headers=POS)
    assert out.status_code == 204
    assert "max-age=0" in set_cookie(out).lower() or "expires=" in set_cookie(out).lower()
    with httpx.Client(base_url=live.url, cookies={"citypoints_pos": token}) as stale:
        resp = stale.get("/v1/redemption_requests")
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_session"
        assert stale.get("/v1/pos/session").json()["error"]["code"] == "invalid_session"
    # expired
    token = set_cookie(sign_in(pos_client, live.merchant_key)).split(";")[0].split("=", 1)[1]
    assert ask(pos_client, resident).status_code == 201
    digest = hashlib.sha256(token.encode()).hexdigest()

    def expire(s):
        s.get(PosSession, digest).expires_at = dt.datetime.utcnow() - dt.timedelta(seconds=1)
    live.rt.store.call(expire)
    resp = ask(pos_client, resident)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_session"
    # the key revoked: its sessions end with it
    pos_client.cookies.clear()
    assert sign_in(pos_client, live.merchant_key).status_code == 201
    assert pos_client.get("/v1/redemption_requests").status_code == 200
    key_id = live.rt.store.call(lambda s: s.scalar(select(ApiKey.id).where(ApiKey.name == "Museum shop")))
    live.rt.store.call(lambda s: revoke_key(s, key_id))
    try:
        resp = pos_client.get("/v1/redemption_requests")
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_session"
    finally:
        live.rt.store.call(lambda s: setattr(s.get(ApiKey, key_id), "revoked_at", None))
        live.rt.auth_cache.clear()


def test_events_streamTheRequestsStatus_untilItEnds(pos_client, wallet_city):
    """GET /v1/redemption_requests/{id}/events: text/event-stream, `open` first, then the change, then the end."""
    live = pos_client.live
    assert sign_in(pos_client, live.merchant_key).status_code == 201
    made = ask(pos_client, wallet_city.residents[2].address, credits=120).json()
    seen: list[dict] = []

    def follow():
        with pos_client.stream("GET", f"/v1/redemption_requests/{made['id']}/events") as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in resp.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "status":
                    seen.append(json.loads(line[6:]))
    reader = threading.Thread(target=follow)
    reader.start()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen and seen[0]["status"] == "open" and seen[0]["orderLabel"] == "Table 7 · 2 coffees"
    assert pos_client.post(f"/v1/redemption_requests/{made['id']}/cancel", headers=POS).status_code == 200
    reader.join(10)
    assert not reader.is_alive(), "the stream did not end after the request was cancelled"
    assert [e["status"] for e in seen] == ["open", "cancelled"]
    # another merchant's or an unknown request: 404 before any stream
    missing = pos_client.get("/v1/redemption_requests/rrq_nothing/events")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "request_not_found"


def test_events_streamsPerKeyAreBounded_andFreedWhenTheyEnd(pos_client, wallet_city):
    live = pos_client.live
    rt = live.rt
    before = rt.settings
    rt.replace_settings(before.model_copy(update={"pos_streams_per_key": 1}))
    try:
        assert sign_in(pos_client, live.merchant_key).status_code == 201
        first = ask(pos_client, wallet_city.residents[0].address, credits=50).json()
        second = ask(pos_client, wallet_city.residents[1].address, credits=60).json()
        opened = threading.Event()

        def follow():
            with pos_client.stream("GET", f"/v1/redemption_requests/{first['id']}/events") as resp:
                for line in resp.iter_lines():
                    if line.startswith("data: "):
                        opened.set()
        reader = threading.Thread(target=follow)
        reader.start()
        assert opened.wait(10)
        refused = pos_client.get(f"/v1/redemption_requests/{second['id']}/events")
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["retry-after"]
        assert pos_client.post(f"/v1/redemption_requests/{first['id']}/cancel", headers=POS).status_code == 200
        reader.join(10)
        assert not reader.is_alive()
        # the ended stream gave its place back
        deadline = time.monotonic() + 5
        while True:
            with pos_client.stream("GET", f"/v1/redemption_requests/{second['id']}/events") as resp:
                if resp.status_code == 200 or time.monotonic() > deadline:
                    break
            time.sleep(0.05)
        assert resp.status_code == 200
        assert pos_client.post(f"/v1/redemption_requests/{second['id']}/cancel", headers=POS).status_code == 200
    finally:
        rt.replace_settings(before)
