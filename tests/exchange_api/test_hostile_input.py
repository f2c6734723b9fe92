"""The API under hostile input (issue 19): every integer at the edges of the type it takes on chain and in the
store, malformed signatures, oversized bodies, floods of wrong API keys. Each bad request gets its 4xx in the
error shape, and the store and the chain are as they were (rows counted, balances and head compared)."""
from __future__ import annotations

import json
import select as io_select
import socket
import time
import uuid

import pytest
from sqlalchemy import func, select

from exchange_api.request_limits import FailureLimiter, client_address, parse_networks
from exchange_api.services.common import SECP256K1_N
from exchange_api.services.redemptions import _used_before
from exchange_api.store.models import (ExchangeSubmission, IdempotencyRecord, Redemption, RedemptionRequest, Refund,
                                       RelayedTransaction)
from ledger_node.deploy.system import call
from ledger_node.domain import redemption_id
from ledger_node.typed_data import sign, typed_data

from .conftest import S1, S2, auth, wait_indexed

U64, U96, U256 = 2**64 - 1, 2**96 - 1, 2**256 - 1
TABLES = (Redemption, RedemptionRequest, Refund, ExchangeSubmission, RelayedTransaction, IdempotencyRecord)


@pytest.fixture
def hostile(api, live):
    """The client, with the failed-authentication limiter empty before and after (it counts per address, and
    every test here comes from 127.0.0.1)."""
    live.app.state.auth_failures.clear()
    yield api
    live.app.state.auth_failures.clear()


def snapshot(live, w3, api_city) -> dict:
    """What a refused request must not change: rows of every table a request writes, the chain's head, and the
    residents' points."""
    ledger = api_city.contracts["PointsLedger"]
    rows = live.rt.store.call(lambda s: {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                                         for m in TABLES})
    points = [ledger.functions.balanceOf(r.address, sch).call() for r in api_city.residents for sch in (S1, S2)]
    return {"rows": rows, "head": w3.eth.block_number, "points": points}


def assert_error(resp, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) <= {"code", "message", "requestId", "field"} and err["message"]
    assert err["requestId"] == resp.headers["x-request-id"]
    if code:
        assert err["code"] == code, err
    if field:
        assert err.get("field") == field, err
    return err


def intent(w3, api_city, resident, **over) -> dict:
    """A signed ExchangeIntent (eth-account); values beyond uint256 cannot be signed: then a valid signature of
    the in-range message goes with the out-of-range value."""
    nonce = api_city.contracts["Exchange"].functions.nextNonce(resident.address).call()
    msg = {"resident": resident.address, "fromScheme": S1, "toScheme": S2, "points": 10, "minReceived": 1,
           "nonce": "0x" + nonce.to_bytes(32, "big").hex(), "deadline": int(time.time()) + 3600}
    signable = {k: (v if not isinstance(v, int) or 0 <= v <= U256 else 1) for k, v in {**msg, **over}.items()}
    doc = typed_data("ExchangeIntent", w3.eth.chain_id, api_city.contracts["Exchange"].address, signable)
    return {**msg, **over, "signature": "0x" + sign(resident, doc).hex()}


# --- integers: 0, max, max + 1, negative, 2^256 ----------------------------------------------------------------

OUT_OF_RANGE = {  # field -> values refused by the API's own types (422 invalid_request naming the field)
    "consent.credits": [0, U96 + 1, -1, 2**256],
    "consent.deadline": [U64 + 1, -1, 2**256, U256],
    "request.credits": [0, U96 + 1, -1, 2**256],
    "request.expiresIn": [0, 7 * 86400 + 1, -1, 2**256],
    "refund.credits": [0, U96 + 1, -1, 2**256],
    "quote.fromScheme": [0, U256 + 1, -1, 2**256],
    "quote.toScheme": [0, U256 + 1, -1, 2**256],
    "quote.points": [0, U256 + 1, -1, 2**256],
    "quote.slippage": [10_001, -1, 2**256],
    "intent.fromScheme": [0, U256 + 1, -1, 2**256],
    "intent.toScheme": [0, U256 + 1, -1, 2**256],
    "intent.points": [0, U256 + 1, -1, 2**256],
    "intent.minReceived": [U256 + 1, -1, 2**256],
    "intent.deadline": [U64 + 1, -1, 2**256],
}


