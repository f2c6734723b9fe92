"""What the wallet reads to tell the resident everything (issue 23), on SQLite and PostgreSQL: today's caps as the
chain counts them, the balance lines and Merkle proofs of the auditor's last attested report (found by the hash
attested on chain, proofs the tree's own), clear 404s before an attestation or without its report, and the
spending order's refusals."""
from __future__ import annotations

import json
import os

from eth_account import Account

from ledger_node import chain
from ledger_node.deploy.system import call
from ledger_node.domain import UINT96_MAX
from ledger_node.merkle import LEAF_ENCODING, BalanceTree, verify

from .conftest import S1, S2, auth, wait_indexed


def test_caps_areTheChainsCountOfToday_andAProgrammeWithoutACapSaysSo(api, w3, api_city):
    ledger = api_city.contracts["PointsLedger"]
    api_city.govern(w3, [call(ledger, "setResidentDailyCap", S1, 2_000), call(ledger, "setResidentDailyCap", S2,
                                                                              UINT96_MAX)])
    resident = api_city.residents[3]
    chain.transact(w3, api_city.issuer1, ledger.functions.issue(S1, resident.address, 250, os.urandom(32)))
    wait_indexed(api, w3)
    got = api.get(f"/v1/residents/{resident.address}/caps")
    assert got.status_code == 200, got.text
    body = got.json()
    caps = {x["scheme"]: x for x in body["caps"]}
    received = ledger.functions.receivedToday(S1, resident.address).call()
    assert received >= 250 and caps[S1]["receivedToday"] == received
    assert (caps[S1]["cap"], caps[S1]["left"]) == (2_000, 2_000 - received)
    assert caps[S2]["cap"] is None and caps[S2]["left"] is None
    assert caps[S2]["receivedToday"] == ledger.functions.receivedToday(S2, resident.address).call()
    assert body["day"] == ledger.functions.today().call()
    assert body["resetsAt"] == (body["day"] + 1) * 86_400 - ledger.functions.dayOffset().call()
    assert api.get("/v1/residents/0x1234/caps").status_code == 422


def test_balanceProof_servesTheAttestedReportsLines_thatVerifyAgainstTheRootOnChain(api, w3, api_city):
    c = api_city.contracts
    resident = api_city.residents[4]
    assert api.get(f"/v1/residents/{resident.address}/balance_proof").json()["error"]["code"] == "no_attestation"

    # a report of every resident's balances at this block, written without proofs (as `audit --no-proofs` does)
    ledger = c["PointsLedger"]
    head = w3.eth.block_number
    lines = [(r.address, s, ledger.functions.balanceOf(r.address, s).call(block_identifier=head))
             for r in api_city.residents for s in (S1, S2)]
    tree = BalanceTree([x for x in lines if x[2]])
    report = {"reportHash": "0x" + os.urandom(32).hex(), "fromBlock": 0, "toBlock": head, "status": "clean",
              "merkle": {"root": tree.root, "leafEncoding": LEAF_ENCODING,
                         "lines": [{"account": a, "scheme": s, "balance": b} for a, s, b in lines if b]}}
    auditor = Account.create()
    chain.fund(w3, api_city.operator, [auditor.address], 10**18)
    membership = c["Membership"]
    api_city.govern(w3, [call(membership, "grantRole", membership.functions.AUDITOR_ROLE().call(), auditor.address)])
    chain.transact(w3, auditor, c["AuditAttestations"].functions.attest(
        bytes.fromhex(report["reportHash"][2:]), bytes.fromhex(tree.root[2:]), 0, head))
    wait_indexed(api, w3)
    missing = api.get(f"/v1/residents/{resident.address}/balance_proof")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "audit_report_not_found", missing.text

    folder = api.live.settings.audit_dir
    folder.mkdir(parents=True, exist_ok=True)
    decoy = dict(report, reportHash="0x" + os.urandom(32).hex(),
                 merkle=dict(report["merkle"], lines=[{"account": resident.address, "scheme": S1, "balance": 1}]))
    (folder / f"report-{head + 1}.json").write_text(json.dumps(decoy))   # not the attested one: never served
    (folder / f"report-{head}.json").write_text(json.dumps(report))
    try:
        got = api.get(f"/v1/residents/{resident.address}/balance_proof")
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["attestation"]["merkleRoot"] == tree.root and body["attestation"]["toBlock"] == head
        assert body["report"]["reportHash"] == report["reportHash"]
        served = {x["scheme"]: x for x in body["lines"]}
        assert {s: x["balance"] for s, x in served.items()} == {s: b for a, s, b in lines if a == resident.address}
        for scheme, x in served.items():
            assert verify(tree.root, x["proof"], resident.address, scheme, x["balance"])
            assert not verify(tree.root, x["proof"], resident.address, scheme, x["balance"] + 1)
        stranger = api.get(f"/v1/residents/{Account.create().address}/balance_proof").json()
        assert stranger["lines"] == [] and stranger["attestation"]["merkleRoot"] == tree.root
    finally:
        for f in folder.glob("report-*.json"):
            f.unlink()


def test_requestRead_withABadSpendingOrder_isRefusedWithItsCode(api, w3, api_city, keys):
    resident = api_city.residents[5]
    made = api.post("/v1/redemption_requests", headers=auth(keys["merchant"]),
                    json={"resident": resident.address, "credits": 100, "orderRef": "order test"})
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    ok = api.get(f"/v1/redemption_requests/{rid}", params={"order": f"{S2},{S1}"})
    assert ok.status_code == 200 and ok.json()["typedData"], ok.text
    for bad, code in ((f"{S1},{S1}", "invalid_scheme_order"), ("999", "invalid_scheme_order"),
                      ("1,,2", "invalid_request"), (",".join(["1"] * 17), "invalid_request")):
        got = api.get(f"/v1/redemption_requests/{rid}", params={"order": bad})
        assert got.status_code == 422 and got.json()["error"]["code"] == code, (bad, got.text)
