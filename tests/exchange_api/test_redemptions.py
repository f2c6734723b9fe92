"""Redemptions over HTTP: consents, requests approved by signature, refunds, errors, isolation, idempotency."""
from __future__ import annotations

import os
import time

import pytest

from ledger_node import chain
from ledger_node.deploy.system import call
from ledger_node.redemption_plan import Holding, holdings_on_chain, plan
from ledger_node.typed_data import sign, typed_data

from .conftest import RATE_1, S1, S2, auth, resident_token, wait_indexed


def test_createRedemption_confirmsAndBurnsPoints(api, w3, api_city, keys):
    r0 = api_city.residents[0]
    resp = api.post("/v1/redemptions", json=api_city.consent(w3, r0, 1234), headers=auth(keys["merchant"]))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "confirmed" and body["credits"] == 1234 and body["creditsDecimal"] == "12.34"
    assert sum(p["credits"] for p in body["parts"]) == 1234
    assert resp.headers["x-request-id"].startswith("req_")
    got = api.get(f"/v1/redemptions/{body['id']}", headers=auth(keys["merchant"])).json()
    assert got["status"] == "confirmed" and got["blockNumber"] == body["blockNumber"]
    wait_indexed(api, w3)
    bal = api.get(f"/v1/residents/{r0.address}/balances").json()
    # exact change: the value taken is the price; what the points burned are worth beyond it is kept as change
    assert bal["totalCredits"] == START_CREDITS - 1234
    assert body["value"] - body["change"] == 1234 * 10**6
    assert all(p["value"] - p["change"] == p["credits"] * 10**6 for p in body["parts"])
    assert bal["balances"][0]["scheme"] == S1 and bal["balances"][0]["points"] == 500 - body["parts"][0]["points"]


START_CREDITS = 500 * 10 + 500 * 33_333_333 // 10**6  # 5000 + 16666


@pytest.mark.parametrize("admission", ["indexed", "simulated"])
def test_createRedemption_pendingRedemptionsHoldTheirCredits_soAnOverdrawIsRefusedAtOnce(api, w3, api_city, keys,
                                                                                       live, admission, monkeypatch):
    """Redemptions sent before their block is mined: a later one may not spend the credits an earlier one holds
    (the chain's state shows neither yet, so a simulation alone would pass both and the chain would fail one).
    Admission runs from the indexed view when it is current, else by simulation (here: the node's head not heard
    from lately); the holds apply to both."""
    r, h = api_city.residents[2], auth(keys["merchant"])
    wait_indexed(api, w3)
    if admission == "simulated":
        monkeypatch.setattr(live.rt.relayer, "current_head", lambda: None)
    # the indexed balance is the chain's (an earlier test's reverted blocks may still be being unwound: wait_indexed
    # sees the cursor, not the rebuild it triggers)
    total = api_city.contracts["Redemption"].functions.availableCredits(r.address).call()
    deadline = time.monotonic() + 20
    while api.get(f"/v1/residents/{r.address}/balances").json()["totalCredits"] != total:
        assert time.monotonic() < deadline, "the indexed balance never reached the chain's"
        time.sleep(0.05)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        consent = api_city.consent(w3, r, total - 50)
        first = api.post("/v1/redemptions", json={**consent, "wait": False}, headers=h)
        assert first.status_code == 202, first.text
        over = api.post("/v1/redemptions", json={**api_city.consent(w3, r, 60), "wait": False}, headers=h)
        assert over.status_code == 422 and over.json()["error"]["code"] == "insufficient_credits"
        assert "worth 50 credits" in over.json()["error"]["message"]  # exactly what the first leaves
        # the next plan leaves the first's points aside (the chain shows neither yet)
        spent = {p["scheme"]: p["points"] for p in consent["parts"]}
        c = api_city.contracts
        left = [Holding(x.scheme, x.points - spent.get(x.scheme, 0), x.change, x.rate)
                for x in holdings_on_chain(c["PointsLedger"], c["Rates"], c["Redemption"], r.address)]
        parts = [p.as_tuple() for p in plan(15, left)]
        rest = api.post("/v1/redemptions", json={**api_city.consent(w3, r, 15, parts=parts), "wait": False},
                        headers=h)
        assert rest.status_code == 202, rest.text
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        w3.provider.make_request("evm_mine", [])
    for body in (first.json(), rest.json()):
        deadline = time.monotonic() + 20
        while api.get(f"/v1/redemptions/{body['id']}", headers=h).json()["status"] != "confirmed":
            assert time.monotonic() < deadline, "not confirmed"
            time.sleep(0.05)
    wait_indexed(api, w3)
    # the holds went with the indexed burns: what the wallet shows is what the chain holds
    assert live.rt.holds.held(r.address) == (0, 0)
    on_chain = api_city.contracts["Redemption"].functions.availableCredits(r.address).call()
    assert api.get(f"/v1/residents/{r.address}/balances").json()["totalCredits"] == on_chain


