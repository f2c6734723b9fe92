""""Who used my identity data" in the wallet (issue 23), in Chromium at phone size in English and 中文: the entries of
the identity-use trail for this key (the organisation's name where the API knows it, else its account; the purpose in
words; the time), readable only after the resident signs in, and "I do not recognise this", which signs the
TrailObjection in the page and leaves the entry "objected", on chain. Screenshots go to build/screenshots/trail/."""
from __future__ import annotations

import os

import pytest

from ledger_node import chain
from ledger_node.domain import TRAIL_PURPOSE_CODES, held_account_of

from .conftest import API, PASSWORD, ROOT
from .test_wallet import TIMEOUT_MS, expect_text, import_key

SHOTS = ROOT / "build" / "screenshots" / "trail"
OFFICE = "Gaoxin Registration Office"
WORDS = {
    "en": {"tab": "Key", "show": "Show who used my data", "title": "Who used my identity data",
           "recovery": "Identity check for moving your account to a new key",
           "lookup": "A programme looked you up to give you points", "object": "I do not recognise this",
           "sign": "Sign the objection", "objected": "Objected: you did not recognise this",
           "wrong": "Wrong password", "before": "Before you joined"},
    "zh": {"tab": "密钥", "show": "查看谁使用了我的信息", "title": "谁在什么时候为什么使用了我的身份信息",
           "recovery": "为将账户转移到新密钥核验身份", "lookup": "积分项目为发放积分查询了您",
           "object": "我不认可这次使用", "sign": "签署异议", "objected": "已提出异议：您不认可这次使用",
           "wrong": "密码", "before": "加入之前"},
}


@pytest.fixture
def office_named(wallet_live):
    before = wallet_live.rt.settings
    wallet_live.rt.replace_settings(before.model_copy(update={"onboarding_office_name": OFFICE}))
    yield
    wallet_live.rt.replace_settings(before)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_wallet_trail_showsWhoUsedMyData_andAnObjectionLandsOnChain(lang, open_wallet, wallet_api, wallet_city, w3,
                                                                     office_named):
    resident = wallet_city.residents[0 if lang == "en" else 1]
    trail = wallet_city.contracts["IdentityTrail"]
    # before the resident joined, a programme looked them up to credit them: under the account that held their points
    identity = wallet_city.contracts["Membership"].functions.identityOf(resident.address).call()
    chain.transact(w3, wallet_city.relayers[0], trail.functions.record([
        (held_account_of(identity), wallet_city.culture_issuer.address, TRAIL_PURPOSE_CODES["issuance-lookup"],
         os.urandom(32))]))
    chain.transact(w3, wallet_city.onboarding, trail.functions.record([
        (resident.address, wallet_city.onboarding.address, TRAIL_PURPOSE_CODES["recovery-verification"],
         os.urandom(32))]))
    chain.transact(w3, wallet_city.relayers[0], trail.functions.record([
        (resident.address, wallet_city.culture_issuer.address, TRAIL_PURPOSE_CODES["issuance-lookup"],
         os.urandom(32))]))
    lookup_id = trail.functions.entryCount().call()
    API.wait_indexed(wallet_api, w3)
    words = WORDS[lang]

    page = open_wallet("/wallet/", width=390, height=844)  # the key is imported in English, then 中文 if asked
    import_key(page, resident.key.hex())
    if lang == "zh":
        page.locator("button.lang").click()
        assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    page.get_by_role("link", name=words["tab"]).click()
    card = page.locator("[data-testid=identity-trail]")
    expect_text(card, words["title"])
    assert page.locator("[data-testid=trail-entry]").count() == 0  # nothing before the resident signs in
    page.locator("#trail-password").fill("not the password")
    page.get_by_role("button", name=words["show"]).click()
    expect_text(card, words["wrong"])
    page.locator("#trail-password").fill(PASSWORD)
    page.get_by_role("button", name=words["show"]).click()
    page.locator("[data-testid=trail-entry]").nth(1).wait_for(timeout=TIMEOUT_MS)
    entries = page.locator("[data-testid=trail-entry]")
    newest, older = entries.nth(0), entries.nth(1)
    assert newest.get_attribute("data-entry") == str(lookup_id)  # newest first
    expect_text(newest, words["lookup"])
    assert wallet_city.culture_issuer.address[:6] in newest.inner_text()  # no name known: its account
    expect_text(older, words["recovery"])
    expect_text(older, OFFICE)
    oldest = entries.nth(2)  # the use before joining: shown, with nothing to sign
    expect_text(oldest, words["before"])
    assert oldest.get_by_role("button").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"phone-trail-{lang}.png"), full_page=True)

    newest.get_by_role("button", name=words["object"]).click()
    newest.locator(f"#trail-object-{lookup_id}-password").fill(PASSWORD)
    newest.get_by_role("button", name=words["sign"]).click()
    expect_text(newest, words["objected"])
    assert older.get_by_role("button", name=words["object"]).count() == 1  # the other entry is untouched
    card.screenshot(path=str(SHOTS / f"phone-trail-objected-{lang}.png"))
    (event,) = trail.events.UseObjected().get_logs(from_block=w3.eth.block_number - 5)
    assert (event["args"]["entryId"], event["args"]["resident"]) == (lookup_id, resident.address)
    # read again (a new page load signs in again): the API shows it objected
    API.wait_indexed(wallet_api, w3)
    token = API.resident_token(wallet_api, resident)
    listed = wallet_api.get(f"/v1/residents/{resident.address}/identity_trail",
                            headers={"Authorization": f"Bearer {token}"}).json()["data"]
    assert [(e["id"], e["objected"], e["beforeJoining"]) for e in listed] == [
        (lookup_id, True, False), (lookup_id - 1, False, False), (lookup_id - 2, False, True)]
