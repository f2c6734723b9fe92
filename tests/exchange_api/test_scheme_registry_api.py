"""Programmes as data over HTTP (both databases): /v1/schemes shows what the consortium published in the
SchemeRegistry (names, unit, organisation, colour, kind, latest rules), and a resident's eligibility proof is
checked on chain, used once, and refused clearly (nothing sent) when forged, short of points or replayed."""
from __future__ import annotations

import os

from eth_account import Account

from ledger_node.deploy.system import call
from ledger_node.typed_data import sign, typed_data

from tests.exchange_api.conftest import S1, START, wait_indexed

ELIGIBILITY_ONLY_SCHEME = 66


def _proof(w3, api_city, resident, scheme: int, min_points: int, *, signer=None) -> dict:
    registry = api_city.contracts["SchemeRegistry"]
    message = {"resident": resident.address, "scheme": scheme, "minPoints": min_points,
               "service": Account.create().address, "nonce": os.urandom(32),
               "deadline": w3.eth.get_block("latest")["timestamp"] + 600}
    signature = sign(signer or resident, typed_data("EligibilityProof", w3.eth.chain_id, registry.address, message))
    return {**message, "nonce": "0x" + message["nonce"].hex(), "signature": "0x" + signature.hex()}


def test_schemes_showTheRegistrysProfiles_kindsAndLatestRules(api, w3, api_city):
    ledger, registry = api_city.contracts["PointsLedger"], api_city.contracts["SchemeRegistry"]
    api_city.govern(w3, [
        call(registry, "describeScheme", S1, ("志愿服务", "Volunteer service", "分", "points", "Volunteer Federation",
                                              bytes.fromhex("2e7d32"), 1)),
        call(registry, "publishRules", S1, b"\x01" * 32, "https://rules.example/1/v1.json"),
        call(registry, "publishRules", S1, b"\x02" * 32, "https://rules.example/1/v2.json"),
        call(ledger, "addScheme", ELIGIBILITY_ONLY_SCHEME, 10**6, 10**6),
        call(registry, "describeScheme", ELIGIBILITY_ONLY_SCHEME, ("居住证积分", "Residence-permit points", "分",
                                                                   "points", "Residence Office",
                                                                   bytes.fromhex("c62828"), 2)),
    ])
    wait_indexed(api, w3)
    schemes = {s["scheme"]: s for s in api.get("/v1/schemes").json()["data"]}
    one = schemes[S1]
    assert one["kind"] == "valued" and one["rate"] > 0
    assert one["profile"] == {"nameZh": "志愿服务", "nameEn": "Volunteer service", "unitZh": "分", "unitEn": "points",
                              "organisation": "Volunteer Federation", "colour": "#2e7d32"}
    assert one["rules"] == {"version": 2, "rulesHash": "0x" + "02" * 32, "uri": "https://rules.example/1/v2.json"}
    residence = schemes[ELIGIBILITY_ONLY_SCHEME]
    assert (residence["kind"], residence["rate"], residence["rules"]) == ("eligibility-only", 0, None)
    assert residence["profile"]["nameZh"] == "居住证积分"
    assert all(s["kind"] == "undescribed" and s["profile"] is None for k, s in schemes.items()
               if k not in (S1, ELIGIBILITY_ONLY_SCHEME))


def test_eligibilityProof_provenOnce_andRefusedClearlyWithNothingSent(api, w3, api_city):
    resident = api_city.residents[0]  # holds START points of S1
    registry = api_city.contracts["SchemeRegistry"]
    nonces = lambda: [w3.eth.get_transaction_count(r.address) for r in api_city.relayers]  # noqa: E731
    before = nonces()
    refusals = [
        (_proof(w3, api_city, resident, S1, 1, signer=Account.create()), 422, "invalid_signature"),
        (_proof(w3, api_city, resident, S1, START + 1), 422, "not_eligible"),
        ({**_proof(w3, api_city, resident, S1, 1), "minPoints": 2}, 422, "invalid_signature"),  # altered after signing
        ({**_proof(w3, api_city, resident, S1, 1), "deadline": 1}, 422, "proof_expired"),
    ]
    for body, status, code in refusals:
        answer = api.post("/v1/eligibility_proofs", json=body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
    assert api.post("/v1/eligibility_proofs", json={**_proof(w3, api_city, resident, S1, 1),
                                                    "minPoints": 2**256}).status_code == 422
    assert nonces() == before  # nothing was sent for any of them

    body = _proof(w3, api_city, resident, S1, START)
    done = api.post("/v1/eligibility_proofs", json=body)
    assert done.status_code == 201, done.text
    shown = done.json()
    assert (shown["status"], shown["resident"], shown["minPoints"]) == ("proven", resident.address, START)
    # what the service learns is the threshold, never the holding
    assert set(shown) == {"object", "status", "resident", "scheme", "minPoints", "service", "nonce", "txHash", "block"}
    assert registry.functions.proofNonceUsed(resident.address, bytes.fromhex(body["nonce"][2:])).call()
    again = api.post("/v1/eligibility_proofs", json=body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "proof_already_used"