def test_createRedemption_pendingAtOnceWhenAsked(api, w3, api_city, keys):
    r = api_city.residents[1]
    resp = api.post("/v1/redemptions", json={**api_city.consent(w3, r, 100), "wait": False},
                    headers=auth(keys["merchant"]))
    assert resp.status_code == 202 and resp.json()["status"] == "pending"
    resp2 = api.post("/v1/redemptions", json=api_city.consent(w3, r, 100),
                     headers=auth(keys["merchant"], Prefer="respond-async"))
    assert resp2.status_code == 202 and resp2.json()["status"] == "pending"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if api.get(f"/v1/redemptions/{resp2.json()['id']}", headers=auth(keys["merchant"])).json()["status"] \
                == "confirmed":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("not confirmed")


def test_createRedemption_errorsHaveStableCodesAndChangeNothing(api, w3, api_city, keys):
    r = api_city.residents[2]
    h = auth(keys["merchant"])
    cases = [
        (api_city.consent(w3, r, 10**9), 422, "insufficient_credits"),
        (api_city.consent(w3, r, 5, deadline=int(time.time()) - 10), 422, "consent_expired"),
        (api_city.consent(w3, r, 5, signer=api_city.residents[3]), 422, "invalid_signature"),
        (api_city.consent(w3, r, 5, merchant=api_city.merchant2), 403, "merchant_mismatch"),
        ({**api_city.consent(w3, r, 5), "credits": -1}, 422, "invalid_request"),
        ({**api_city.consent(w3, r, 5), "resident": "0x123"}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        resp = api.post("/v1/redemptions", json=body, headers=h)
        assert resp.status_code == status, (code, resp.text)
        err = resp.json()["error"]
        assert err["code"] == code and err["requestId"] == resp.headers["x-request-id"]
    assert api.post("/v1/redemptions", json={**api_city.consent(w3, r, 5), "credits": -1},
                    headers=h).json()["error"]["field"] == "credits"
    assert api.post("/v1/redemptions", content=b"{not json", headers={**h, "Content-Type": "application/json"}
                    ).status_code == 400
    assert api.get("/v1/redemptions", headers=h, params={"status": "failed"}).json()["data"] == []
    used = api_city.consent(w3, r, 7)
    assert api.post("/v1/redemptions", json=used, headers=h).status_code == 201
    again = api.post("/v1/redemptions", json=used, headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "consent_already_used"


def test_createRedemption_suspendedMerchantIsRefused(api, w3, api_city, keys):
    from ledger_node.deploy.system import call
    api_city.govern(w3, [call(api_city.contracts["Membership"], "setMerchantSuspended", api_city.merchant.address,
                              True)])
    wait_indexed(api, w3)  # admission reads the chain as indexed (see exchange_api/README.md)
    resp = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[0], 5),
                    headers=auth(keys["merchant"]))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "merchant_not_active"


def test_auth_missingBadRevokedAndWrongRole(api, w3, api_city, keys, live):
    consent = api_city.consent(w3, api_city.residents[0], 5)
    assert api.post("/v1/redemptions", json=consent).json()["error"]["code"] == "missing_api_key"
    assert api.post("/v1/redemptions", json=consent, headers=auth("cpk_nope_nope_nope_nope")).status_code == 401
    wrong = api.post("/v1/redemptions", json=consent, headers=auth(keys["auditor"]))
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_key_role"
    from exchange_api.merchant_keys import create_key, revoke_key
    with live.rt.store.session() as s:
        k = create_key(s, name="temp", merchant_address=api_city.merchant.address)
    with live.rt.store.session() as s:
        assert revoke_key(s, k.id)
    assert api.get("/v1/redemptions", headers=auth(k.api_key)).json()["error"]["code"] == "invalid_api_key"


def test_merchants_seeOnlyTheirOwnData(api, w3, api_city, keys):
    body = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[0], 50),
                    headers=auth(keys["merchant"])).json()
    other = auth(keys["merchant2"])
    assert api.get(f"/v1/redemptions/{body['id']}", headers=other).status_code == 404
    assert all(x["id"] != body["id"] for x in api.get("/v1/redemptions", headers=other).json()["data"])
    refund = api.post(f"/v1/redemptions/{body['id']}/refunds", json={"credits": 1}, headers=other)
    assert refund.status_code == 404
    wait_indexed(api, w3)
    mine = api.get("/v1/settlements", headers=auth(keys["merchant"])).json()["data"]
    theirs = api.get("/v1/settlements", headers=other).json()["data"]
    assert sum(s["amount"] for s in mine) >= 50 and all(s["merchant"] == api_city.merchant2.address for s in theirs)


