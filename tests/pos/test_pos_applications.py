"""A shop applies to accept points and claims its first key (issue 22), on SQLite and PostgreSQL.

Given a shop's application from the till (public, bounded, rate-limited), when the consortium lists it in the
console (auditor keys) and registers its settlement account through a proposal, then the application's claim link
yields the shop's first manager key exactly once: before registration it is 409 `merchant_not_registered`, a
second claim 409 `application_already_claimed`, a wrong secret 404; claims are limited per address.
"""
from __future__ import annotations

import time

import pytest
from eth_account import Account
from sqlalchemy import func, select

from exchange_api.merchant_keys import create_key
from exchange_api.store.models import ApiKey, IdempotencyRecord, IdxMerchant, MerchantApplication
from ledger_node.deploy.system import call, propose_and_execute


def application(account: str, **over) -> dict:
    return {"nameZh": "茶馆", "nameEn": "Tea house", "category": "food", "district": "wuhou",
            "contact": "+86 28 5555 0101", "settlementAccount": account, **over}


@pytest.fixture
def applying(pos_client):
    """The API with the application limit's buckets empty (one client address for every test)."""
    rt = pos_client.live.rt
    for key in [k for k in rt.buckets if k.startswith(("application:", "claim:"))]:
        del rt.buckets[key]
    return pos_client


def register_on_chain(wallet_city, session_w3, account: str, live) -> None:
    """The consortium's proposal registering the merchant, executed; then the API's indexer has it."""
    m = wallet_city.contracts["Membership"]
    propose_and_execute(session_w3, wallet_city.contracts["Consortium"], [wallet_city.operator],
                        [call(m, "registerMerchant", account)], "register the applicant")
    deadline = time.monotonic() + 20
    while live.rt.store.call(lambda s: s.get(IdxMerchant, account)) is None:
        assert time.monotonic() < deadline, "the indexer did not see the registration"
        time.sleep(0.05)


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_apply_thenRegister_thenClaim_yieldsTheFirstManagerKeyOnce(applying, wallet_city, session_w3):
    live = applying.live
    account = Account.create().address
    resp = applying.post("/v1/merchant_applications", json=application(account))
    assert resp.status_code == 201, resp.text
    applied = resp.json()
    app_id, secret = applied["id"], applied["claimSecret"]
    assert applied["status"] == "received" and applied["settlementAccount"] == account
    assert applied["claimUrl"] == f"{live.url}/pos/#claim/{app_id}/{secret}"
    stored = live.rt.store.call(lambda s: s.scalar(select(MerchantApplication).where(MerchantApplication.id == app_id)))
    assert secret not in stored.claim_hash and b"5555" not in stored.contact  # hashed; sealed

    # the consortium's console lists it, with the proposal that registers it
    listed = applying.get("/v1/merchant_applications", headers=bearer(live.auditor_key))
    assert listed.status_code == 200
    row = next(a for a in listed.json()["data"] if a["id"] == app_id)
    assert row["status"] == "received" and row["contact"] == "+86 28 5555 0101" and row["claimSecret"] is None
    assert row["proposal"]["command"].startswith(f"citypoints gov propose register-merchant {account} --as ")
    assert app_id in row["proposal"]["description"]
    # not registered yet: no key
    early = applying.post(f"/v1/merchant_applications/{app_id}/claim", json={"secret": secret})
    assert early.status_code == 409 and early.json()["error"]["code"] == "merchant_not_registered"

    register_on_chain(wallet_city, session_w3, account, live)
    assert next(a for a in applying.get("/v1/merchant_applications?status=registered",
                                        headers=bearer(live.auditor_key)).json()["data"]
                if a["id"] == app_id)["status"] == "registered"
    claimed = applying.post(f"/v1/merchant_applications/{app_id}/claim", json={"secret": secret})
    assert claimed.status_code == 201, claimed.text
    key = claimed.json()
    assert key["merchant"] == account and key["apiKey"].startswith("cpk_") and key["key"]["scope"] == "manager"
    # the key works as the shop's manager; the shop's catalogue profile is its application's
    assert applying.get("/v1/keys", headers=bearer(key["apiKey"])).status_code == 200
    profile = applying.get("/v1/merchant_profile", headers=bearer(key["apiKey"])).json()
    assert (profile["name"], profile["category"], profile["district"]) == (
        {"zh": "茶馆", "en": "Tea house"}, "food", "wuhou")
    # exactly once
    again = applying.post(f"/v1/merchant_applications/{app_id}/claim", json={"secret": secret})
    assert again.status_code == 409 and again.json()["error"]["code"] == "application_already_claimed"
    assert key["apiKey"] not in again.text
    assert live.rt.store.call(lambda s: s.scalar(select(func.count()).select_from(ApiKey).where(
        ApiKey.prefix == key["apiKey"][:12]))) == 1
    assert next(a for a in applying.get("/v1/merchant_applications", headers=bearer(live.auditor_key)).json()["data"]
                if a["id"] == app_id)["status"] == "claimed"


