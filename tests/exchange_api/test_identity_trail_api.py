"""The identity-use trail through the API (SQLite and PostgreSQL): the one function that opens residents' personal
data (Onboarding.personal_data) appends the use to IdentityTrail and waits until it is mined first; a node that
does not mine it, or a chain that refuses it, leaves the data closed (503, nothing decided on it). The resident reads
their trail with their login token and objects to an entry with a signed TrailObjection the API relays, once."""
from __future__ import annotations

import ast
import time
from pathlib import Path

from eth_account import Account

from ledger_node import paths
from ledger_node.domain import TRAIL_PURPOSE_CODES
from ledger_node.typed_data import sign

from tests.exchange_api.conftest import auth, resident_token, until_relayer_idle, wait_indexed
from tests.exchange_api.test_recovery_api import onboard, person

RECOVERY_VERIFICATION = TRAIL_PURPOSE_CODES["recovery-verification"]


ONBOARDING = TRAIL_PURPOSE_CODES["onboarding"]


def trail_events(api_city, resident: str, *, onboarding: bool = False) -> list:
    """The resident's trail entries on chain; their registration's own entry only if `onboarding`."""
    trail = api_city.contracts["IdentityTrail"]
    return [e for e in trail.events.IdentityUsed().get_logs(from_block=0) if e["args"]["resident"] == resident
            and (onboarding or e["args"]["purpose"] != ONBOARDING)]


def test_unseal_hasOneCaller_personalData_whichWritesTheTrailFirst():
    """A walk of exchange_api: `crypto.unseal` (the opening of sealed personal data) is called in one place only,
    Onboarding.personal_data, and there after the trail's write-ahead."""
    callers = []
    for path in sorted((paths.ROOT / "exchange_api").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Call) and (
                        (isinstance(node.func, ast.Attribute) and node.func.attr == "unseal")
                        or (isinstance(node.func, ast.Name) and node.func.id == "unseal")):
                    callers.append((Path(path).relative_to(paths.ROOT).as_posix(), func.name, node.lineno))
    assert [(f, name) for f, name, _ in callers] == [("exchange_api/services/onboarding.py", "personal_data")], callers
    source = (paths.ROOT / "exchange_api/services/onboarding.py").read_text()
    body = source[source.index("async def personal_data"):]
    assert body.index("self.trail.write_ahead(") < body.index("crypto.unseal(")


def test_recoveryCheck_opensTheData_onlyAfterItsTrailEntryIsMined(api, w3, api_city, keys):
    office = auth(keys["onboarding"])
    who = person("T1")
    resident, new = onboard(api, keys, who), Account.create()
    # registering used the data once, the office's own use, on the trail before the registration was sent
    (registered,) = trail_events(api_city, resident.address, onboarding=True)
    assert (registered["args"]["actor"], registered["args"]["purpose"]) == (api_city.onboarding.address, ONBOARDING)
    assert registered["blockNumber"] < next(
        e["blockNumber"] for e in api_city.contracts["Membership"].events.ResidentRegistered().get_logs(from_block=0)
        if e["args"]["account"] == resident.address)
    assert trail_events(api_city, resident.address) == []  # nothing else: the sealed data was never opened
    # a name that is not the one kept: the data was opened to compare (on the trail), the start is refused
    wrong = api.post("/v1/recoveries", json={**who, "name": "Someone Else", "newAccount": new.address},
                     headers=office)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "identity_mismatch"
    (first,) = trail_events(api_city, resident.address)
    assert (first["args"]["actor"], first["args"]["purpose"]) == (api_city.onboarding.address, RECOVERY_VERIFICATION)

    started = api.post("/v1/recoveries", json={**who, "newAccount": new.address}, headers=office)
    assert started.status_code == 201, started.text
    entries = trail_events(api_city, resident.address)
    assert len(entries) == 2
    request = w3.eth.get_transaction_receipt(started.json()["txHash"])
    entry = w3.eth.get_transaction_receipt(entries[1]["transactionHash"])
    # the entry was mined before the request that the opened data decided was sent
    assert (entry["blockNumber"], entry["transactionIndex"]) < (request["blockNumber"], request["transactionIndex"])
    assert entries[1]["args"]["id"] == entries[0]["args"]["id"] + 1


