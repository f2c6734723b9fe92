"""A resident's history says which published rule gave each cited entry: the indexer keeps the batch's citation
(IssuanceRulesCited) on its entries, and the history names the rule (中文 and English) from the document the
citation's hash names, with the version; entries of uncited batches carry no rule."""
from __future__ import annotations

import hashlib

from web3 import Web3

from issuer_sdk.adapters import adapter_for
from issuer_sdk.adapters.mapping import canonical_json
from ledger_node.deploy.system import call

from .conftest import S1, wait_indexed

PROFILE = ("志愿服务积分", "Volunteer points", "分", "points", "Volunteer office", bytes.fromhex("2e7d32"), 1)


def test_history_namesTheCitedRule_itsVersion_andPoints(api, w3, api_city):
    document = canonical_json(adapter_for("volunteer").spec.rules_document())
    sha = hashlib.sha256(document).digest()
    registry, ledger = api_city.contracts["SchemeRegistry"], api_city.contracts["PointsLedger"]
    api_city.govern(w3, [call(registry, "describeScheme", S1, PROFILE),
                         call(registry, "publishRules", S1, b"\x05" * 32, "https://r.example/v1"),
                         call(registry, "publishRules", S1, sha, "https://r.example/v2")])
    r = api_city.residents[3]
    from ledger_node import chain
    chain.transact(w3, api_city.issuer1, ledger.functions.issueBatchCitingRules(
        S1, 2, [r.address, r.address], [20, 15], [Web3.keccak(text=f"cited-{i}") for i in range(2)], [2, 9]))
    wait_indexed(api, w3)

    data = api.get(f"/v1/residents/{r.address}/history").json()["data"]
    cited = [x for x in data if x["rule"] is not None]
    assert [(x["amount"], x["reasonCode"], x["rule"]) for x in cited] == [
        (15, 9, {"version": 2, "rulesHash": "0x" + sha.hex(), "activity": "other", "nameZh": "志愿服务时长",
                 "nameEn": "Volunteer service hours"}),
        (20, 2, {"version": 2, "rulesHash": "0x" + sha.hex(), "activity": "teaching", "nameZh": "支教助学志愿服务",
                 "nameEn": "Volunteer teaching"})]
    # the entries issued before, by batches citing nothing, have no rule
    assert all(x["rule"] is None for x in data if x["amount"] == 500)