def test_integersOutOfTheirTypes_are422NamingTheField_andChangeNothing(hostile, w3, api_city, keys, live):
    api, r, h = hostile, api_city.residents[0], auth(keys["merchant"])
    before = snapshot(live, w3, api_city)
    for name, values in OUT_OF_RANGE.items():
        kind, field = name.split(".")
        for value in values:
            key = {"Idempotency-Key": uuid.uuid4().hex}  # a refused request keeps its key's answer, nothing else
            if kind == "consent":
                body = {**api_city.consent(w3, r, 5), field: value}
                resp = api.post("/v1/redemptions", json=body, headers={**h, **key})
            elif kind == "request":
                body = {"resident": r.address, "credits": 5, "orderRef": "order-1", field: value}
                resp = api.post("/v1/redemption_requests", json=body, headers={**h, **key})
            elif kind == "refund":
                resp = api.post(f"/v1/redemptions/0x{'ab' * 32}/refunds", json={"credits": value}, headers=h)
            elif kind == "quote":
                body = {"resident": r.address, "fromScheme": S1, "toScheme": S2, "points": 10, field: value}
                resp = api.post("/v1/exchange_quotes", json=body)
            else:
                resp = api.post("/v1/exchanges", json=intent(w3, api_city, r, **{field: value}))
            assert_error(resp, 422, "invalid_request", field)
    for path, params, field in [("/v1/redemptions", {"limit": 0}, "limit"),
                                ("/v1/redemptions", {"limit": 101}, "limit"),
                                ("/v1/redemptions", {"limit": 2**256}, "limit"),
                                ("/v1/settlements", {"period": 2**63}, "period"),
                                ("/v1/settlements", {"period": -1}, "period"),
                                ("/v1/settlements", {"period": 2**256}, "period")]:
        assert_error(api.get(path, params=params, headers=h), 422, "invalid_request", field)
    assert api.get("/v1/settlements", params={"period": 2**63 - 1}, headers=h).status_code == 200
    # the idempotency records of the refused requests are their answers (replayed on retry): nothing else
    after = snapshot(live, w3, api_city)
    assert after["head"] == before["head"] and after["points"] == before["points"]
    assert {k: v for k, v in after["rows"].items() if k != "idempotency_keys"} == \
        {k: v for k, v in before["rows"].items() if k != "idempotency_keys"}


def test_deadlineAtUint64Max_isTakenByTheChain_andStoredExactly(hostile, w3, api_city, keys, live):
    """The issue's 500 (SQLite integer overflow): 2^64 is refused above; 2^64 - 1 is a deadline the contract
    takes, so it is redeemed, and the store gives it back exactly (SQLite and PostgreSQL)."""
    r = api_city.residents[1]
    resp = hostile.post("/v1/redemptions", json=api_city.consent(w3, r, 25, deadline=U64),
                        headers=auth(keys["merchant"]))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["deadline"] == U64 and body["status"] == "confirmed"
    got = hostile.get(f"/v1/redemptions/{body['id']}", headers=auth(keys["merchant"])).json()
    assert got["deadline"] == U64
    sent = live.rt.store.call(lambda s: s.scalar(select(RelayedTransaction.deadline).where(
        RelayedTransaction.subject_id == body["id"])))
    assert sent == U64


@pytest.mark.parametrize("credits", [2**95, U96])
def test_requestForCreditsTheContractTakes_is201_andStoredExactly(hostile, w3, api_city, keys, live, credits):
    """The issue's 500 (the store's 64-bit integer): uint96 credits are what Redemption takes, so a request for
    them is created (the resident's points decide later)."""
    resp = hostile.post("/v1/redemption_requests", json={"resident": api_city.residents[0].address,
                                                         "credits": credits, "orderRef": "big-order"},
                        headers=auth(keys["merchant"]))
    assert resp.status_code == 201, resp.text
    assert resp.json()["credits"] == credits
    # nobody holds that much: no plan, so nothing to sign, and the reason in the error vocabulary
    assert resp.json()["typedData"] is None and resp.json()["planError"]["code"] == "insufficient_credits"
    stored = live.rt.store.call(lambda s: s.scalar(select(RedemptionRequest.credits).where(
        RedemptionRequest.id == resp.json()["id"])))
    assert stored == credits and isinstance(stored, int)


