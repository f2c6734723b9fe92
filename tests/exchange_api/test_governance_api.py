"""The console's governance over HTTP (both databases): proposals with their approvals n of m and who approved how,
a member's signed approval relayed to Consortium.approveBySig, its refusals (nothing sent), the relay's rate limit;
the node's block age and the daily issuance and redemptions."""
from __future__ import annotations

import time

from eth_account import Account

from exchange_api.services.governance import DAILY_CACHE_S
from ledger_node.deploy.system import call
from ledger_node.typed_data import sign, typed_data

from tests.exchange_api.conftest import S1, auth, wait_indexed


def _two_members(w3, api_city):
    """A second member and M = 2 (the city's own governance, reverted after the test)."""
    member = Account.create()
    c = api_city.contracts["Consortium"]
    api_city.govern(w3, [call(c, "addMember", member.address), call(c, "setThresholds", 2, 1)])
    return member


def _propose(w3, api_city, cap: int) -> int:
    from ledger_node import chain
    c = api_city.contracts["Consortium"]
    receipt = chain.transact(w3, api_city.operator, c.functions.propose(
        [call(api_city.contracts["PointsLedger"], "setResidentDailyCap", S1, cap)], f"cap {cap}"))
    return c.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]


def _signed(listing: dict, proposal: dict, signer, deadline: int) -> dict:
    """What the console page signs: the ProposalApproval of the calls the listing shows."""
    doc = typed_data("ProposalApproval", listing["chainId"], listing["consortium"],
                     {"proposalId": proposal["id"], "callsHash": proposal["callsHash"], "deadline": deadline})
    return {"member": signer.address, "deadline": deadline, "signature": "0x" + sign(signer, doc).hex()}


def test_proposals_signedApprovalRelayedMovesNofM(api, w3, api_city):
    member = _two_members(w3, api_city)
    pid = _propose(w3, api_city, 77)
    wait_indexed(api, w3)
    listing = api.get("/v1/proposals", params={"state": "open"}).json()
    (p,) = [x for x in listing["data"] if x["id"] == pid]
    assert (p["state"], p["approvals"], p["required"], p["description"]) == ("open", 1, 2, "cap 77")
    assert [(a["member"], a["how"], a["counts"]) for a in p["approvedBy"]] == [
        (api_city.operator.address, "transaction", True)]
    assert p["callsHash"] == "0x" + api_city.contracts["Consortium"].functions.proposalCallsHash(pid).call().hex()
    assert set(listing["members"]) == {api_city.operator.address, member.address}

    body = _signed(listing, p, member, listing["chainTime"] + 3600)
    done = api.post(f"/v1/proposals/{pid}/approvals", json=body)
    assert done.status_code == 201, done.text
    shown = done.json()["proposal"]
    assert (shown["state"], shown["approvals"], shown["required"]) == ("executable", 2, 2)
    signed = [a for a in shown["approvedBy"] if a["member"] == member.address]
    assert signed and signed[0]["how"] == "signature"
    assert signed[0]["submitter"] in {r.address for r in api_city.relayers}
    assert api_city.contracts["Consortium"].functions.hasApproved(pid, member.address).call()
    again = api.post(f"/v1/proposals/{pid}/approvals", json=body)
    assert again.status_code == 200 and again.json()["status"] == "already_approved"
    assert api.get(f"/v1/proposals/{pid}").json()["approvals"] == 2


def test_approvalRelay_refusesWhatTheContractWouldAndSendsNothing(api, w3, api_city):
    member = _two_members(w3, api_city)
    first, second = _propose(w3, api_city, 77), _propose(w3, api_city, 78)
    wait_indexed(api, w3)
    listing = api.get("/v1/proposals").json()
    by_id = {p["id"]: p for p in listing["data"]}
    now = listing["chainTime"]
    nonce_before = w3.eth.get_transaction_count(api_city.relayers[0].address) + \
        w3.eth.get_transaction_count(api_city.relayers[1].address)
    cases = [
        (second, _signed(listing, by_id[first], member, now + 3600), 422, "invalid_signature"),  # moved
        (first, _signed(listing, by_id[first], member, now - 1), 422, "approval_expired"),
        (first, {**_signed(listing, by_id[first], Account.create(), now + 3600), "member": member.address}, 422,
         "invalid_signature"),  # forged
        (first, _signed(listing, by_id[first], Account.create(), now + 3600), 403, "signer_not_member"),
        (second + 100, _signed(listing, by_id[first], member, now + 3600), 404, "proposal_not_found"),
    ]
    for pid, body, status, code in cases:
        resp = api.post(f"/v1/proposals/{pid}/approvals", json=body)
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), (code, resp.text)
    for bad in ({"signature": "0x1234"}, {"deadline": 2**64}, {"member": "me"}, {"extra": 1}):
        body = {**_signed(listing, by_id[first], member, now + 3600), **bad}
        resp = api.post(f"/v1/proposals/{first}/approvals", json=body)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_request", bad
    assert w3.eth.get_transaction_count(api_city.relayers[0].address) + \
        w3.eth.get_transaction_count(api_city.relayers[1].address) == nonce_before
    assert api_city.contracts["Consortium"].functions.approvalCount(first).call() == 1