def test_trailNotMined_orRefused_theDataStaysClosed_503(api, w3, api_city, keys, live, monkeypatch):
    office = auth(keys["onboarding"])
    who = person("T2")
    resident = onboard(api, keys, who)
    wrong = {**who, "name": "Someone Else", "newAccount": Account.create().address}  # 422 only if the data is opened
    before = live.rt.settings
    live.rt.replace_settings(before.model_copy(update={"confirm_timeout_s": 1.5}))
    w3.provider.make_request("evm_setAutomine", [False])  # the node takes the entry but does not mine it
    try:
        resp = api.post("/v1/recoveries", json=wrong, headers=office)
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"]["code"] == "trail_unavailable"
        assert "stays closed" in resp.json()["error"]["message"]
        assert trail_events(api_city, resident.address) == []
    finally:
        live.rt.replace_settings(before)
        w3.provider.make_request("evm_setAutomine", [True])
        w3.provider.make_request("evm_mine", [])
    until_relayer_idle(live.rt)
    # the chain refuses the entry (a deployment whose trail address names another contract): closed as well
    monkeypatch.setitem(live.rt.chain.addresses, "IdentityTrail", api_city.contracts["Membership"].address)
    count = len(trail_events(api_city, resident.address))
    resp = api.post("/v1/recoveries", json=wrong, headers=office)
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "trail_unavailable", resp.text
    assert "refused" in resp.json()["error"]["message"]
    assert len(trail_events(api_city, resident.address)) == count


def test_residentReadsTheirTrail_andObjectsOnce(api, w3, api_city, keys, live):
    office = auth(keys["onboarding"])
    who = person("T3")
    resident = onboard(api, keys, who)
    api.post("/v1/recoveries", json={**who, "name": "x", "newAccount": Account.create().address}, headers=office)
    wait_indexed(api, w3)
    url = f"/v1/residents/{resident.address}/identity_trail"
    assert api.get(url).status_code == 401
    other = api.get(url, headers=auth(resident_token(api, api_city.residents[0])))
    assert other.status_code == 403 and other.json()["error"]["code"] == "wrong_resident"
    token = auth(resident_token(api, resident))
    entry, registered = api.get(url, headers=token).json()["data"]  # newest first: the check, then the registration
    assert (entry["actor"], entry["purpose"], entry["objected"]) == (api_city.onboarding.address,
                                                                      "recovery-verification", False)
    assert (registered["actor"], registered["purpose"]) == (api_city.onboarding.address, "onboarding")
    assert entry["actorName"] == live.rt.settings.onboarding_office_name
    assert abs(entry["at"] - time.time()) < 600
    doc = entry["objection"]
    assert doc["primaryType"] == "TrailObjection" and doc["message"]["entryId"] == entry["id"]
    m = doc["message"]
    body = {"resident": resident.address, "nonce": m["nonce"], "deadline": m["deadline"]}
    forged = api.post(f"/v1/identity_trail/{entry['id']}/objection",
                      json={**body, "signature": "0x" + sign(Account.create(), doc).hex()})
    assert forged.status_code == 422 and forged.json()["error"]["code"] == "invalid_signature"
    stranger = api_city.residents[1]  # not this stranger's entry
    sdoc = dict(doc, message={**m, "resident": stranger.address})
    foreign = api.post(f"/v1/identity_trail/{entry['id']}/objection",
                       json={**body, "resident": stranger.address, "signature": "0x" + sign(stranger, sdoc).hex()})
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "trail_entry_not_found"
    signed = {**body, "signature": "0x" + sign(resident, doc).hex()}
    ok = api.post(f"/v1/identity_trail/{entry['id']}/objection", json=signed)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "objected"
    trail = api_city.contracts["IdentityTrail"]
    (ev,) = trail.events.UseObjected().get_logs(from_block=ok.json()["block"], to_block=ok.json()["block"])
    assert (ev["args"]["entryId"], ev["args"]["resident"]) == (entry["id"], resident.address)
    wait_indexed(api, w3)
    after, untouched = api.get(url, headers=token).json()["data"]
    assert after["objected"] and after["objectionTxHash"] == ok.json()["txHash"] and after["objection"] is None
    assert not untouched["objected"] and untouched["purpose"] == "onboarding"
    replay = api.post(f"/v1/identity_trail/{entry['id']}/objection", json=signed)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "objection_already_used"


def issuer_key(live, account: str) -> str:
    from exchange_api.merchant_keys import create_key
    return live.rt.store.call(lambda s: create_key(s, name="volunteer federation", role="issuer",
                                                   account=account).api_key)


