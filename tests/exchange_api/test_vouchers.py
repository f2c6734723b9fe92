"""Vouchers (issue 22) on the live service over SQLite and PostgreSQL: a resident redeems an offer for a voucher (one
unit of stock taken at once, one consent signed for the price), the till checks it off once, an unused one is
refunded with its unit back; twenty residents racing for the last unit get one voucher and nineteen refusals, and
the chain shows only the winner charged."""
from __future__ import annotations

import concurrent.futures
import threading
import uuid

from eth_account import Account
from web3 import Web3

from ledger_node import chain
from ledger_node.typed_data import sign
from tests.exchange_api.conftest import RATE_1, S1, S2, START, auth, resident_token, wait_indexed

OFFER = {"titleZh": "熊猫明信片", "titleEn": "A panda postcard", "price": 1500, "category": "culture",
         "district": "jinjiang"}
POINTS = 1500 * 1_000_000 // RATE_1  # the S1 points that pay the offer's price exactly


def offer(api, keys, **changes) -> dict:
    resp = api.post("/v1/offers", json={**OFFER, **changes}, headers=auth(keys["merchant"]))
    assert resp.status_code == 201, resp.text
    return resp.json()


def reserve(api, resident, token, offer_id):
    return api.post(f"/v1/residents/{resident.address}/vouchers", json={"offer": offer_id},
                    headers=auth(token))


def pay(api, resident, reserved: dict) -> dict:
    """The wallet's one signature: the reservation's request approved with the resident's consent for the price."""
    req = reserved["request"]
    done = api.post(f"/v1/redemption_requests/{req['id']}/approve",
                    json={"signature": "0x" + sign(resident, req["typedData"]).hex(),
                          "parts": req["typedData"]["message"]["parts"], "wait": True})
    assert done.status_code == 201, done.text
    return done.json()


def bought(api, keys, resident, **changes) -> tuple[dict, dict, str]:
    """An offer, and a voucher for it that `resident` paid for: (offer, voucher, the resident's token)."""
    o = offer(api, keys, **changes)
    token = resident_token(api, resident)
    resp = reserve(api, resident, token, o["id"])
    assert resp.status_code == 201, resp.text
    pay(api, resident, resp.json())
    v = api.get(f"/v1/residents/{resident.address}/vouchers/{resp.json()['id']}", headers=auth(token)).json()
    return o, v, token


def s1_balance(api_city, who: str) -> int:
    return api_city.contracts["PointsLedger"].functions.balanceOf(who, S1).call()


def s2_balance(api_city, who: str) -> int:
    return api_city.contracts["PointsLedger"].functions.balanceOf(who, S2).call()


