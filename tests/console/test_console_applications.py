"""Shops' applications in the consortium console (issue 22), in Chromium at phone size, in English and 中文.

Given a shop's application from the till, when an auditor key is typed into the console's governance view, then the
application shows with its contact, settlement account and the exact `citypoints gov propose register-merchant`
that registers it; when a member carries that very command through with `citypoints gov`'s own functions (propose,
then execute after the notice), then the console shows the shop registered and its claim link yields its key.
Screenshots under build/screenshots/console/.
"""
from __future__ import annotations

import shlex

import pytest
from eth_account import Account

from exchange_api.merchant_keys import create_key
from exchange_api.store.models import IdxMerchant
from ledger_node.governance.actions import proposal_calls
from ledger_node.governance.city import City
from ledger_node.governance.transactions import propose, step

from .conftest import API, ARTIFACTS
from .test_console import text_of

WORDS = {"en": {"received": "received", "registered": "registered", "title": "Shops applying to accept points",
                "category": "Food & drink · Wuhou"},
         "zh": {"received": "已收到", "registered": "已登记", "title": "申请接受积分的商户", "category": "餐饮 · 武侯区"}}


def _carry_through(wallet_city, w3, command: str) -> None:
    """`citypoints gov propose ACTION ARGS --as M --description D` with the command's own functions, as the demo's
    single-member consortium: proposed (its approval counts at once), executed once the notice has passed."""
    words = shlex.split(command)
    assert words[:3] == ["citypoints", "gov", "propose"]
    action, address = words[3], words[4]
    description = words[words.index("--description") + 1]
    city = City(w3, {"startBlock": 0}, dict(wallet_city.contracts), {}, {})
    pid, _ = propose(city, wallet_city.operator, proposal_calls(city, action, [address]), description)
    consortium = wallet_city.contracts["Consortium"]
    ready = consortium.functions.getProposal(pid).call()[2]
    wait = ready - w3.eth.get_block("latest")["timestamp"]
    if wait > 0:
        w3.provider.make_request("evm_increaseTime", [wait])
        w3.provider.make_request("evm_mine", [])
    step(city, wallet_city.operator, "execute", pid)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_console_listsApplications_withTheGovCommand_thatRegistersTheShop(open_wallet, wallet_api, wallet_city, w3,
                                                                         lang):
    live = wallet_api.live
    words = WORDS[lang]
    auditor = live.rt.store.call(lambda s: create_key(s, name="City auditor", role="auditor")).api_key
    for key in [k for k in live.rt.buckets if k.startswith("application:")]:
        del live.rt.buckets[key]
    account = Account.create().address
    applied = wallet_api.post("/v1/merchant_applications", json={
        "nameZh": "茶馆", "nameEn": "Tea house", "category": "food", "district": "wuhou",
        "contact": "+86 28 5555 0101", "settlementAccount": account}).json()

    page = open_wallet("/console/#governance", width=390, height=844, lang=lang)
    text_of(page, "[data-testid=applications] h2", has=words["title"])
    page.locator("#applications-key").fill(auditor)
    page.locator("#applications-key").press("Enter")
    card = f"[data-testid=applications-list] li[data-id={applied['id']}]"
    text = text_of(page, card, has=words["received"])
    assert "+86 28 5555 0101" in text and account in text and words["category"] in text
    command = page.locator(f"{card} [data-testid=propose-command]").inner_text()
    assert command.startswith(f"citypoints gov propose register-merchant {account} --as MEMBER --description ")
    assert auditor not in page.content()
    page.page.screenshot(path=str(ARTIFACTS / f"phone-applications-{lang}.png"), full_page=True)

    _carry_through(wallet_city, w3, command)
    API.wait_indexed(wallet_api, w3)
    assert live.rt.store.call(lambda s: s.get(IdxMerchant, account)) is not None
    page.get_by_role("button", name="Refresh" if lang == "en" else "刷新").first.click()
    text_of(page, card, has=words["registered"])
    claimed = wallet_api.post(f"/v1/merchant_applications/{applied['id']}/claim",
                              json={"secret": applied["claimSecret"]})
    assert claimed.status_code == 201 and claimed.json()["key"]["scope"] == "manager"


def test_console_applications_needAnAuditorKey(open_wallet, wallet_api, wallet_city):
    page = open_wallet("/console/#governance", width=390, height=844)
    text_of(page, "[data-testid=applications] h2", has="Shops applying")
    merchant_key = wallet_api.live.merchant_key
    page.locator("#applications-key").fill(merchant_key)
    page.locator("#applications-key").press("Enter")
    text_of(page, "[data-testid=applications] .alert", has="use an auditor key")
    assert page.locator("[data-testid=applications-list]").count() == 0
