"""Key recovery as residents meet it, in Chromium at phone size, in English and 中文, with two browser contexts:
the resident's NEW key made on a phone through "Lost your key?", and the OLD key's wallet.

The office starts a recovery (the API, as its CLI does); the old wallet shows a banner with the office's name and a
countdown, and its "This was not me — object" signs the objection in the page: the chain's pending recovery is gone
and the banner says so. A second recovery, with a short notice (set through governance) and no objection, shows
its countdown on the new wallet, completes at the office, and the new wallet shows the balances moved on chain.
Screenshots under build/screenshots/recovery/.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from tests.pages import TIMEOUT_MS
from tests.wallet.conftest import CULTURE, GREEN, PASSWORD, RATES

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "recovery"
OFFICE = {"en": "Jinjiang District Registration Office", "zh": "锦江区居民登记处"}
WORDS = {
    "en": {"notice": "3 days", "object": "This was not me — object", "stopped": "The recovery was stopped",
           "toward": "Your account is being moved to this key", "restored": "Your points are here",
           "moved": "Your account was moved to another key", "office": "Show this code at the registration office"},
    "zh": {"notice": "3 天", "object": "不是我本人——提出异议", "stopped": "转移已被阻止",
           "toward": "您的账户正在转到本密钥", "restored": "积分已到账", "moved": "您的账户已转到另一个密钥",
           "office": "请在登记处出示此码"},
}


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def text_of(locator) -> str:
    locator.wait_for(timeout=TIMEOUT_MS)
    return locator.inner_text(timeout=TIMEOUT_MS)


def wait_text(locator, text: str, timeout_s: float = TIMEOUT_MS / 1000) -> str:
    """Until the element shows `text` (polled from here: the page's CSP forbids Playwright's string evaluation)."""
    deadline = time.monotonic() + timeout_s
    shown = ""
    while time.monotonic() < deadline:
        shown = text_of(locator)
        if text in shown:
            return shown
        time.sleep(0.05)
    raise AssertionError(f"expected {text!r}, the page shows {shown!r}")


def import_key(page, key_hex: str) -> None:
    page.locator(".welcome .segmented button").nth(1).click()  # "Import an existing key" / "导入已有密钥"
    page.locator("#import-key").fill(key_hex)
    page.locator("#new-password").fill(PASSWORD)
    page.locator("#new-password-2").fill(PASSWORD)
    page.locator(".welcome form button[type=submit]").click()
    page.locator("nav.tabs").wait_for(timeout=TIMEOUT_MS)


def until_chain_time(w3, t: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while w3.eth.get_block("latest")["timestamp"] < t:
        assert time.monotonic() < deadline, "the chain's clock did not reach the notice's end"
        time.sleep(0.5)
        w3.provider.make_request("evm_mine", [])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_recovery_objectionStopsIt_thenASecondCompletes_andTheNewWalletShowsTheBalances(
        lang, open_wallet, wallet_api, wallet_city, office_key, w3):
    words = WORDS[lang]
    rt = wallet_api.live.rt
    settings = rt.settings
    rt.replace_settings(settings.model_copy(update={"onboarding_office_name": OFFICE[lang]}))
    try:
        office = {"Authorization": f"Bearer {office_key}"}
        m, ledger = wallet_city.contracts["Membership"], wallet_city.contracts["PointsLedger"]
        who = {"name": f"Wang {lang}", "identityNumber": f"51010{lang}19800101", "phone": "+86 139 0000 0000"}
        old = Account.create()
        assert wallet_api.post("/v1/onboarding/residents", json={"address": old.address, **who},
                               headers=office).status_code == 201
        chain.transact(w3, wallet_city.culture_issuer,
                       ledger.functions.issue(CULTURE, old.address, 500, Web3.keccak(text=f"rec-c-{lang}")))
        chain.transact(w3, wallet_city.green_issuer,
                       ledger.functions.issue(GREEN, old.address, 800, Web3.keccak(text=f"rec-g-{lang}")))

        # the NEW key, made on the resident's phone through "Lost your key?"
        new_page = open_wallet(f"/wallet/?lang={lang}")
        new_page.locator("[data-testid=lost-key-link]").click()
        wait_text(new_page.locator("[data-testid=notice-period]"), words["notice"])
        shot(new_page, f"{lang}-1-lost-key")
        new_page.locator("#new-password").fill(PASSWORD)
        new_page.locator("#new-password-2").fill(PASSWORD)
        new_page.locator(".welcome form button[type=submit]").click()
        new_address = re.sub(r"\s+", "", text_of(new_page.locator("[data-testid=address]")))
        assert Web3.is_checksum_address(new_address)
        assert words["office"] in text_of(new_page.locator("[data-testid=receive-notice]"))
        new_page.locator("#qr svg").wait_for(timeout=TIMEOUT_MS)
        shot(new_page, f"{lang}-2-new-key-code-for-the-office")

        # the office starts the recovery; the old key's wallet warns, and its objection stops it
        old_page = open_wallet(f"/wallet/?lang={lang}")
        import_key(old_page, old.key.hex())
        started = wallet_api.post("/v1/recoveries", json={**who, "newAccount": new_address}, headers=office)
        assert started.status_code == 201, started.text
        old_page.reload()
        banner = old_page.locator("[data-testid=recovery-banner]")
        assert OFFICE[lang] in text_of(banner.locator("[data-testid=recovery-by]"))
        countdown = text_of(banner.locator("[data-testid=recovery-countdown]"))
        assert re.search(r"\d", countdown) and new_address in banner.inner_text()
        shot(old_page, f"{lang}-3-old-wallet-banner")
        banner.get_by_role("button", name=words["object"]).click()
        old_page.locator("#objection-password").fill(PASSWORD)
        banner.locator("form button[type=submit]").click()
        assert words["stopped"] in text_of(old_page.locator("[data-testid=recovery-stopped]"))
        assert m.functions.pendingRecovery(old.address).call()[0] == "0x" + "00" * 20
        assert m.functions.isResident(old.address).call()
        shot(old_page, f"{lang}-4-old-wallet-objected")

        # a second recovery, short notice, no objection: the new wallet counts down, then shows the moved balances
        propose_and_execute(w3, wallet_city.contracts["Consortium"], [wallet_city.operator],
                            [call(m, "setRecoveryNotice", 8)], "a short recovery notice for the test")
        second = wallet_api.post("/v1/recoveries", json={**who, "newAccount": new_address}, headers=office)
        assert second.status_code == 201, second.text
        new_page.reload()
        toward = new_page.locator("[data-testid=recovery-toward]")
        assert words["toward"] in text_of(toward)
        shot(new_page, f"{lang}-5-new-wallet-countdown")
        until_chain_time(w3, second.json()["executableAt"])
        done = wallet_api.post(f"/v1/recoveries/{old.address}/complete", headers=office)
        assert done.status_code == 200, done.text
        moved = {s: ledger.functions.balanceOf(new_address, s).call() for s in (CULTURE, GREEN)}
        assert moved == {CULTURE: 500, GREEN: 800}
        assert ledger.functions.balanceOf(old.address, CULTURE).call() == 0
        new_page.reload()
        new_page.locator("nav.tabs a").first.click()
        assert words["restored"] in text_of(new_page.locator("[data-testid=recovery-restored]"))
        cents = sum(moved[s] * RATES[s] for s in moved) // 10**6
        total = f"{cents // 100}.{cents % 100:02d}"
        wait_text(new_page.locator("[data-testid=total-credits]"), total)
        for scheme in (CULTURE, GREEN):
            assert f"{moved[scheme]:,}" in text_of(new_page.locator(f"[data-testid=points-{scheme}]"))
        shot(new_page, f"{lang}-6-new-wallet-restored")
        old_page.reload()
        assert words["moved"] in text_of(old_page.locator("[data-testid=recovery-moved]"))
        shot(old_page, f"{lang}-7-old-wallet-moved-away")
    finally:
        rt.replace_settings(settings)


@pytest.mark.parametrize("lang,width", [("en", 390), ("zh", 390), ("en", 1280)])
def test_settings_lostKey_explainsTheVisit_withTheNoticeReadFromTheChain(lang, width, open_wallet, wallet_api,
                                                                         wallet_city, w3):
    m = wallet_city.contracts["Membership"]
    propose_and_execute(w3, wallet_city.contracts["Consortium"], [wallet_city.operator],
                        [call(m, "setRecoveryNotice", 2 * 86400)], "a two-day recovery notice")
    page = open_wallet(f"/wallet/?lang={lang}#/settings", width=width, height=900)
    import_key(page, wallet_city.residents[1].key.hex())
    page.goto(wallet_api.live.url + f"/wallet/?lang={lang}#/settings")
    expected = {"en": "2 days", "zh": "2 天"}[lang]
    wait_text(page.locator("[data-testid=notice-period]"), expected)
    assert page.locator("[data-testid=recovery-banner]").count() == 0  # nothing pending: no banner
    shot(page, f"{lang}-{width}-settings-lost-key")