def test_voucher_lastUnit_twentyResidentsAtOnce_oneVoucherNineteenRefusals_onlyTheWinnerCharged(
        api, w3, api_city, keys):
    c = api_city.contracts
    racers = [Account.create() for _ in range(20)]
    chain.transact(w3, api_city.onboarding, c["Membership"].functions.registerResidents(
        [r.address for r in racers], [Web3.keccak(text=f"voucher-race:{r.address}") for r in racers]))
    chain.transact(w3, api_city.issuer1, c["PointsLedger"].functions.issueBatch(
        S1, [r.address for r in racers], [START] * 20, [Web3.keccak(text=f"vr-{i}") for i in range(20)]))
    chain.transact(w3, api_city.issuer2, c["PointsLedger"].functions.issueBatch(
        S2, [r.address for r in racers], [START] * 20, [Web3.keccak(text=f"vr2-{i}") for i in range(20)]))
    wait_indexed(api, w3)
    o = offer(api, keys, stock=1)
    tokens = [resident_token(api, r) for r in racers]

    gate = threading.Barrier(20)

    def race(i):
        gate.wait()
        return reserve(api, racers[i], tokens[i], o["id"])
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(race, range(20)))

    won = [(i, a) for i, a in enumerate(answers) if a.status_code == 201]
    lost = [a for a in answers if a.status_code != 201]
    assert len(won) == 1, [a.text for a in answers]
    assert len(lost) == 19 and all(a.status_code == 409 and a.json()["error"]["code"] == "offer_sold_out"
                                   for a in lost), [a.text for a in lost]
    assert all(a.json()["error"]["message"] == "this offer is sold out" for a in lost)
    winner, reserved = racers[won[0][0]], won[0][1].json()
    assert reserved["status"] == "reserved" and reserved["code"] is None  # nobody's code before it is paid
    assert api.get(f"/v1/offers/{o['id']}", headers=auth(keys["merchant"])).json()["stock"] == 0
    assert o["id"] not in [x["id"] for x in api.get("/v1/catalogue/offers").json()["data"]]

    paid = pay(api, winner, reserved)
    assert paid["status"] == "confirmed" and paid["credits"] == 1500
    wait_indexed(api, w3)
    v = api.get(f"/v1/residents/{winner.address}/vouchers/{reserved['id']}",
                headers=auth(tokens[won[0][0]])).json()
    assert v["status"] == "valid" and len(v["code"]) == 9 and v["qrPayload"].endswith(f"?voucher={v['code']}")
    assert v["redemptionId"] == paid["id"]

    balances = {r.address: s1_balance(api_city, r.address) for r in racers}
    assert balances.pop(winner.address) == START - POINTS
    assert set(balances.values()) == {START}  # the nineteen: nothing taken
    assert {s2_balance(api_city, r.address) for r in racers} == {START}  # the plan took S1's only; nothing else
    for i, r in enumerate(racers):  # and no voucher, reservation or request left for a loser
        if r is winner:
            continue
        assert api.get(f"/v1/residents/{r.address}/vouchers", headers=auth(tokens[i])).json()["data"] == []
        assert api.get(f"/v1/residents/{r.address}/redemption_requests", headers=auth(tokens[i])).json()["data"] == []