def test_integersAtTheirMaximum_areAnsweredByTheContractsRules_never5xx(hostile, w3, api_city, keys, live):
    """In range but more than anyone holds: the chain's own answers (422 insufficient credits, scheme without a
    rate), in the error shape, nothing stored nor sent."""
    api, r, h = hostile, api_city.residents[2], auth(keys["merchant"])
    before = snapshot(live, w3, api_city)
    assert_error(api.post("/v1/redemptions", json=api_city.consent(w3, r, U96), headers=h), 422,
                 "insufficient_credits")
    # a deadline of 0 is in range and long past: the contract's ResidentSignatureExpired, before anything is sent
    assert_error(api.post("/v1/redemptions", json=api_city.consent(w3, r, 5, deadline=0), headers=h), 422,
                 "consent_expired", "deadline")
    assert_error(api.post("/v1/exchanges", json=intent(w3, api_city, r, deadline=0)), 422, "consent_expired",
                 "deadline")
    assert_error(api.post(f"/v1/redemptions/0x{'cd' * 32}/refunds", json={"credits": U96}, headers=h), 404,
                 "redemption_not_found")
    for body in ({"fromScheme": U256}, {"toScheme": U256}, {"points": U256}):
        resp = api.post("/v1/exchange_quotes", json={"resident": r.address, "fromScheme": S1, "toScheme": S2,
                                                     "points": 10, **body})
        assert 400 <= resp.status_code < 500, resp.text
        assert_error(resp, resp.status_code)
    for over in ({"points": U256}, {"minReceived": U256}, {"fromScheme": U256}):
        resp = api.post("/v1/exchanges", json=intent(w3, api_city, r, **over))
        assert 400 <= resp.status_code < 500, resp.text
        assert_error(resp, resp.status_code)
    for nonce in (0, U64 + 1, U256):  # an exchange's nonce is a number from 1 to 2**64-1 (IExchange), signed
        numbered = intent(w3, api_city, r, nonce="0x" + nonce.to_bytes(32, "big").hex())
        assert_error(api.post("/v1/exchanges", json=numbered), 422, "invalid_nonce")
    assert snapshot(live, w3, api_city) == before


# --- signatures as the contract's ECDSA takes them ---------------------------------------------------------------

def _malformed(sig: bytes) -> dict[str, str]:
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # the same signer, the malleable twin
    return {"high-s": high_s.hex(), "v=29": (sig[:64] + bytes([29])).hex(), "v=0/1": (sig[:64] + bytes([v - 27])).hex(),
            "64 bytes (EIP-2098)": sig[:64].hex(), "r=0": (bytes(32) + sig[32:]).hex()}


def test_malformedSignatures_areRefusedAsTheContractRefusesThem_andChangeNothing(hostile, w3, api_city, keys, live):
    """A high-s twin or a v of 0/1 recovers the resident's address off chain, and the contract's ECDSA refuses
    it: the API refuses it too (before: accepted, then failed on chain)."""
    api, r, h = hostile, api_city.residents[3], auth(keys["merchant"])
    before = snapshot(live, w3, api_city)
    consent = api_city.consent(w3, r, 5)
    good = bytes.fromhex(consent["signature"][2:])
    for name, sig in _malformed(good).items():
        resp = api.post("/v1/redemptions", json={**consent, "signature": "0x" + sig}, headers=h)
        err = assert_error(resp, 422, field="signature")
        assert err["code"] == ("invalid_request" if len(sig) == 128 else "invalid_signature"), (name, err)
        ex = intent(w3, api_city, r)
        resp = api.post("/v1/exchanges", json={**ex, "signature": "0x" + _malformed(
            bytes.fromhex(ex["signature"][2:]))[name]})
        assert_error(resp, 422, field="signature")
    req = api.post("/v1/redemption_requests", json={"resident": r.address, "credits": 5, "orderRef": "sig-test"},
                   headers=h).json()
    sig = sign(r, req["typedData"])
    for name, bad in _malformed(sig).items():
        resp = api.post(f"/v1/redemption_requests/{req['id']}/approve",
                        json={"signature": "0x" + bad, "parts": req["typedData"]["message"]["parts"]})
        assert_error(resp, 422, field="signature")
    after = snapshot(live, w3, api_city)
    after["rows"]["redemption_requests"] -= 1  # the request made above
    assert after == before
    # the well-formed signature still goes through
    assert api.post("/v1/redemptions", json=consent, headers=h).status_code == 201