def test_approvalRelay_isRateLimitedPerAddress(api, w3, api_city):
    _two_members(w3, api_city)
    pid = _propose(w3, api_city, 79)
    wait_indexed(api, w3)
    body = {"member": api_city.operator.address, "deadline": 2**40, "signature": "0x" + "11" * 65}
    answers = [api.post(f"/v1/proposals/{pid}/approvals", json=body) for _ in range(12)]
    assert answers[0].status_code == 200  # the operator's own approval already counts
    limited = [a for a in answers if a.status_code == 429]
    assert limited and limited[0].json()["error"]["code"] == "rate_limited" and "Retry-After" in limited[0].headers


def test_nodeAndDailyActivity_blockAgeAndPointsPerDay(api, w3, api_city, keys):
    from ledger_node import chain
    chain.transact(w3, api_city.issuer1, api_city.contracts["PointsLedger"].functions.issue(
        S1, api_city.residents[0].address, 123, b"\x42" * 32))
    done = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[1], 40),
                    headers=auth(keys["merchant"]))
    assert done.status_code == 201, done.text
    wait_indexed(api, w3)
    node = api.get("/v1/node").json()
    head = w3.eth.get_block("latest")
    assert node["head"] >= head["number"] - 1 and node["headTimestamp"] <= head["timestamp"]
    assert 0 <= node["blockAgeSeconds"] < 600
    time.sleep(DAILY_CACHE_S)
    days = api.get("/v1/activity/daily").json()["days"]
    assert len(days) == 14
    today = days[-1]
    assert today["day"] == time.strftime("%Y-%m-%d", time.gmtime(head["timestamp"]))
    assert today["issued"] >= 123 and today["redeemed"] >= 1  # 40 credit cents at 10 a point: 4 points
    assert api.get("/v1/activity/daily", params={"days": 32}).status_code == 422


def test_attestationsAndMerchantStatuses_asTheConsoleShowsThem(api, w3, api_city):
    """An auditor's attestation on chain appears (newest first, with the blocks it covers and those come since),
    and a merchant the consortium suspends is counted and listed as suspended; bad limits are 422."""
    from ledger_node import chain
    membership, attestations = api_city.contracts["Membership"], api_city.contracts["AuditAttestations"]
    auditor = Account.create()
    chain.fund(w3, api_city.operator, [auditor.address], 10**18)
    api_city.govern(w3, [call(membership, "grantRole", membership.functions.AUDITOR_ROLE().call(), auditor.address),
                         call(membership, "setMerchantSuspended", api_city.merchant2.address, True)])
    covered = w3.eth.block_number
    receipts = [chain.transact(w3, auditor, attestations.functions.attest(bytes([k]) * 32, bytes([k + 8]) * 32, 0,
                                                                          covered)) for k in (1, 2)]
    wait_indexed(api, w3)
    latest = api.get("/v1/attestations", params={"limit": 1}).json()["data"]
    assert len(latest) == 1
    a = latest[0]
    assert (a["auditor"], a["reportHash"], a["merkleRoot"], a["toBlock"]) == (
        auditor.address, "0x" + "02" * 32, "0x" + "0a" * 32, covered)
    assert a["block"] == receipts[1]["blockNumber"] and a["blocksSince"] >= 2
    assert a["id"] == attestations.functions.attestationCount().call()
    assert api.get("/v1/attestations", params={"limit": 51}).status_code == 422

    shown = api.get("/v1/merchants").json()
    status = {m["address"]: m["status"] for m in shown["data"]}
    assert status[api_city.merchant2.address] == "suspended" and status[api_city.merchant.address] == "active"
    assert shown["counts"] == {"active": list(status.values()).count("active"),
                               "suspended": list(status.values()).count("suspended")}


def test_proposalApproval_byAContractMember_EIP1271_isRelayed_andItsWrongSignaturesRefused(api, w3, api_city):
    """A member organisation whose account is a contract wallet (EIP-1271) approves through the console's relay as
    the contract accepts it; a signature it does not accept, of any length up to 1,024 bytes, is refused with
    nothing sent, and a longer one is refused by the request's shape."""
    from ledger_node import chain
    owner = Account.create()
    wallet = chain.deploy_contract(w3, api_city.operator, "ContractWalletMock", owner.address)
    c = api_city.contracts["Consortium"]
    api_city.govern(w3, [call(c, "addMember", wallet), call(c, "setThresholds", 2, 1)])
    pid = _propose(w3, api_city, 79)
    wait_indexed(api, w3)
    listing = api.get("/v1/proposals", params={"state": "open"}).json()
    (p,) = [x for x in listing["data"] if x["id"] == pid]
    deadline = listing["chainTime"] + 3600
    nonce_before = [w3.eth.get_transaction_count(r.address) for r in api_city.relayers]
    for wrong in ("0x" + "11" * 65, "0x" + "22" * 200):
        refused = api.post(f"/v1/proposals/{pid}/approvals",
                           json={"member": wallet, "deadline": deadline, "signature": wrong})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_signature", refused.text
    too_long = api.post(f"/v1/proposals/{pid}/approvals",
                        json={"member": wallet, "deadline": deadline, "signature": "0x" + "33" * 1025})
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "invalid_request"
    assert [w3.eth.get_transaction_count(r.address) for r in api_city.relayers] == nonce_before  # nothing sent

    body = {**_signed(listing, p, owner, deadline), "member": wallet}  # the owner's key signs for the wallet
    done = api.post(f"/v1/proposals/{pid}/approvals", json=body)
    assert done.status_code == 201, done.text
    assert c.functions.hasApproved(pid, wallet).call()
    assert done.json()["proposal"]["state"] == "executable"