def test_listRedemptions_paginatesByCursor(api, w3, api_city, keys):
    h = auth(keys["merchant2"])
    ids = [api.post("/v1/redemptions", json={**api_city.consent(w3, api_city.residents[4], 3 + i,
                                                                merchant=api_city.merchant2), "wait": False},
                    headers=h).json()["id"] for i in range(3)]
    first = api.get("/v1/redemptions", params={"limit": 2}, headers=h).json()
    assert first["has_more"] and [x["id"] for x in first["data"]] == ids[::-1][:2]
    rest = api.get("/v1/redemptions", params={"limit": 2, "starting_after": first["data"][-1]["id"]},
                   headers=h).json()
    assert rest["data"][0]["id"] == ids[0]
    bad = api.get("/v1/redemptions", params={"starting_after": "0x" + "ab" * 32}, headers=h)
    assert bad.status_code == 404 and bad.json()["error"]["code"] == "invalid_cursor"


def test_idempotencyKey_replaysSameAnswerAndRefusesOtherBody(api, w3, api_city, keys):
    h = auth(keys["merchant"], **{"Idempotency-Key": "order-991"})
    consent = api_city.consent(w3, api_city.residents[5], 20)
    a = api.post("/v1/redemptions", json=consent, headers=h)
    b = api.post("/v1/redemptions", json=consent, headers=h)
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert b.headers.get("idempotent-replayed") == "true"
    c = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[5], 21), headers=h)
    assert c.status_code == 409 and c.json()["error"]["code"] == "idempotency_key_reused"
    failed = auth(keys["merchant"], **{"Idempotency-Key": "order-992"})
    big = api_city.consent(w3, api_city.residents[5], 10**9)
    assert api.post("/v1/redemptions", json=big, headers=failed).json() == \
        api.post("/v1/redemptions", json=big, headers=failed).json()


def test_redemptionRequest_approvedByResidentSignature(api, w3, api_city, keys):
    r = api_city.residents[3]
    created = api.post("/v1/redemption_requests", json={"resident": r.address, "credits": 250, "orderRef": "A-17"},
                       headers=auth(keys["merchant"]))
    assert created.status_code == 201, created.text
    req = created.json()
    assert req["qrPayload"] == f"{api.live.rt.settings.base_url}/wallet/?request={req['id']}"
    assert req["orderLabel"] == "A-17" and req["merchantName"] == "shop-1"  # the wallet shows whom it pays
    token = resident_token(api, r)  # only the resident lists their open requests
    pending = api.get(f"/v1/residents/{r.address}/redemption_requests", headers=auth(token)).json()["data"]
    mine = [p for p in pending if p["id"] == req["id"]]  # other tests' open requests may share the live store
    assert len(mine) == 1 and mine[0]["merchantName"] == "shop-1"
    parts = req["typedData"]["message"]["parts"]  # the plan made for the resident's points now, signed with it
    assert req["plan"]["value"] - req["plan"]["change"] == 250 * 10**6
    bad = api.post(f"/v1/redemption_requests/{req['id']}/approve",
                   json={"signature": "0x" + sign(api_city.residents[0], req["typedData"]).hex(), "parts": parts})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_signature"
    sig = "0x" + sign(r, req["typedData"]).hex()
    other = [{**parts[0], "points": parts[0]["points"] + 1}] + parts[1:]  # not the plan signed
    forged = api.post(f"/v1/redemption_requests/{req['id']}/approve", json={"signature": sig, "parts": other})
    assert forged.status_code == 422 and forged.json()["error"]["code"] == "invalid_signature"
    ok = api.post(f"/v1/redemption_requests/{req['id']}/approve", json={"signature": sig, "parts": parts})
    assert ok.status_code == 201, ok.text
    assert ok.json()["status"] == "confirmed" and ok.json()["requestId"] == req["id"]
    assert api.get(f"/v1/redemption_requests/{req['id']}").json()["status"] == "approved"
    again = api.post(f"/v1/redemption_requests/{req['id']}/approve", json={"signature": sig, "parts": parts})
    assert again.status_code == 409 and again.json()["error"]["code"] == "consent_already_used"
    still_open = api.get(f"/v1/residents/{r.address}/redemption_requests", headers=auth(token)).json()["data"]
    assert req["id"] not in [p["id"] for p in still_open]
    assert api.get("/v1/redemption_requests/rrq_nope").status_code == 404


def test_refund_partialThenTooLarge(api, w3, api_city, keys):
    h = auth(keys["merchant"])
    red = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[0], 300), headers=h).json()
    part = api.post(f"/v1/redemptions/{red['id']}/refunds", json={"credits": 100}, headers=h)
    assert part.status_code == 201, part.text
    assert part.json()["status"] == "confirmed"
    assert api.get(f"/v1/refunds/{part.json()['id']}", headers=h).json()["credits"] == 100
    assert api.get(f"/v1/redemptions/{red['id']}", headers=h).json()["refundedCredits"] == 100
    big = api.post(f"/v1/redemptions/{red['id']}/refunds", json={"credits": 201}, headers=h)
    assert big.status_code == 422 and big.json()["error"]["code"] == "refund_too_large"


