"""Key recovery through the API (SQLite and PostgreSQL): the registration office starts a recovery from the
resident's identity data; the old key objects without gas (a signed RecoveryObjection the API relays), which stops
it for good (a replay is refused, a forged one sends nothing); a recovery left alone completes after the notice and
the resident's balances are on the new key, where a later refund of an earlier payment goes too."""
from __future__ import annotations

import time

from eth_account import Account
from web3 import Web3

from ledger_node.deploy.system import call
from ledger_node.typed_data import sign

from tests.exchange_api.conftest import S1, auth, until_relayer_idle, wait_indexed

ZERO = "0x" + "00" * 20


def onboard(api, keys, person: dict) -> Account:
    """A resident registered by the office (its identity hash is the API's keyed hash of the identity number)."""
    resident = Account.create()
    resp = api.post("/v1/onboarding/residents", json={"address": resident.address, **person},
                    headers=auth(keys["onboarding"]))
    assert resp.status_code == 201, resp.text
    return resident


def person(tag: str) -> dict:
    return {"name": f"Lin {tag}", "identityNumber": f"5101{tag}19900101", "phone": "+86 138 0000 0000"}


def relayed_count(w3, api_city) -> int:
    """Transactions sent by the API's relayer and onboarding accounts so far."""
    return sum(w3.eth.get_transaction_count(a.address) for a in [*api_city.relayers, api_city.onboarding])


def until_chain_time(w3, t: int, timeout: float = 30) -> None:
    """Until the chain's latest block is at or past unix time `t` (blocks mined as the clock goes; the chain's
    clock may run ahead of this machine's)."""
    deadline = time.monotonic() + timeout
    while w3.eth.get_block("latest")["timestamp"] < t:
        assert time.monotonic() < deadline, "the chain's clock did not reach the notice's end"
        time.sleep(0.5)
        w3.provider.make_request("evm_mine", [])


def objection_body(doc: dict, signer) -> dict:
    m = doc["message"]
    return {"newAccount": m["newAccount"], "nonce": m["nonce"], "deadline": m["deadline"],
            "signature": "0x" + sign(signer, doc).hex()}


def test_objectionByTheOldKey_stopsTheRecovery_aReplayIs409_andAForgedOneSendsNothing(api, w3, api_city, keys):
    office = auth(keys["onboarding"])
    who = person("A1")
    old, new = onboard(api, keys, who), Account.create()
    started = api.post("/v1/recoveries", json={**who, "newAccount": new.address}, headers=office)
    assert started.status_code == 201, started.text
    r = started.json()
    assert (r["account"], r["newAccount"], r["state"]) == (old.address, new.address, "pending")
    assert r["startedBy"]["address"] == api_city.onboarding.address and not r["executable"]
    assert r["executableAt"] > time.time() + 86_400  # the city's notice: days, not seconds

    status = api.get(f"/v1/recoveries/{old.address}").json()
    assert status["state"] == "pending" and status["nonce"] == r["nonce"]
    toward = api.get("/v1/recoveries", params={"newAccount": new.address}).json()["data"]
    assert [x["account"] for x in toward] == [old.address]
    again = api.post("/v1/recoveries", json={**who, "newAccount": Account.create().address}, headers=office)
    assert again.status_code == 409 and again.json()["error"]["code"] == "recovery_pending"

    doc = status["objection"]
    assert doc["primaryType"] == "RecoveryObjection" and doc["message"]["account"] == old.address
    before = relayed_count(w3, api_city)
    forged = api.post(f"/v1/recoveries/{old.address}/objection", json=objection_body(doc, Account.create()))
    assert forged.status_code == 422 and forged.json()["error"]["code"] == "invalid_signature"
    late = dict(doc, message={**doc["message"], "deadline": int(time.time()) - 5})
    expired = api.post(f"/v1/recoveries/{old.address}/objection", json=objection_body(late, old))
    assert expired.status_code == 422 and expired.json()["error"]["code"] == "signature_expired"
    assert relayed_count(w3, api_city) == before  # nothing sent for a bad objection
    assert api_city.contracts["Membership"].functions.pendingRecovery(old.address).call()[0] == new.address

    body = objection_body(doc, old)
    objected = api.post(f"/v1/recoveries/{old.address}/objection", json=body)
    assert objected.status_code == 200, objected.text
    assert objected.json()["state"] == "objected" and objected.json()["endTxHash"]
    assert api_city.contracts["Membership"].functions.pendingRecovery(old.address).call()[0] == ZERO
    sent = relayed_count(w3, api_city)
    replay = api.post(f"/v1/recoveries/{old.address}/objection", json=body)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "objection_replayed"
    # also once a new request is pending: the old objection names the old request's nonce
    assert api.post("/v1/recoveries", json={**who, "newAccount": new.address}, headers=office).status_code == 201
    replay = api.post(f"/v1/recoveries/{old.address}/objection", json=body)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "objection_replayed"
    assert relayed_count(w3, api_city) == sent + 2  # the second request and its identity check's trail entry
    assert api.get(f"/v1/recoveries/{old.address}").json()["state"] == "pending"
    assert api.post(f"/v1/recoveries/{old.address}/cancel", headers=office).json()["state"] == "cancelled"
    assert api.get(f"/v1/recoveries/{old.address}").json()["state"] == "cancelled"