def test_issuerLookup_byIdentityNumber_isOnTheTrailFirst_andRefusedWithoutIt(api, w3, api_city, keys, live):
    from ledger_node.deploy.system import call
    who = person("T4")
    resident = onboard(api, keys, who)
    key = auth(issuer_key(live, api_city.issuer1.address))
    ref = "0x" + "ab" * 32
    body = {"identityNumber": who["identityNumber"], "purpose": "issuance-lookup", "requestRef": ref}
    found = api.post("/v1/residents/lookup", json=body, headers=key)
    assert found.status_code == 200, found.text
    assert found.json()["address"] == resident.address
    (entry,) = trail_events(api_city, resident.address)
    assert dict(entry["args"], at=0) == {"id": found.json()["trailEntry"], "resident": resident.address,
                                         "actor": api_city.issuer1.address,
                                         "purpose": TRAIL_PURPOSE_CODES["issuance-lookup"],
                                         "requestRef": bytes.fromhex(ref[2:]), "at": 0}
    # refusals: no resident (no entry), not an issuer key, bad input
    none = api.post("/v1/residents/lookup", json={**body, "identityNumber": "5101X0000000"}, headers=key)
    assert none.status_code == 404 and none.json()["error"]["code"] == "resident_not_found"
    merchant = api.post("/v1/residents/lookup", json=body, headers=auth(keys["merchant"]))
    assert merchant.status_code == 403 and merchant.json()["error"]["code"] == "wrong_key_role"
    for bad in ({**body, "purpose": "curiosity"}, {**body, "requestRef": "0x12"}, {**body, "identityNumber": "1"}):
        assert api.post("/v1/residents/lookup", json=bad, headers=key).status_code == 422
    assert len(trail_events(api_city, resident.address)) == 1
    # the chain refuses the entry (the relayer accounts lost their role): no address is given out
    m = api_city.contracts["Membership"]
    relayer_role = m.functions.RELAYER_ROLE().call()
    api_city.govern(w3, [call(m, "revokeRole", relayer_role, r.address) for r in api_city.relayers])
    refused = api.post("/v1/residents/lookup", json=body, headers=key)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "trail_unavailable", refused.text
    assert resident.address not in refused.text
    assert len(trail_events(api_city, resident.address)) == 1


def test_issuerKey_whoseAccountIsNoIssuerOnChain_isRefused_andNothingIsWritten(api, w3, api_city, keys, live):
    """A key names an account; the chain says whether it issues. One made for an account that never issued, and one
    whose issuer governance removed, may not look residents up: 403 `not_an_issuer`, no address, no trail entry."""
    from ledger_node.deploy.system import call
    from tests.exchange_api.conftest import S1
    who = person("T5")
    resident = onboard(api, keys, who)
    body = {"identityNumber": who["identityNumber"], "purpose": "issuance-lookup", "requestRef": "0x" + "ef" * 32}
    stranger = api.post("/v1/residents/lookup", json=body, headers=auth(issuer_key(live, Account.create().address)))
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "not_an_issuer", stranger.text
    assert resident.address not in stranger.text
    key = auth(issuer_key(live, api_city.issuer1.address))
    assert api.post("/v1/residents/lookup", json=body, headers=key).status_code == 200
    api_city.govern(w3, [call(api_city.contracts["Membership"], "setIssuerAccounts", S1, [])])
    removed = api.post("/v1/residents/lookup", json=body, headers=key)
    assert removed.status_code == 403 and removed.json()["error"]["code"] == "not_an_issuer", removed.text
    assert resident.address not in removed.text
    assert len(trail_events(api_city, resident.address)) == 1  # the lookup made while it was an issuer