def test_claim_withAWrongSecret_is404_andClaimsAreLimitedPerAddress(applying):
    account = Account.create().address
    app_id = applying.post("/v1/merchant_applications", json=application(account)).json()["id"]
    for _ in range(10):
        resp = applying.post(f"/v1/merchant_applications/{app_id}/claim", json={"secret": "x" * 43})
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "application_not_found"
    limited = applying.post(f"/v1/merchant_applications/{app_id}/claim", json={"secret": "x" * 43})
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1


def test_apply_withBadInput_is4xx_andStoresNothing(applying, wallet_city):
    live = applying.live
    n = live.rt.store.call(lambda s: s.scalar(select(func.count()).select_from(MerchantApplication)))
    fresh = Account.create().address
    for body, status, code in (
            (application("0x1234"), 422, "invalid_request"),
            (application(fresh, nameEn=""), 422, "invalid_request"),
            (application(fresh, nameZh="x" * 101), 422, "invalid_request"),
            (application(fresh, contact="a\x00b"), 422, "invalid_request"),
            (application(fresh, contact="x" * 201), 422, "invalid_request"),
            (application(fresh, category="casino"), 422, "unknown_category"),
            (application(fresh, district="moon"), 422, "unknown_district"),
            ({**application(fresh), "extra": 1}, 422, "invalid_request"),
            (application(wallet_city.merchant.address), 409, "already_merchant")):
        resp = applying.post("/v1/merchant_applications", json=body)
        assert resp.status_code == status and resp.json()["error"]["code"] == code, (body, resp.text)
    assert live.rt.store.call(lambda s: s.scalar(select(func.count()).select_from(MerchantApplication))) == n


def test_apply_twiceForOneAccount_is409_andIsRateLimitedPerAddress(applying):
    account = Account.create().address
    assert applying.post("/v1/merchant_applications", json=application(account)).status_code == 201
    twice = applying.post("/v1/merchant_applications", json=application(account))
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "application_pending"
    answers = [applying.post("/v1/merchant_applications", json=application(Account.create().address)).status_code
               for _ in range(3)]
    assert answers[-1] == 429 and 201 in answers  # bursts of 3 an address, then 10 an hour


def test_listApplications_needsAnAuditorKey(applying, wallet_city):
    live = applying.live
    assert applying.get("/v1/merchant_applications").status_code == 401
    merchant = applying.get("/v1/merchant_applications", headers=bearer(live.merchant_key))
    assert merchant.status_code == 403 and merchant.json()["error"]["code"] == "wrong_key_role"


def test_claim_forAMerchantWithKeysAlready_is409(applying, wallet_city, session_w3):
    """A registered shop that got its keys another way (the operator's command) is not given another manager."""
    live = applying.live
    account = Account.create().address
    applied = applying.post("/v1/merchant_applications", json=application(account)).json()
    register_on_chain(wallet_city, session_w3, account, live)
    live.rt.store.call(lambda s: create_key(s, name="From the operator", merchant_address=account))
    resp = applying.post(f"/v1/merchant_applications/{applied['id']}/claim", json={"secret": applied["claimSecret"]})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "merchant_has_keys"


def test_claim_whoseAnswerWasLost_isAnsweredAgainWithItsIdempotencyKey(applying, wallet_city, session_w3):
    """The first key is shown once; a client that lost the answer retries with the same Idempotency-Key and the
    same secret and gets the same key, kept only encrypted meanwhile; another secret under that key gets nothing."""
    live = applying.live
    account = Account.create().address
    once = {"Idempotency-Key": f"apply-{account}"}
    first = applying.post("/v1/merchant_applications", json=application(account), headers=once)
    again = applying.post("/v1/merchant_applications", json=application(account), headers=once)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    applied = first.json()
    register_on_chain(wallet_city, session_w3, account, live)
    url, body = f"/v1/merchant_applications/{applied['id']}/claim", {"secret": applied["claimSecret"]}
    once = {"Idempotency-Key": f"claim-{account}"}
    claimed = applying.post(url, json=body, headers=once)
    replayed = applying.post(url, json=body, headers=once)
    assert claimed.status_code == replayed.status_code == 201
    assert claimed.json()["apiKey"] == replayed.json()["apiKey"]
    other = applying.post(url, json={"secret": "y" * 43}, headers=once)
    assert other.status_code == 409 and claimed.json()["apiKey"] not in other.text
    stored = live.rt.store.call(lambda s: [r.body for r in s.scalars(select(IdempotencyRecord))])
    assert not [r for r in stored if claimed.json()["apiKey"] in str(r) or applied["claimSecret"] in str(r)]