def test_recoveryLeftAlone_completesAfterTheNotice_balancesMove_andALaterRefundGoesToTheNewKey(api, w3, api_city,
                                                                                                 keys):
    m, ledger = api_city.contracts["Membership"], api_city.contracts["PointsLedger"]
    api_city.govern(w3, [call(m, "setRecoveryNotice", 3)])
    assert api.get("/v1/recoveries/policy").json()["noticeSeconds"] == 3
    office = auth(keys["onboarding"])
    who = person("B2")
    old, new = onboard(api, keys, who), Account.create()
    from ledger_node import chain
    chain.transact(w3, api_city.issuer1, ledger.functions.issue(S1, old.address, 700, Web3.keccak(text="rec-b2")))
    paid = api.post("/v1/redemptions", json=api_city.consent(w3, old, 1000), headers=auth(keys["merchant"]))
    assert paid.status_code == 201, paid.text
    held = ledger.functions.balanceOf(old.address, S1).call()

    r = api.post("/v1/recoveries", json={**who, "newAccount": new.address}, headers=office).json()
    early = api.post(f"/v1/recoveries/{old.address}/complete", headers=office)
    assert early.status_code == 409 and early.json()["error"]["code"] == "notice_pending"
    until_chain_time(w3, r["executableAt"])
    assert api.get(f"/v1/recoveries/{old.address}").json()["executable"]
    done = api.post(f"/v1/recoveries/{old.address}/complete", headers=office)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "completed"
    assert (ledger.functions.balanceOf(new.address, S1).call(), ledger.functions.balanceOf(old.address, S1).call()) \
        == (held, 0)
    assert (m.functions.isResident(old.address).call(), m.functions.isResident(new.address).call()) == (False, True)
    wait_indexed(api, w3)
    balances = {b["scheme"]: b["points"] for b in api.get(f"/v1/residents/{new.address}/balances").json()["balances"]}
    assert balances[S1] == held
    assert api.get("/v1/recoveries", params={"newAccount": new.address}).json()["data"][0]["state"] == "completed"

    refund = api.post(f"/v1/redemptions/{paid.json()['id']}/refunds", json={"credits": 1000},
                      headers=auth(keys["merchant"]))
    assert refund.status_code == 201, refund.text
    assert ledger.functions.balanceOf(new.address, S1).call() > held
    assert ledger.functions.balanceOf(old.address, S1).call() == 0
    until_relayer_idle(api.live.rt)


def test_start_refusesClearly_andSendsNothing(api, w3, api_city, keys):
    office = auth(keys["onboarding"])
    who = person("C3")
    old = onboard(api, keys, who)
    before = relayed_count(w3, api_city)

    def refused(body, status, code, headers=office):
        resp = api.post("/v1/recoveries", json=body, headers=headers)
        assert resp.status_code == status, resp.text
        assert resp.json()["error"]["code"] == code
        assert who["identityNumber"] not in resp.text and who["name"] not in resp.text
    fresh = Account.create().address
    refused({**who, "identityNumber": "5101X0000000", "newAccount": fresh}, 404, "resident_not_found")
    refused({**who, "name": "Somebody Else", "newAccount": fresh}, 422, "identity_mismatch")
    refused({**who, "newAccount": api_city.residents[0].address}, 409, "already_resident")
    refused({**who, "newAccount": old.address}, 409, "already_resident")
    refused({**who, "newAccount": api_city.merchant.address}, 409, "account_holds_role")
    refused({**who, "newAccount": "0x1234"}, 422, "invalid_request")
    refused({**who, "newAccount": fresh, "extra": 1}, 422, "invalid_request")
    refused({**who, "newAccount": fresh}, 403, "wrong_key_role", headers=auth(keys["merchant"]))
    refused({**who, "newAccount": fresh}, 401, "missing_api_key", headers={})
    # only the mismatch opened the kept data, and its use is on the identity-use trail (one transaction)
    assert relayed_count(w3, api_city) == before + 1
    assert api.get(f"/v1/recoveries/{old.address}").status_code == 404
    for path in ("complete", "cancel"):
        resp = api.post(f"/v1/recoveries/{old.address}/{path}", headers=office)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "recovery_not_found"
    assert api.get("/v1/recoveries", params={"newAccount": "0xnope"}).status_code == 422


def test_officeCli_startsReadsAndCancels_asJson_andSaysWhyItRefuses(api, w3, api_city, keys):
    """`citypoints residents recover start|status|cancel --json` (typer in-process, the live API over HTTP)."""
    import json

    from typer.testing import CliRunner

    from scripts.cli import app
    who = person("D4")
    old, new = onboard(api, keys, who), Account.create()
    env = {"CITYPOINTS_OFFICE_API_KEY": keys["onboarding"]}
    base = ["--api", api.live.url, "--json"]
    runner = CliRunner()
    started = runner.invoke(app, ["residents", "recover", "start", new.address, "--name", who["name"],
                                  "--phone", who["phone"], *base], input=who["identityNumber"] + "\n", env=env)
    assert started.exit_code == 0, started.output
    answer = json.loads(started.stdout.strip().splitlines()[-1])
    assert (answer["account"], answer["state"]) == (old.address, "pending")
    assert who["identityNumber"] not in started.stdout  # asked for without echo
    status = runner.invoke(app, ["residents", "recover", "status", old.address, *base])
    assert json.loads(status.stdout)["newAccount"] == new.address
    early = runner.invoke(app, ["residents", "recover", "complete", old.address, *base], env=env)
    assert early.exit_code == 1 and "notice_pending" in early.output
    cancelled = runner.invoke(app, ["residents", "recover", "cancel", old.address, *base], env=env)
    assert cancelled.exit_code == 0 and json.loads(cancelled.stdout)["state"] == "cancelled"
    words = runner.invoke(app, ["residents", "recover", "status", old.address, "--api", api.live.url])
    assert words.exit_code == 0 and "cancelled" in words.stdout and api_city.onboarding.address in words.stdout