def test_aBurstOfLookups_sharesTrailTransactions_eachAnsweredAfterItsEntry(api, w3, api_city, keys, live):
    """Uses that arrive together are written in one `record` (one event each): fewer transactions than uses."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    people = [person(f"B{i:02d}") for i in range(12)]
    residents = [onboard(api, keys, p) for p in people]
    key = auth(issuer_key(live, api_city.issuer2.address))

    def lookup(p):
        with httpx.Client(base_url=live.url, timeout=30) as client:
            return client.post("/v1/residents/lookup", headers=key, json={
                "identityNumber": p["identityNumber"], "purpose": "issuance-lookup", "requestRef": "0x" + "cd" * 32})

    with ThreadPoolExecutor(len(people)) as pool:
        answers = list(pool.map(lookup, people))
    assert [a.status_code for a in answers] == [200] * len(people), [a.text for a in answers]
    assert [a.json()["address"] for a in answers] == [r.address for r in residents]
    entries = [e for r in residents for e in trail_events(api_city, r.address)]
    assert sorted(e["args"]["id"] for e in entries) == sorted(a.json()["trailEntry"] for a in answers)
    for answer, resident in zip(answers, residents):
        (entry,) = trail_events(api_city, resident.address)
        assert entry["args"]["id"] == answer.json()["trailEntry"]
    transactions = {e["transactionHash"] for e in entries}
    print(f"\n{len(people)} concurrent lookups: {len(transactions)} trail transaction(s)")
    assert len(transactions) < len(people), f"{len(transactions)} transactions for {len(people)} lookups"


def test_sdk_lookupResident_answersTheAddress_andSaysWhyItCannot(api, api_city, keys, live):
    import pytest

    from issuer_sdk.resident_lookup import ResidentLookupError, lookup_resident

    who = person("S1")
    resident = onboard(api, keys, who)
    key = issuer_key(live, api_city.issuer1.address)
    found = lookup_resident(live.url, key, who["identityNumber"], b"\x05" * 32)
    assert found.address == resident.address
    (entry,) = trail_events(api_city, resident.address)
    assert entry["args"]["id"] == found.trail_entry and entry["args"]["requestRef"] == b"\x05" * 32
    with pytest.raises(ResidentLookupError) as info:
        lookup_resident(live.url, key, "5101X0000000", b"\x06" * 32)
    assert (info.value.code, info.value.status) == ("resident_not_found", 404)
    assert "5101X0000000" not in str(info.value)
    with pytest.raises(ResidentLookupError) as info:
        lookup_resident(live.url, keys["merchant"], who["identityNumber"], b"\x06" * 32)
    assert info.value.code == "wrong_key_role"


def test_pointsForAPersonNotJoined_waitUnderTheirHash_andTheirRegistrationTakesThem(api, w3, api_city, keys, live,
                                                                                    node):
    """An issuer credits a member of its programme who has no wallet yet: the lookup (asked to hold) answers the
    keyed identity hash, on the trail under the held account; the SDK issues to the hash; the points wait on chain
    where no one can spend them; the office registers the person and the points are theirs in that step."""
    from issuer_sdk import IssuerClient, LocalSigner
    from issuer_sdk.resident_lookup import lookup_resident
    from ledger_node.domain import held_account_of
    from tests.exchange_api.conftest import S1

    who = person("H1")
    key = issuer_key(live, api_city.issuer1.address)
    found = lookup_resident(live.url, key, who["identityNumber"], b"\x07" * 32, hold_if_not_joined=True)
    assert found.address is None and found.held_account == held_account_of(found.identity_hash)
    assert who["identityNumber"] not in found.identity_hash
    (entry,) = trail_events(api_city, found.held_account)
    assert entry["args"]["id"] == found.trail_entry and entry["args"]["actor"] == api_city.issuer1.address

    ledger = api_city.contracts["PointsLedger"]
    with IssuerClient(node.url, ledger.address, LocalSigner(bytes(api_city.issuer1.key)), S1, b"\x11" * 32) as sdk:
        issued = sdk.issue_to_identity(found.identity_hash, 25, "volunteer-2026-11-30-H1", reason=7)
        again = sdk.issue_to_identity(found.identity_hash, 25, "volunteer-2026-11-30-H1", reason=7)
    assert (issued.status, issued.balance_after, again.status) == ("issued", 25, "duplicate")
    assert ledger.functions.balanceOf(found.held_account, S1).call() == 25

    resident = onboard(api, keys, who)  # the office registers the person: their held points move in that step
    assert ledger.functions.balanceOf(resident.address, S1).call() == 25
    assert ledger.functions.balanceOf(found.held_account, S1).call() == 0
    joined = lookup_resident(live.url, key, who["identityNumber"], b"\x08" * 32, hold_if_not_joined=True)
    assert (joined.address, joined.held_account, joined.identity_hash) == (resident.address, None,
                                                                             found.identity_hash)
    # the resident's trail shows both lookups: the one before joining (no objection to sign) and the one after
    wait_indexed(api, w3)
    trail = api.get(f"/v1/residents/{resident.address}/identity_trail",
                    headers=auth(resident_token(api, resident))).json()["data"]
    by_id = {e["id"]: e for e in trail}
    before, after = by_id[found.trail_entry], by_id[joined.trail_entry]
    assert (before["beforeJoining"], before["objection"], before["purpose"]) == (True, None, "issuance-lookup")
    assert after["beforeJoining"] is False and after["objection"]["message"]["entryId"] == joined.trail_entry