def test_voucher_checkOff_onceThenRefusedSayingWhen(api, api_city, keys):
    r = api_city.residents[0]
    o, v, _ = bought(api, keys, r, stock=5)
    h = auth(keys["merchant"])
    found = api.get("/v1/vouchers", params={"code": v["code"].lower().replace("-", " ")}, headers=h).json()["data"]
    assert [x["id"] for x in found] == [v["id"]] and found[0]["status"] == "valid"
    by_qr = api.get("/v1/vouchers", params={"code": v["qrPayload"]}, headers=h).json()["data"]
    assert [x["id"] for x in by_qr] == [v["id"]]

    # two tills at the same moment: one checks it off, the other is refused
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda _: api.post(f"/v1/vouchers/{v['id']}/check_off", headers=h), range(2)))
    assert sorted(a.status_code for a in both) == [200, 409], [a.text for a in both]
    used = next(a for a in both if a.status_code == 200)
    assert used.json()["status"] == "used" and used.json()["usedAt"]
    again = api.post(f"/v1/vouchers/{v['id']}/check_off", headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "voucher_already_used"
    assert used.json()["usedAt"] in again.json()["error"]["message"]
    refund = api.post(f"/v1/vouchers/{v['id']}/refund", json={}, headers=h)
    assert refund.status_code == 409 and refund.json()["error"]["code"] == "voucher_already_used"
    # another shop's till finds nothing and checks nothing off
    other = auth(keys["merchant2"])
    assert api.get("/v1/vouchers", params={"code": v["code"]}, headers=other).json()["data"] == []
    assert api.post(f"/v1/vouchers/{v['id']}/check_off", headers=other).status_code == 404
    assert api.get("/v1/vouchers", params={"code": "12-34"}, headers=h).json()["error"]["code"] == \
        "invalid_voucher_code"


def test_voucher_refundUnused_givesCreditsAndTheUnitBack(api, w3, api_city, keys):
    r = api_city.residents[1]
    before = s1_balance(api_city, r.address)
    o, v, token = bought(api, keys, r, stock=1)
    h = auth(keys["merchant"])
    assert api.get(f"/v1/offers/{o['id']}", headers=h).json()["stock"] == 0
    assert s1_balance(api_city, r.address) == before - POINTS

    refunded = api.post(f"/v1/vouchers/{v['id']}/refund", json={"wait": True}, headers=h)
    assert refunded.status_code == 201, refunded.text
    assert refunded.json()["status"] == "refunded" and refunded.json()["refund"]["status"] == "confirmed"
    assert s1_balance(api_city, r.address) == before  # the points back
    assert api.get(f"/v1/offers/{o['id']}", headers=h).json()["stock"] == 1  # the unit back
    mine = api.get(f"/v1/residents/{r.address}/vouchers/{v['id']}", headers=auth(token)).json()
    assert mine["status"] == "refunded" and mine["endedAt"]
    used = api.post(f"/v1/vouchers/{v['id']}/check_off", headers=h)
    assert used.status_code == 409 and used.json()["error"]["code"] == "voucher_refunded"
    again = api.post(f"/v1/vouchers/{v['id']}/refund", json={}, headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "voucher_refunded"
    wait_indexed(api, w3)


def test_voucher_reservationCancelled_givesTheUnitBack_andItsRequestCannotBePaid(api, api_city, keys):
    r = api_city.residents[2]
    o = offer(api, keys, stock=1)
    token = resident_token(api, r)
    reserved = reserve(api, r, token, o["id"]).json()
    h = auth(keys["merchant"])
    assert api.get(f"/v1/offers/{o['id']}", headers=h).json()["stock"] == 0
    # not paid: the till cannot check it off
    refused = api.post(f"/v1/vouchers/{reserved['id']}/check_off", headers=h)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "voucher_not_valid"

    cancelled = api.delete(f"/v1/residents/{r.address}/vouchers/{reserved['id']}", headers=auth(token))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "released"
    assert api.get(f"/v1/offers/{o['id']}", headers=h).json()["stock"] == 1
    req = reserved["request"]
    late = api.post(f"/v1/redemption_requests/{req['id']}/approve",
                    json={"signature": "0x" + sign(r, req["typedData"]).hex(),
                          "parts": req["typedData"]["message"]["parts"]})
    assert late.status_code == 409 and late.json()["error"]["code"] == "request_not_open"
    again = api.delete(f"/v1/residents/{r.address}/vouchers/{reserved['id']}", headers=auth(token))
    assert again.status_code == 409 and again.json()["error"]["code"] == "voucher_not_reserved"


def test_voucher_refusals_nothingTaken(api, api_city, keys):
    r = api_city.residents[3]
    token = resident_token(api, r)
    h = auth(keys["merchant"])
    too_dear = offer(api, keys, stock=3, price=10**9)
    resp = reserve(api, r, token, too_dear["id"])
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "insufficient_credits"
    assert api.get(f"/v1/offers/{too_dear['id']}", headers=h).json()["stock"] == 3
    assert reserve(api, r, token, "off_unknown").json()["error"]["code"] == "offer_not_found"
    sold_out = offer(api, keys, stock=0)
    resp = reserve(api, r, token, sold_out["id"])
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "offer_sold_out"
    # only the resident: another's token, or none
    other = resident_token(api, api_city.residents[4])
    assert reserve(api, r, other, sold_out["id"]).status_code == 403
    assert api.post(f"/v1/residents/{r.address}/vouchers", json={"offer": sold_out["id"]}).status_code == 401
    assert api.get(f"/v1/residents/{r.address}/vouchers", headers=auth(token)).json()["data"] == []


def test_voucher_unlimitedStock_staysUnlimited(api, api_city, keys):
    r = api_city.residents[5]
    o, v, _ = bought(api, keys, r)  # stock null: unlimited
    assert v["status"] == "valid"
    assert api.get(f"/v1/offers/{o['id']}", headers=auth(keys["merchant"])).json()["stock"] is None


def test_voucher_reservationLeftUnpaidPastItsDeadline_givesItsUnitBackToTheNextResident(api, api_city, keys, live):
    o = offer(api, keys, stock=1)
    late, next_one = api_city.residents[0], api_city.residents[1]
    late_token, next_token = resident_token(api, late), resident_token(api, next_one)
    before = live.rt.settings
    # a reservation whose request's deadline (and the minute of grace after it) has passed already
    live.rt.replace_settings(before.model_copy(update={"request_ttl_s": -120}))
    try:
        kept = reserve(api, late, late_token, o["id"])
    finally:
        live.rt.replace_settings(before)
    assert kept.status_code == 201, kept.text
    assert api.get(f"/v1/residents/{late.address}/vouchers/{kept.json()['id']}",
                   headers=auth(late_token)).json()["status"] == "expired"

    got = reserve(api, next_one, next_token, o["id"])
    assert got.status_code == 201, got.text  # the unpaid unit went back first, then to this resident
    assert api.get(f"/v1/residents/{late.address}/vouchers/{kept.json()['id']}",
                   headers=auth(late_token)).json()["status"] == "released"
    assert api.get(f"/v1/redemption_requests/{kept.json()['requestId']}").json()["status"] == "cancelled"
    assert api.get(f"/v1/offers/{o['id']}", headers=auth(keys["merchant"])).json()["stock"] == 0
    pay(api, next_one, got.json())


def test_voucher_paymentFailedOnChain_givesTheUnitBackOnce(api, api_city, keys, live):
    """What the confirmations do with a voucher whose redemption the chain refused (settle_redemptions, in their
    database transaction): released, the unit back; the same outcome handed over again gives nothing more back."""
    from exchange_api.services.vouchers import settle_redemptions
    r = api_city.residents[4]
    o = offer(api, keys, stock=2)
    token = resident_token(api, r)
    kept = reserve(api, r, token, o["id"]).json()
    h = auth(keys["merchant"])
    assert api.get(f"/v1/offers/{o['id']}", headers=h).json()["stock"] == 1
    failed = {"id": "0x" + "ab" * 32, "request_id": kept["requestId"], "status": "failed"}
    for _ in range(2):
        live.rt.store.call(lambda s: settle_redemptions(s, [failed]))
        assert api.get(f"/v1/offers/{o['id']}", headers=h).json()["stock"] == 2
    mine = api.get(f"/v1/residents/{r.address}/vouchers/{kept['id']}", headers=auth(token)).json()
    assert mine["status"] == "released" and mine["code"] is None


def test_voucher_requestCancelledByTheMerchant_givesTheUnitBackToTheNextResident(api, api_city, keys):
    o = offer(api, keys, stock=1)
    first, second = api_city.residents[2], api_city.residents[3]
    first_token, second_token = resident_token(api, first), resident_token(api, second)
    kept = reserve(api, first, first_token, o["id"]).json()
    cancelled = api.post(f"/v1/redemption_requests/{kept['requestId']}/cancel", headers=auth(keys["merchant"]))
    assert cancelled.status_code == 200, cancelled.text
    got = reserve(api, second, second_token, o["id"])
    assert got.status_code == 201, got.text
    assert api.get(f"/v1/residents/{first.address}/vouchers/{kept['id']}",
                   headers=auth(first_token)).json()["status"] == "released"
    assert api.get(f"/v1/offers/{o['id']}", headers=auth(keys["merchant"])).json()["stock"] == 0


def test_voucher_aCashiersKey_checksOff_butCannotRefund(api, api_city, keys, live):
    """Scopes (issue 22): vouchers are a cashier's job at the counter; refunding one, as every refund, a manager's."""
    from exchange_api.merchant_keys import create_key

    cashier = auth(live.rt.store.call(lambda s: create_key(
        s, name=f"counter {uuid.uuid4().hex[:8]}", merchant_address=api_city.merchant.address,
        scope="cashier").api_key))
    r = api_city.residents[1]
    _, kept, _ = bought(api, keys, r, stock=5)
    refused = api.post(f"/v1/vouchers/{kept['id']}/refund", json={}, headers=cashier)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope", refused.text
    assert api.get("/v1/vouchers", params={"code": kept["code"]}, headers=cashier).json()["data"][0]["status"] == \
        "valid"  # nothing changed
    used = api.post(f"/v1/vouchers/{kept['id']}/check_off", headers=cashier)
    assert used.status_code == 200 and used.json()["status"] == "used", used.text