def test_pausedLedger_isRefusedBeforeAnythingIsSent(hostile, w3, api_city, keys, live):
    """pauseAll: the contract refuses every burn; the admission from the indexed view refuses too (before, it
    admitted and relayed a redemption the chain then failed)."""
    api_city.govern(w3, [call(api_city.contracts["PointsLedger"], "pauseAll")])
    wait_indexed(hostile, w3)
    before = snapshot(live, w3, api_city)
    resp = hostile.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[4], 5),
                        headers=auth(keys["merchant"]))
    assert_error(resp, 503, "ledger_paused")
    assert snapshot(live, w3, api_city) == before


def test_consentWhoseNonceWasSpentOnChain_isRefusedBeforeAnythingIsSent(hostile, w3, api_city, keys, live):
    """A consent the merchant redeemed on chain itself (outside this service): the indexed chain shows its
    nonce spent, so the API answers 409 without relaying a transaction the chain would fail."""
    from ledger_node import chain
    r = api_city.residents[5]
    consent = api_city.consent(w3, r, 5)
    red = api_city.contracts["Redemption"]
    chain.transact(w3, api_city.merchant, red.functions.redeem(*api_city.redeem_args(consent)))
    wait_indexed(hostile, w3)
    before = snapshot(live, w3, api_city)
    assert_error(hostile.post("/v1/redemptions", json=consent, headers=auth(keys["merchant"])), 409,
                 "consent_already_used")
    assert snapshot(live, w3, api_city) == before
    # the relayer checks a whole batch in one read: the spent consent is refused, the fresh one beside it is not
    fresh = api_city.consent(w3, api_city.residents[4], 5)
    batch = [(c["resident"], redemption_id(c["resident"], bytes.fromhex(c["nonce"][2:])), c["nonce"].lower())
             for c in (fresh, consent, fresh)]
    # the relayer's memory of spent intents sends only the spent one to the store
    assert live.rt.spent.ready and [live.rt.spent.possible(rid) for _, rid, _ in batch] == [False, True, False]
    refusals = live.rt.store.call(lambda s: _used_before(s, [(*item, None) for item in batch]))
    assert [type(x).__name__ for x in refusals] == ["NoneType", "Conflict", "NoneType"]
    assert refusals[1].code == "consent_already_used"


# --- bodies ------------------------------------------------------------------------------------------------------

