"""The wallet says why a cited entry earned its points: "<rule> · rule v1 · 10 points" / "<规则名> · 规则 v1 · 10 积分",
the rule named by the published rules document the issuance batch cited, at phone size in both languages."""
from __future__ import annotations

import hashlib

from web3 import Web3

from issuer_sdk.adapters import adapter_for
from issuer_sdk.adapters.mapping import canonical_json
from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute

from .conftest import API, CULTURE, PASSWORD
from .test_wallet import TIMEOUT_MS, expect_text


def test_history_showsTheCitedRule_itsVersion_andPoints_inBothLanguages(open_wallet, wallet_api, wallet_city, w3):
    document = canonical_json(adapter_for("culture").spec.rules_document())
    registry, ledger = wallet_city.contracts["SchemeRegistry"], wallet_city.contracts["PointsLedger"]
    propose_and_execute(w3, wallet_city.contracts["Consortium"], [wallet_city.operator], [
        call(registry, "publishRules", CULTURE, hashlib.sha256(document).digest(), "https://r.example/culture/v1")],
        "culture publishes its rules")
    resident = wallet_city.residents[1]
    chain.transact(w3, wallet_city.culture_issuer, ledger.functions.issueBatchCitingRules(
        CULTURE, 1, [resident.address, resident.address], [10, 2],
        [Web3.keccak(text=f"cited-{i}-{resident.address}") for i in range(2)], [1, 2]))
    API.wait_indexed(wallet_api, w3)

    for lang, lines, older in (
            ("en", ["Museum visit · rule v1 · 10 points", "Library loan · rule v1 · 2 points"], "Why: museum visit"),
            ("zh", ["参观博物馆 · 规则 v1 · 10 积分", "图书馆借阅 · 规则 v1 · 2 积分"], "原因：参观博物馆")):
        page = open_wallet(f"/wallet/?lang={lang}", width=390, height=844, lang=lang)
        page.locator("#import-key, button").first.wait_for(timeout=TIMEOUT_MS)
        page.locator("button").filter(has_text="Import" if lang == "en" else "导入已有密钥").first.click()
        page.locator("#import-key").fill(resident.key.hex())
        page.locator("#new-password").fill(PASSWORD)
        page.locator("#new-password-2").fill(PASSWORD)
        page.locator("button").filter(has_text="Import key" if lang == "en" else "导入密钥").first.click()
        history = page.locator("ol.history")
        for line in lines:
            expect_text(history, line)
        expect_text(history, older)  # an entry of an uncited batch keeps its reason line
        assert page.locator("ol.history p.why.rule").count() == 2
        page.shot(f"phone-history-rules-{lang}")
