"""Residents' reads and exchanges, onboarding, public and auditor reads, webhooks, health, limits, outages."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from exchange_api.store.models import ResidentRecord
from exchange_api.webhooks import SignatureError, sign, verify_signature
from ledger_node.deploy.system import call
from ledger_node.typed_data import sign as sign_typed

from .conftest import RATE_1, S1, S2, auth, wait_indexed


def test_balancesAndHistory_showWhoIssuedWhatAndWhy(api, w3, api_city):
    r = api_city.residents[0]
    bal = api.get(f"/v1/residents/{r.address}/balances").json()
    assert [(b["scheme"], b["points"], b["credits"]) for b in bal["balances"]] == [(S1, 500, 5000), (S2, 500, 16666)]
    assert bal["totalCreditsDecimal"] == "216.66"
    hist = api.get(f"/v1/residents/{r.address}/history", params={"limit": 1}).json()
    assert hist["has_more"] and len(hist["data"]) == 1
    rest = api.get(f"/v1/residents/{r.address}/history",
                   params={"starting_after": hist["data"][0]["id"]}).json()["data"]
    issued = {x["scheme"]: x for x in hist["data"] + rest if x["kind"] == "issued"}
    assert issued[S1]["by"] == api_city.issuer1.address and issued[S1]["reasonCode"] == 7
    assert issued[S2]["by"] == api_city.issuer2.address and issued[S2]["reasonCode"] is None
    for entry in hist["data"] + rest:  # when it happened: its block's time on chain
        assert entry["blockTimestamp"] == w3.eth.get_block(entry["blockNumber"])["timestamp"]
    assert api.get("/v1/residents/0xnothex/balances").status_code == 422


def test_exchange_quoteSignSubmit(api, w3, api_city):
    r = api_city.residents[1]
    q = api.post("/v1/exchange_quotes", json={"resident": r.address, "fromScheme": S1, "toScheme": S2,
                                              "points": 100})
    assert q.status_code == 200, q.text
    quote = q.json()
    assert quote["credits"] == 1000 and quote["received"] == 1000 * 10**6 // 33_333_333
    doc = quote["typedData"]
    body = {**doc["message"], "signature": "0x" + sign_typed(r, doc).hex()}
    done = api.post("/v1/exchanges", json=body)
    assert done.status_code == 201, done.text
    assert done.json()["received"] == quote["received"] and done.json()["status"] == "confirmed"
    again = api.post("/v1/exchanges", json=body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "consent_already_used"
    same = api.post("/v1/exchange_quotes", json={"resident": r.address, "fromScheme": S1, "toScheme": S1,
                                                 "points": 1})
    assert same.status_code == 422 and same.json()["error"]["code"] == "pair_not_allowed"


def test_exchange_twoOpenQuotes_eachHaveTheirOwnNonce_andGoThroughInEitherOrder(api, w3, api_city):
    """An exchange's nonce is a number (IExchange): each quote is handed the next one, so two quotes open at once
    (two tabs) never share one, and the later one may be used first."""
    r = api_city.residents[1]
    first_free = api_city.contracts["Exchange"].functions.nextNonce(r.address).call()
    quotes = [api.post("/v1/exchange_quotes", json={"resident": r.address, "fromScheme": S1, "toScheme": S2,
                                                    "points": 10}).json()["typedData"] for _ in range(2)]
    assert [int(q["message"]["nonce"], 16) for q in quotes] == [first_free, first_free + 1]
    for doc in reversed(quotes):
        done = api.post("/v1/exchanges", json={**doc["message"], "signature": "0x" + sign_typed(r, doc).hex()})
        assert done.status_code == 201 and done.json()["status"] == "confirmed", done.text
    assert api_city.contracts["Exchange"].functions.nextNonce(r.address).call() == first_free + 2


def test_onboarding_encryptsPersonalDataAndRefusesSecondAccount(api, w3, api_city, keys, live, funded_account):
    from eth_account import Account
    person = {"name": "Ada Example", "identityNumber": "X1234567", "phone": "+41 79 555 12 34"}
    a, b = Account.create(), Account.create()
    h = auth(keys["onboarding"])
    resp = api.post("/v1/onboarding/residents", json={"address": a.address, **person}, headers=h)
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "registered"
    assert api_city.contracts["Membership"].functions.isResident(a.address).call()
    twice = api.post("/v1/onboarding/residents", json={"address": b.address, **person, "identityNumber": "x-1234567"},
                     headers=h)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "identity_already_registered"
    bad = api.post("/v1/onboarding/residents", json={"address": b.address, **person, "phone": "call me maybe"},
                   headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "phone"
    assert "call me" not in bad.text and "Ada" not in twice.text
    assert api.post("/v1/onboarding/residents", json={"address": b.address, **person},
                    headers=auth(keys["merchant"])).status_code == 403
    with live.rt.store.session() as s:
        row = s.scalar(select(ResidentRecord).where(ResidentRecord.address == a.address))
        assert b"Ada" not in row.pii and b"X1234567" not in row.pii
    from exchange_api import crypto
    assert crypto.unseal(live.rt.pii_key, a.address, row.pii)["name"] == "Ada Example"
    ident = api_city.contracts["Membership"].functions.identityOf(a.address).call()
    assert "0x" + ident.hex() == resp.json()["identityHash"]


def test_publicReads_schemesRatesScheduledSupplyPeriodsStatements(api, w3, api_city, keys):
    h = auth(keys["merchant"])
    api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[2], 40), headers=h)
    consortium = api_city.contracts["Consortium"]
    from ledger_node.deploy.system import GovernanceError
    with pytest.raises(GovernanceError):  # queued: a rate change waits out its notice
        api_city.govern(w3, [call(api_city.contracts["Rates"], "setRate", S1, RATE_1 * 2)])
    wait_indexed(api, w3)
    schemes = {s["scheme"]: s for s in api.get("/v1/schemes").json()["data"]}
    assert schemes[S1]["rate"] == RATE_1 and schemes[S1]["status"] == "active"
    rates = api.get("/v1/rates").json()
    assert {"scheme": S1, "rate": RATE_1} in rates["inForce"]
    assert [(x["scheme"], x["rate"]) for x in rates["scheduled"]] == [(S1, RATE_1 * 2)]
    assert consortium.functions.proposalCount().call() == rates["scheduled"][0]["proposalId"]
    supply = {s["scheme"]: s for s in api.get("/v1/supply").json()["data"]}
    assert supply[S2]["totalSupply"] == 6 * 500
    assert api.get("/v1/periods").json()["data"][-1]["state"] == "open"
    all_ = api.get("/v1/statements", headers=auth(keys["auditor"])).json()["data"]
    mine = api.get("/v1/settlements", headers=h).json()["data"]
    assert any(s["merchant"] == api_city.merchant.address and s["amount"] == 40 for s in all_)
    assert sum(s["amount"] for s in mine) == 40 and all(s["settlement"] == "open" for s in mine)
    assert api.get("/v1/statements").status_code == 401


class Receiver:
    def __init__(self, fail_first: int = 0):
        self.events: list[tuple[bytes, dict]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(500)
                else:
                    outer.events.append((body, dict(self.headers)))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.events) >= n, f"{len(self.events)} webhook deliveries, wanted {n}"


def test_webhooks_signedRetriedAndVerifiable(api, w3, api_city, keys, local_webhooks):
    receiver = Receiver(fail_first=1)
    h = auth(keys["merchant2"])
    ep = api.post("/v1/webhook_endpoints", json={"url": receiver.url}, headers=h)
    assert ep.status_code == 201 and ep.json()["secret"].startswith("whsec_")
    secret = ep.json()["secret"]
    assert api.get("/v1/webhook_endpoints", headers=h).json()["data"][0]["secret"] is None
    red = api.post("/v1/redemptions", json={**api_city.consent(w3, api_city.residents[3], 30,
                                                               merchant=api_city.merchant2), "wait": False},
                   headers=h).json()
    receiver.wait(1)
    body, headers = receiver.events[0]
    event = verify_signature(body, headers["CityPoints-Signature"], secret)
    assert event["type"] == "redemption.confirmed" and event["data"]["object"]["id"] == red["id"]
    with pytest.raises(SignatureError):
        verify_signature(body + b" ", headers["CityPoints-Signature"], secret)
    with pytest.raises(SignatureError):
        verify_signature(body, sign(secret, body, int(time.time()) - 3600), secret)
    with pytest.raises(SignatureError):
        verify_signature(body, headers["CityPoints-Signature"], "whsec_other")
    assert api.delete(f"/v1/webhook_endpoints/{ep.json()['id']}", headers=h).status_code == 200
    assert api.delete(f"/v1/webhook_endpoints/{ep.json()['id']}", headers=h).status_code == 404
    receiver.server.shutdown()


def test_health_openapi_docs_metrics(api, live):
    assert api.get("/health/live").json() == {"status": "ok"}
    ready = api.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "node": "ok", "relayer": "ok"}
    spec = api.get("/openapi.json").json()
    ops = {o["operationId"] for p in spec["paths"].values() for o in p.values()}
    assert {"createRedemption", "getResidentBalances", "approveRedemptionRequest", "registerResident"} <= ops
    assert api.get("/docs").status_code == 200
    assert "citypoints_api_requests_total" in api.get("/metrics").text
    assert api.get("/v1/nothing").json()["error"]["code"] == "not_found"


def test_rateLimit_answers429PerKey(api, w3, api_city, keys, live):
    from exchange_api.merchant_keys import hash_key
    api.get("/v1/redemptions", headers=auth(keys["merchant"]))
    principal = live.rt.auth_cache[hash_key(keys["merchant"])][0]
    live.rt.buckets[principal.key_id].tokens = -1e9  # the key has spent its burst (and then some)
    resp = api.get("/v1/redemptions", headers=auth(keys["merchant"]))
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "rate_limited" and resp.headers["retry-after"]
    assert api.get("/v1/redemptions", headers=auth(keys["merchant2"])).status_code == 200


def test_outages_answer503AndRecover(api, w3, api_city, keys, live):
    from exchange_api.chain import ChainClient
    rt = live.rt
    real_chain_rpc = rt.chain.rpc
    dead = ChainClient("http://127.0.0.1:1", rt.chain.deployment)
    rt.chain.rpc = dead.rpc
    try:
        # redemptions admitted in the first second of an outage are persisted and delivered when the node is
        # back; once the relayer's tracker has not heard from the node for a second, they are refused
        time.sleep(1.2)
        resp = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[4], 5),
                        headers=auth(keys["merchant"]))
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "node_unavailable"
        assert api.get("/health/ready").status_code == 503
    finally:
        rt.chain.rpc = real_chain_rpc
    real_sessions = rt.store.sessions
    rt.store.sessions = sessionmaker(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                                   connect_args={"connect_timeout": 1}))
    try:
        resp = api.get(f"/v1/residents/{api_city.residents[4].address}/history")
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "database_unavailable"
    finally:
        rt.store.sessions = real_sessions
    ok = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[4], 5),
                  headers=auth(keys["merchant"]))
    assert ok.status_code == 201, ok.text
