"""Privacy: only the resident (a short-lived token from a signed EIP-712 login) lists their open redemption
requests; the request id from the merchant's QR reads that one request. Onboarding's idempotency fingerprint is
keyed (HMAC with the identity key), and a registration that failed can be sent again without a duplicate error."""
from __future__ import annotations

import hashlib
import json
import os
import time
from types import SimpleNamespace

import rlp
from eth_account import Account
from eth_utils import keccak
from sqlalchemy import select
from web3 import Web3

from exchange_api import crypto
from exchange_api.store.models import IdempotencyRecord, ResidentRecord
from ledger_node import chain
from ledger_node.typed_data import sign

from .conftest import auth, resident_token


def signed_login(live, resident, issued_at: int | None = None, signer=None) -> dict:
    issued = int(time.time()) if issued_at is None else issued_at
    nonce = "0x" + os.urandom(32).hex()
    doc = live.rt.services.residents.login_document(resident.address, issued, nonce)
    return {"issuedAt": issued, "nonce": nonce, "signature": "0x" + sign(signer or resident, doc).hex()}


def test_openRequests_onlyTheResidentReadsThem(api, api_city, keys, live):
    live.app.state.auth_failures.clear()  # this test's own failed authentications only (all come from 127.0.0.1)
    r, other = api_city.residents[1], api_city.residents[2]
    req = api.post("/v1/redemption_requests", json={"resident": r.address, "credits": 120, "orderRef": "P-1"},
                   headers=auth(keys["merchant"])).json()
    path = f"/v1/residents/{r.address}/redemption_requests"

    anonymous = api.get(path)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "missing_resident_token"
    assert "shop-1" not in anonymous.text and req["id"] not in anonymous.text
    merchant = api.get(path, headers=auth(keys["merchant"]))  # an API key is not the resident
    assert merchant.status_code == 401 and merchant.json()["error"]["code"] == "invalid_resident_token"
    theirs = api.get(path, headers=auth(resident_token(api, other)))
    assert theirs.status_code == 403 and theirs.json()["error"]["code"] == "wrong_resident"
    expired = crypto.session_token(live.rt.pii_key, r.address, int(time.time()) - 1)
    assert api.get(path, headers=auth(expired)).json()["error"]["code"] == "invalid_resident_token"
    forged = crypto.session_token(os.urandom(32), r.address, int(time.time()) + 300)
    assert api.get(path, headers=auth(forged)).status_code == 401
    assert len(live.app.state.auth_failures) == 1  # bad tokens count against their source, like wrong API keys

    token = resident_token(api, r)
    mine = api.get(path, headers=auth(token))
    assert mine.status_code == 200 and [x["id"] for x in mine.json()["data"]] == [req["id"]]
    assert mine.json()["data"][0]["merchantName"] == "shop-1"
    # the QR's request id is a capability for that one request
    assert api.get(f"/v1/redemption_requests/{req['id']}").json()["merchantName"] == "shop-1"


def test_login_refusesOtherSigners_staleTimes_andReplays(api, api_city, live):
    r = api_city.residents[1]
    path = f"/v1/residents/{r.address}/login"
    challenge = api.get(path).json()
    assert challenge["typedData"]["primaryType"] == "ResidentLogin"
    assert challenge["typedData"]["message"]["resident"] == r.address

    wrong = api.post(path, json=signed_login(live, r, signer=api_city.residents[0]))
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_signature"
    stale = api.post(path, json=signed_login(live, r, issued_at=int(time.time()) - 600))
    assert stale.status_code == 422 and stale.json()["error"]["code"] == "login_expired"
    garbage = api.post(path, json={**signed_login(live, r), "signature": "0x" + "11" * 65})
    assert garbage.status_code == 422 and garbage.json()["error"]["code"] == "invalid_signature"

    body = signed_login(live, r)
    first = api.post(path, json=body)
    assert first.status_code == 201, first.text
    session = first.json()
    assert session["tokenType"] == "Bearer" and session["resident"] == r.address
    assert 0 < session["expiresAt"] - time.time() <= live.rt.settings.resident_token_ttl_s
    replay = api.post(path, json=body)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "login_already_used"
    assert session["token"] not in json.dumps(live.rt.store.call(
        lambda s: [x.body for x in s.scalars(select(IdempotencyRecord))]))  # the token is not stored


