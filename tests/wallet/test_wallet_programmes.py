"""Programmes as the resident meets them (Chromium at phone size, English and 中文): names and colours from the
registry; an eligibility-only programme (residence-permit points) shows its points without a value in credits; a
rate change the consortium approved and a paused programme appear as notices before they bite."""
from __future__ import annotations

import os

import pytest

from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute

from .conftest import API, CULTURE, GREEN
from .test_wallet import expect_text, import_key

RESIDENCE = 9
WORDS = {"en": {"eligibility": "Counts toward city services", "rate": "Culture: from ", "to": "1 point = 0.12 credits",
                "paused": "Green living is paused", "name": "Residence-permit points"},
         "zh": {"eligibility": "用于城市公共服务资格", "rate": "文化消费：自 ", "to": "1 积分 = 0.12 信用点",
                "paused": "绿色低碳已暂停", "name": "居住证积分"}}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_wallet_eligibilityOnlyProgramme_andNoticesOfARateChangeAheadAndAPause(open_wallet, wallet_api, wallet_city,
                                                                              w3, lang):
    c = wallet_city.contracts
    ledger, registry, rates = c["PointsLedger"], c["SchemeRegistry"], c["Rates"]
    resident = wallet_city.residents[1]
    office = wallet_city.culture_issuer  # issues the residence points too, in this small city
    propose_and_execute(w3, c["Consortium"], [wallet_city.operator], [
        call(ledger, "addScheme", RESIDENCE, 10**9, 10**6),
        call(c["Membership"], "setIssuerAccounts", RESIDENCE, [office.address]),
        call(registry, "describeScheme", RESIDENCE, ("居住证积分", "Residence-permit points", "分", "points",
                                                     "Residence Office", bytes.fromhex("c62828"), 2)),
        call(ledger, "pauseScheme", GREEN),
    ], "residence points; green paused")
    chain.transact(w3, office, ledger.functions.issue(RESIDENCE, resident.address, 64, os.urandom(32)))
    # a rate change approved and queued: Rates.setRate waits out its notice (the session deployment's week)
    consortium = c["Consortium"]
    receipt = chain.transact(w3, wallet_city.operator, consortium.functions.propose(
        [(rates.address, rates.encode_abi("setRate", [CULTURE, 12_000_000]))], "culture rate next week"))
    pid = consortium.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]
    assert consortium.functions.proposalState(pid).call() == 2  # queued behind its notice
    API.wait_indexed(wallet_api, w3)

    words = WORDS[lang]
    page = open_wallet(f"/wallet/?lang={lang}", width=390, height=844, lang=lang)
    if lang == "en":
        import_key(page, resident.key.hex())
    else:
        page.get_by_role("button", name="导入已有密钥").click()
        page.locator("#import-key").fill(resident.key.hex())
        page.locator("#new-password").fill("correct horse battery")
        page.locator("#new-password-2").fill("correct horse battery")
        page.get_by_role("button", name="导入密钥").click()
    expect_text(page.locator(f"[data-scheme='{RESIDENCE}']"), words["name"])
    assert words["eligibility"] in page.locator(f"[data-testid=eligibility-{RESIDENCE}]").inner_text()
    assert "64" in page.locator(f"[data-testid=points-{RESIDENCE}]").inner_text()
    residence_card = page.locator(f"[data-scheme='{RESIDENCE}']").inner_text()
    assert "credits" not in residence_card and "信用点" not in residence_card  # no value in credits
    expect_text(page.locator(f"[data-testid=notice-rate-{CULTURE}]"), words["to"])
    assert page.locator(f"[data-testid=notice-rate-{CULTURE}]").inner_text().startswith(words["rate"])
    expect_text(page.locator(f"[data-testid=notice-paused-{GREEN}]"), words["paused"])
    # the programme's colour is the registry's
    colour = page.locator(f"[data-scheme='{RESIDENCE}'] .dot").evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(198, 40, 40)"
    page.shot(f"phone-programmes-{lang}")