def _raw(live, head: bytes, body_parts, timeout: float = 10.0, first_wait: float = 0.0):
    """Send `head`, wait up to `first_wait` s for an answer, then send the body parts over the same socket until
    the server answers (or stops reading). Returns (status, headers, body, bytes of body sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", live.settings.port), timeout=timeout) as sock:
        sock.sendall(head)
        io_select.select([sock], [], [], first_wait)
        for part in body_parts:
            if io_select.select([sock], [], [], 0)[0]:
                break  # the answer is there
            try:
                sock.settimeout(2.0)
                sock.sendall(part)
                sent += len(part)
            except (ConnectionError, socket.timeout):
                break
        sock.settimeout(timeout)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            try:
                chunk = sock.recv(65536)
            except ConnectionError:
                break
            if not chunk:
                break
            data += chunk
    head_text, _, body = data.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, body, sent


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_bodyOverTheLimit_is413BeforeItIsRead(hostile, live, keys):
    """20 MiB declared: answered 413 before a byte of it is sent (before: read whole, then 422)."""
    size = 20 * 1024 * 1024
    head = (f"POST /v1/redemptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {keys['merchant']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode()
    chunk = b" " * 65536
    t0 = time.monotonic()
    status, headers, body, sent = _raw(live, head, [chunk] * (size // len(chunk)), first_wait=5.0)
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"
    assert json.loads(body)["error"]["requestId"] == headers["x-request-id"]
    assert sent == 0 and time.monotonic() - t0 < 5
    # no Content-Length (chunked): cut once the bytes received pass 1 MiB (what loopback buffers took counts
    # as sent here)
    head = (b"POST /v1/redemptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    status, _, body, sent = _raw(live, head, [framed] * 320)  # 20 MiB offered
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"
    assert sent < 8 * 1024 * 1024
    # under the limit: read and answered as usual (here 422: not a consent)
    small = hostile.post("/v1/redemptions", json={"padding": "x" * 500_000}, headers=auth(keys["merchant"]))
    assert_error(small, 422, "invalid_request")
    assert hostile.get("/health/live").status_code == 200  # the service answers the next request


# --- failed authentication ---------------------------------------------------------------------------------------

def test_wrongApiKeys_fromOneAddress_are429AfterTen_evenWithForwardedForHeaders(hostile, live, keys):
    """400 random keys from one address: 10 answered 401, then 429 with Retry-After, and no X-Forwarded-For
    the client writes gives it a fresh bucket (no proxy is trusted by default). A good key from that address
    waits too (the address is what is limited); another limiter state shows it is per address."""
    codes = []
    for i in range(400):
        resp = hostile.get("/v1/redemptions", headers={**auth(f"cpk_{uuid.uuid4().hex}"),
                                                       "X-Forwarded-For": f"203.0.113.{i % 250}"})
        codes.append(resp.status_code)
        if resp.status_code == 429:
            assert_error(resp, 429, "too_many_auth_failures")
            assert 1 <= int(resp.headers["retry-after"]) <= 60
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    assert hostile.get("/v1/redemptions", headers=auth(keys["merchant"])).status_code == 429
    assert hostile.get("/health/live").status_code == 200  # unauthenticated calls are not refused
    live.app.state.auth_failures.clear()
    assert hostile.get("/v1/redemptions", headers=auth(keys["merchant"])).status_code == 200


def test_trueOrFalseForANumber_is422NamingTheField(hostile, keys, live):
    """Found by schemathesis on PostgreSQL: `"credits": true` was taken as 1 credit cent (pydantic's lax mode)."""
    h = auth(keys["merchant"])
    for field, value in (("credits", True), ("credits", False), ("expiresIn", True)):
        body = {"resident": "0x" + "11" * 20, "credits": 5, "orderRef": "order-bool", field: value}
        assert_error(hostile.post("/v1/redemption_requests", json=body, headers=h), 422, "invalid_request", field)


def test_nulCharacters_are422_neverAStoreError(hostile, keys, live):
    """Found by schemathesis on PostgreSQL (which keeps no NUL in text): a cursor holding %00 was a 500."""
    h = auth(keys["merchant"])
    assert_error(hostile.get("/v1/redemptions?starting_after=rdm_%00x", headers=h), 422, "invalid_request")
    assert_error(hostile.get("/v1/redemption_requests/rrq_%00", headers=h), 422, "invalid_request")
    resp = hostile.post("/v1/redemption_requests", headers=h,
                        json={"resident": "0x" + "11" * 20, "credits": 5, "orderRef": "nul\u0000ref"})
    assert resp.status_code < 500, resp.text


def test_cursors_areBoundedIdsOfTheirList_neverAStoreError(hostile, keys, live, api_city):
    """A list's `starting_after` is an id of that list: a cursor whose numbers overflow the store's 64-bit integers
    (SQLite raised OverflowError: a 500), one of 10,000 characters, or one with characters no id has is refused."""
    h = auth(keys["merchant"])
    resident = api_city.residents[0].address
    huge = "act_" + "9" * 30 + "_1_1"
    assert_error(hostile.get(f"/v1/residents/{resident}/history?starting_after={huge}"), 404, "invalid_cursor")
    assert_error(hostile.get(f"/v1/residents/{resident}/history?starting_after=act_-1_1_1"), 422, "invalid_request")
    for path in ("/v1/redemptions", "/v1/redemption_requests", f"/v1/residents/{resident}/history"):
        for cursor in ("rdm_" + "a" * 10_000, "rdm_a%27%20OR%201=1", "../x"):
            assert_error(hostile.get(f"{path}?starting_after={cursor}", headers=h), 422, "invalid_request")
    assert hostile.get(f"/v1/residents/{resident}/history?starting_after=act_1_2_0").status_code == 200


def test_failureLimiter_isBoundedInMemory_andForgetsAfterItsWindow():
    limiter = FailureLimiter(per_window=3, max_sources=16, window_s=0.3)
    for i in range(10_000):  # a flood of addresses: at most 16 remembered
        limiter.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(limiter) == 16
    for _ in range(3):
        limiter.failed("198.51.100.7")
    assert limiter.retry_after("198.51.100.7") is not None and limiter.retry_after("198.51.100.8") is None
    time.sleep(0.35)
    assert limiter.retry_after("198.51.100.7") is None


def test_rateLimitBuckets_areBoundedInMemory_andKeepTheBusiestKeys(live, monkeypatch):
    """Calls without a key are limited per address: a flood of addresses keeps at most MAX_BUCKETS buckets, and a
    key still in use keeps its own (its spent tokens are not handed back by the eviction)."""
    rt = live.rt
    monkeypatch.setattr(rt.buckets, "max_buckets", 8)
    busy = "test:busy-key"
    burst = rt.settings.rate_limit_burst
    for _ in range(10 * burst):  # spend its burst (it refills meanwhile at the configured rate)
        if rt.allow(busy) is not None:
            break
    spent = rt.buckets[busy]
    try:
        for i in range(200):
            rt.allow(f"test:ip-{i}")
            rt.allow(busy)
            assert rt.buckets.get(busy) is spent  # used all along: never evicted, so its tokens are not refilled
            assert len(rt.buckets) <= 8
        assert spent.tokens < burst / 2
    finally:
        for key in [k for k in rt.buckets if k.startswith("test:")]:
            del rt.buckets[key]


def test_forwardedFor_isBelievedOnlyFromTrustedProxies():
    scope = lambda peer, xff: {"client": (peer, 5000), "headers": [(b"x-forwarded-for", xff.encode())]}  # noqa: E731
    none = parse_networks("")
    proxies = parse_networks("10.0.0.5, 192.168.0.0/24")
    # no proxy configured: whatever the client writes, its connection's address
    assert client_address(scope("198.51.100.9", "1.2.3.4"), none) == "198.51.100.9"
    # a client that is not a proxy cannot name itself another address
    assert client_address(scope("198.51.100.9", "1.2.3.4"), proxies) == "198.51.100.9"
    # through a trusted proxy: the right-most address it did not add itself; entries the client wrote (left)
    # prove nothing
    assert client_address(scope("10.0.0.5", "1.2.3.4, 198.51.100.9"), proxies) == "198.51.100.9"
    assert client_address(scope("10.0.0.5", "1.2.3.4, 198.51.100.9, 192.168.0.7"), proxies) == "198.51.100.9"
    assert client_address(scope("10.0.0.5", "not-an-address"), proxies) == "10.0.0.5"


# --- pages and headers -------------------------------------------------------------------------------------------

def test_pagesSendSecurityHeaders_andDocsLoadWithoutTheInternet(hostile):
    docs = hostile.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert "http://" not in docs.text and "https://" not in docs.text  # no CDN: every asset from this service
    for asset in ("/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"):
        got = hostile.get(asset)
        assert got.status_code == 200 and len(got.content) > 50, asset
    assert hostile.get("/docs/../../package.json").status_code == 404
    pages = [docs, hostile.get("/v1/schemes"), hostile.get("/nothing-here")]
    wallet = hostile.get("/wallet/")
    if wallet.status_code == 200:  # built (make wallet)
        assert "<script>" not in wallet.text  # no inline script for the policy to allow
        pages.append(wallet)
        assert "script-src 'self';" in wallet.headers["content-security-policy"]
    for page in pages:
        csp = page.headers["content-security-policy"]
        script = next((d for d in csp.split(";") if d.strip().startswith("script-src")), "")
        assert "unsafe-inline" not in script and "frame-ancestors 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("parts, code, field", [
    ([(S1, 1, 4)], "invalid_plan", "parts"),                                 # pays 4 of the 5 cents signed
    ([(S1, 1, 3), (S1, 1, 2)], "invalid_plan", "parts"),                     # a scheme named twice
    ([(S1, 0, 1)] * 0, "invalid_request", "parts"),                          # no part at all
    ([(S1 + k, 0, 1) for k in range(17)], "invalid_request", None),              # 17 parts: more than MAX_PARTS
    ([(S1, 2**96, 5)], "invalid_request", None),                             # points beyond uint96
    ([(0, 1, 5)], "invalid_request", None),                                  # scheme 0
    ([(S1, 1, 0), (S2, 1, 5)], "invalid_request", None),                     # a part paying nothing
])
def test_signedConsentWithAPlanTheContractRefuses_is422BeforeAnythingIsSent(hostile, w3, api_city, keys, live,
                                                                             parts, code, field):
    """Validly signed by the resident, but a plan Redemption would refuse (issue 27): the API refuses it in the
    error shape, naming the plan, before the signature check, the store or the chain see it."""
    before = snapshot(live, w3, api_city)
    consent = api_city.consent(w3, api_city.residents[4], 5, parts=parts)
    err = assert_error(hostile.post("/v1/redemptions", json=consent, headers=auth(keys["merchant"])), 422, code)
    assert (err.get("field") or "").startswith(field or "parts"), err
    assert snapshot(live, w3, api_city) == before