def test_login_contractWallet_signsInWithItsOwnersKey_andReadsItsRequests(api, w3, api_city, keys, live):
    """A resident whose account is an EIP-1271 contract wallet signs in as the contracts accept it: the wallet's
    isValidSignature decides (here: its owner's key). Another key's signature gets no token."""
    owner = Account.create()
    wallet = SimpleNamespace(address=chain.deploy_contract(w3, api_city.operator, "ContractWalletMock",
                                                           owner.address))
    req = api.post("/v1/redemption_requests", json={"resident": wallet.address, "credits": 90, "orderRef": "W-1"},
                   headers=auth(keys["merchant"])).json()
    path = f"/v1/residents/{wallet.address}/login"

    stranger = api.post(path, json=signed_login(live, wallet, signer=Account.create()))
    assert stranger.status_code == 422 and stranger.json()["error"]["code"] == "invalid_signature"
    assert "token" not in stranger.json()
    signed_by_owner = api.post(path, json=signed_login(live, wallet, signer=owner))
    assert signed_by_owner.status_code == 201, signed_by_owner.text
    session = signed_by_owner.json()
    assert session["resident"] == wallet.address

    mine = api.get(f"/v1/residents/{wallet.address}/redemption_requests", headers=auth(session["token"]))
    assert mine.status_code == 200 and [x["id"] for x in mine.json()["data"]] == [req["id"]]


def test_login_counterfactualWallet_refusedBeforeItsDeployment_acceptedAfter(api, w3, api_city, live):
    """A resident's wallet address may be known before its contract is deployed: refused while it has no code,
    the same signature signs in once the wallet is there (the API does not remember "no code")."""
    owner = Account.create()
    nonce = w3.eth.get_transaction_count(api_city.operator.address)
    address = Web3.to_checksum_address(keccak(rlp.encode([bytes.fromhex(api_city.operator.address[2:]), nonce]))[12:])
    wallet, path = SimpleNamespace(address=address), f"/v1/residents/{address}/login"
    login = signed_login(live, wallet, signer=owner)
    before = api.post(path, json=login)
    assert before.status_code == 422 and before.json()["error"]["code"] == "invalid_signature"
    assert chain.deploy_contract(w3, api_city.operator, "ContractWalletMock", owner.address) == address
    after = api.post(path, json=login)
    assert after.status_code == 201, after.text


def test_login_contractWithoutIsValidSignature_isRefused(api, w3, api_city, live):
    """An address with code that does not answer EIP-1271 (its call reverts) is refused like a wrong EOA
    signature, whoever signed: no key of any EOA speaks for a contract."""
    contract = SimpleNamespace(address=chain.deploy_contract(w3, api_city.operator, "PlainERC1155Issuer"))
    refused = api.post(f"/v1/residents/{contract.address}/login",
                       json=signed_login(live, contract, signer=api_city.operator))
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_signature"
    assert "token" not in refused.json()


def test_onboarding_fingerprintIsKeyed_notAPlainHashOfIdentityData(api, keys, live):
    person = {"address": Account.create().address, "name": "Grace Example", "identityNumber": "G7654321",
              "phone": "+41 79 555 00 11"}
    key = f"onb-{time.time_ns()}"
    resp = api.post("/v1/onboarding/residents", json=person, headers=auth(keys["onboarding"], **{"Idempotency-Key": key}))
    assert resp.status_code == 201, resp.text
    stored = live.rt.store.call(lambda s: s.scalar(select(IdempotencyRecord.request_hash).where(
        IdempotencyRecord.key == key)))
    path = "/v1/onboarding/residents"
    data = json.dumps(person, sort_keys=True).encode()

    def outer(fp: str) -> str:  # what idempotency.py hashes: method, path and the fingerprint
        return hashlib.sha256(json.dumps(["POST", path, fp], sort_keys=True).encode()).hexdigest()
    assert stored == outer(crypto.fingerprint(live.rt.identity_key, data))
    # anyone who guesses the person's data cannot recompute it without the key
    assert stored != outer(hashlib.sha256(data).hexdigest())
    assert stored != outer(crypto.fingerprint(os.urandom(32), data))