def test_refund_full_givesBackExactlyWhatWasTaken_changeIncluded(api, w3, api_city, keys):
    """Exact change both ways: a redemption that leaves change, refunded in full at unchanged rates, leaves the
    resident's points and change as they were; the records' figures conserve value part by part."""
    h, r = auth(keys["merchant"]), api_city.residents[1]
    ledger = api_city.contracts["PointsLedger"]

    def holdings():
        return [(ledger.functions.balanceOf(r.address, s).call(), ledger.functions.changeOf(r.address, s).call())
                for s in (S1, S2)]
    before = holdings()
    red = api.post("/v1/redemptions", json=api_city.consent(w3, r, 37), headers=h).json()  # 37 cents: change
    assert red["status"] == "confirmed" and red["change"] > 0, red
    assert red["value"] - red["change"] == 37 * 10**6
    assert holdings() != before
    refund = api.post(f"/v1/redemptions/{red['id']}/refunds", json={"credits": 37}, headers=h)
    assert refund.status_code == 201, refund.text
    body = refund.json()
    assert body["status"] == "confirmed" and sum(p["credits"] for p in body["parts"]) == 37
    assert all(p["value"] + p["change"] == p["credits"] * 10**6 for p in body["parts"])
    assert holdings() == before


def _sample(metrics_text: str, series: str) -> float:
    return next((float(line.rsplit(" ", 1)[1]) for line in metrics_text.splitlines() if line.startswith(series + " ")),
                0.0)


def test_metrics_showWhereARedemptionsTimeGoes_andTheEventLoopsLag(api, w3, api_city, keys):
    """An operator finding out why redemptions are slow reads GET /metrics: each stage before the answer
    (signature, admission, persist) counts this redemption, and the event loop's lag is being watched."""
    before = api.get("/metrics").text
    resp = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[1], 10),
                    headers=auth(keys["merchant"]))
    assert resp.status_code == 201, resp.text
    after = api.get("/metrics").text
    for stage in ("signature", "persist"):
        series = f'citypoints_redemption_stage_seconds_count{{stage="{stage}"}}'
        assert _sample(after, series) == _sample(before, series) + 1, stage
    admitted = sum(_sample(after, f'citypoints_redemption_stage_seconds_count{{stage="{s}"}}') -
                   _sample(before, f'citypoints_redemption_stage_seconds_count{{stage="{s}"}}')
                   for s in ("admit", "simulate"))
    assert admitted == 1
    assert _sample(after, 'citypoints_store_write_seconds_count{kind="requests"}') > 0
    deadline = time.monotonic() + 5
    while _sample(api.get("/metrics").text, "citypoints_event_loop_lag_seconds_count") == 0:
        assert time.monotonic() < deadline, "the event loop's lag is not watched"
        time.sleep(0.1)


def test_aSignedPreferredOrder_ordersTheResidentsPlan_andSpendsItsNonce(api, w3, api_city, keys):
    """The indexer keeps each preferred order by key: a merchant's request plans from the resident's preferred
    scheme first, and a consent signed with the order's nonce (the chain's: spent) is refused before it is sent."""
    r, h = api_city.residents[4], auth(keys["merchant"])
    api_city.govern(w3, [call(api_city.contracts["Rates"], "setRate", S2, RATE_1)], advance_time=True)  # a tie
    wait_indexed(api, w3)

    def planned(label: str) -> list[int]:
        created = api.post("/v1/redemption_requests", json={"resident": r.address, "credits": 100, "orderRef": label},
                           headers=h)
        assert created.status_code == 201, created.text
        return [p["scheme"] for p in created.json()["typedData"]["message"]["parts"]]
    assert planned("before")[0] == S1  # a tie: the ledger's order
    nonce, deadline = os.urandom(32), w3.eth.get_block("latest")["timestamp"] + 3600  # the chain is a week on
    msg = {"resident": r.address, "schemes": [S2], "nonce": nonce, "deadline": deadline}
    redemption = api_city.contracts["Redemption"]
    sig = sign(r, typed_data("PreferredOrder", w3.eth.chain_id, redemption.address, msg))
    chain.transact(w3, api_city.issuer2, redemption.functions.setPreferredOrder(r.address, [S2], nonce,
                                                                                 msg["deadline"], sig))
    wait_indexed(api, w3)
    assert planned("after")[0] == S2
    spent = api.post("/v1/redemptions", json=api_city.consent(w3, r, 10, nonce=nonce, deadline=deadline), headers=h)
    assert spent.status_code == 409 and spent.json()["error"]["code"] == "consent_already_used", spent.text