def test_onboarding_refusedByTheChain_canBeSentAgain(api, w3, api_city, keys, live):
    """The onboarding account sent a transaction outside the service (another tool) just after the registration's
    trail entry, so the service's next nonce is stale: the node refuses the registration; sent again, it goes
    through (no duplicate error)."""
    h = auth(keys["onboarding"])
    first = {"address": Account.create().address, "name": "Ann", "identityNumber": "A1000001", "phone": "+41 1"}
    assert api.post("/v1/onboarding/residents", json={**first, "phone": "+41 79 1"}, headers=h).status_code == 201
    membership = api_city.contracts["Membership"]
    trail = live.rt.services.identity_trail
    original = trail.write_ahead

    async def entry_then_another_tool(*args, **kwargs):
        entry = await original(*args, **kwargs)
        chain.transact(w3, api_city.onboarding, membership.functions.registerResident(
            Account.create().address, os.urandom(32)))  # takes the nonce the service will use next
        return entry

    person = {"address": Account.create().address, "name": "Bob", "identityNumber": "B2000002",
              "phone": "+41 79 2"}
    trail.write_ahead = entry_then_another_tool
    try:
        refused = api.post("/v1/onboarding/residents", json=person, headers=h)
    finally:
        trail.write_ahead = original
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "transaction_rejected", refused.text
    row = live.rt.store.call(lambda s: s.get(ResidentRecord, person["address"]))
    assert row.status == "failed"
    assert not membership.functions.isResident(person["address"]).call()

    again = api.post("/v1/onboarding/residents", json=person, headers=h)
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "registered" and membership.functions.isResident(person["address"]).call()
    # the person is still one person: another account for them is a duplicate
    dup = api.post("/v1/onboarding/residents", json={**person, "address": Account.create().address}, headers=h)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "identity_already_registered"


def test_onboarding_answeredPending_isAnsweredItsStateWhenSentAgain(api, keys, live, api_city):
    """The node did not confirm within the answer's time (202 pending): sending the same registration again
    answers its state (pending, then registered), never a duplicate error."""
    h = auth(keys["onboarding"])
    person = {"address": Account.create().address, "name": "Cleo", "identityNumber": "C3000003",
              "phone": "+41 79 3"}
    before = live.rt.settings
    trail = live.rt.services.identity_trail
    original = trail.write_ahead

    async def then_answer_at_once(*args, **kwargs):  # the trail entry is mined first; the registration then is not
        entry = await original(*args, **kwargs)
        live.rt.replace_settings(before.model_copy(update={"confirm_timeout_s": 0}))
        return entry

    trail.write_ahead = then_answer_at_once
    try:
        pending = api.post("/v1/onboarding/residents", json=person, headers=h)
    finally:
        trail.write_ahead = original
        live.rt.replace_settings(before)
    assert pending.status_code == 202 and pending.json()["status"] == "pending", pending.text
    again = api.post("/v1/onboarding/residents", json=person, headers=h)
    assert again.status_code in (201, 202) and again.json()["txHash"] == pending.json()["txHash"], again.text
    deadline = time.monotonic() + 10
    while api_city.contracts["Membership"].functions.isResident(person["address"]).call() is False \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    while live.rt.store.call(lambda s: s.get(ResidentRecord, person["address"]).status) == "pending" \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    done = api.post("/v1/onboarding/residents", json=person, headers=h)
    assert done.status_code == 201 and done.json()["status"] == "registered"
