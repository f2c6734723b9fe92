"""The till's Keys view and a shop's application, in Chromium at phone size (390x844), in English and 中文, on the
live API and node (tests/pos/conftest.py). Screenshots under build/screenshots/pos/.

Given a manager's key, when the manager makes a cashier's key, rotates it with a grace and revokes one, then the
page shows each new key once and the list says each key's state; a cashier's key signs in to a till without the
manager's tabs or refunds. Given a shop without a key, when it applies from the sign-in screen, then the page shows
the claim link once; once the consortium registered the shop, the link gives its first key once.
"""
from __future__ import annotations

import time

from eth_utils import to_checksum_address
from sqlalchemy import select

from exchange_api.merchant_keys import create_key
from exchange_api.store.models import ApiKey

from .conftest import SHOTS
from .test_pos_applications import register_on_chain
from .test_pos_page import TIMEOUT_MS, expect_text, sign_in

ACCOUNT_EN = to_checksum_address("0x" + "5a" * 20)
ACCOUNT_ZH = to_checksum_address("0x" + "6b" * 20)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def key_row(pos, name: str):
    return pos.locator("[data-testid=keys-list] li", has_text=name).first


def test_keysView_makesRotatesAndRevokes_showingEachKeyOnce_inEnglish(open_wallet, wallet_api):
    live = wallet_api.live
    pos = open_wallet("/pos/", width=390, height=844)
    sign_in(pos, live.merchant_key)
    assert pos.locator("[data-testid=key-scope]").inner_text() == "Manager"
    pos.locator("[data-testid=tab-keys]").click()
    pos.locator("[data-testid=keys-list]").wait_for(timeout=TIMEOUT_MS)
    name = f"Till {time.monotonic_ns() % 10_000}"
    pos.locator("#key-name").fill(name)
    pos.locator("#key-scope").select_option("cashier")
    pos.locator("[data-testid=key-create]").click()
    made = pos.locator("[data-testid=key-once] [data-testid=key-value]")
    made.wait_for(timeout=TIMEOUT_MS)
    first_key = made.inner_text()
    assert first_key.startswith("cpk_")
    expect_text(key_row(pos, name), "Cashier · active")
    expect_text(key_row(pos, name), "never used")
    shot(pos, "phone-keys-made-en")
    pos.locator("[data-testid=key-copied]").click()
    assert pos.locator("[data-testid=key-once]").count() == 0 and first_key not in pos.content()

    # rotate with a day's grace: the replacement shown once, the old key listed in its grace
    key_row(pos, name).locator("[data-testid=key-rotate]").click()
    key_row(pos, name).locator("select").select_option("86400")
    key_row(pos, name).locator("[data-testid=key-rotate-do]").click()
    pos.locator("[data-testid=key-once]").wait_for(timeout=TIMEOUT_MS)
    second_key = pos.locator("[data-testid=key-once] [data-testid=key-value]").inner_text()
    assert second_key.startswith("cpk_") and second_key != first_key
    expect_text(pos.locator("[data-testid=key-once]"), "The old key keeps working until")
    old = pos.locator("[data-testid=keys-list] li[data-status=expiring]", has_text=name)
    expect_text(old, "rotated, in its grace")
    shot(pos, "phone-keys-rotated-en")
    assert wallet_api.get("/v1/redemption_requests?status=open",
                          headers={"Authorization": f"Bearer {first_key}"}).status_code == 200  # in its grace
    pos.locator("[data-testid=key-copied]").click()

    # revoke the replacement: the first click asks, the second revokes
    new = pos.locator("[data-testid=keys-list] li[data-status=active]", has_text=name)
    new.locator("[data-testid=key-revoke]").click()
    expect_text(new.locator("[data-testid=key-revoke]"), "Revoke now?")
    new.locator("[data-testid=key-revoke]").click()
    pos.locator("[data-testid=keys-list] li[data-status=revoked]", has_text=name).wait_for(timeout=TIMEOUT_MS)
    assert wallet_api.get("/v1/redemption_requests?status=open",
                          headers={"Authorization": f"Bearer {second_key}"}).status_code == 401
    shot(pos, "phone-keys-revoked-en")


def test_cashierKey_signsInToATillWithoutTheManagersParts_andKeysIn中文(open_wallet, wallet_api, wallet_city):
    live = wallet_api.live
    cashier = live.rt.store.call(lambda s: create_key(s, name="晚班收银", merchant_address=wallet_city.merchant.address,
                                                      scope="cashier")).api_key
    till = open_wallet("/pos/?lang=zh", width=390, height=844, lang="zh")
    sign_in(till, cashier, button="登录")
    assert till.locator("[data-testid=key-scope]").inner_text() == "收银员"
    assert till.locator("[data-testid=tab-sale]").count() == 1 and till.locator("[data-testid=tab-today]").count() == 1
    for manager_tab in ("statement", "webhooks", "keys"):
        assert till.locator(f"[data-testid=tab-{manager_tab}]").count() == 0
    till.goto(live.url + "/pos/?lang=zh#keys")  # typed by hand: the new sale instead
    till.locator("#customer").wait_for(timeout=TIMEOUT_MS)
    assert till.locator("[data-testid=keys-list]").count() == 0
    till.locator("[data-testid=tab-today]").click()
    till.locator("#today-title").wait_for(timeout=TIMEOUT_MS)
    assert till.locator("[data-testid=today-list] button", has_text="退款").count() == 0
    shot(till, "phone-cashier-zh")

    # the manager's Keys view in 中文 lists the cashier's key with its last use
    pos = open_wallet("/pos/?lang=zh", width=390, height=844, lang="zh")
    sign_in(pos, live.merchant_key, button="登录")
    pos.locator("[data-testid=tab-keys]").click()
    row = pos.locator("[data-testid=keys-list] li", has_text="晚班收银").first
    expect_text(row, "收银员 · 使用中")
    expect_text(row, "最近使用")
    pos.locator("#key-name").fill("2 号收银机")
    pos.locator("[data-testid=key-create]").click()
    pos.locator("[data-testid=key-once]").wait_for(timeout=TIMEOUT_MS)
    expect_text(pos.locator("[data-testid=key-once]"), "请立即复制并交给持有人")
    shot(pos, "phone-keys-zh")


def _apply(pos, zh: str, en: str, category: str, district: str, account: str) -> None:
    pos.locator("[data-testid=apply-open]").click()
    pos.locator("#app-category option[value=food]").wait_for(state="attached", timeout=TIMEOUT_MS)
    pos.locator("#app-name-zh").fill(zh)
    pos.locator("#app-name-en").fill(en)
    pos.locator("#app-category").select_option(category)
    pos.locator("#app-district").select_option(district)
    pos.locator("#app-contact").fill("+86 28 5555 0199")
    pos.locator("#app-account").fill(account)


def test_application_fromTheSignInScreen_thenRegistered_claimsTheFirstKeyOnce_inEnglish(open_wallet, wallet_api,
                                                                                       wallet_city, w3):
    live = wallet_api.live
    for key in [k for k in live.rt.buckets if k.startswith(("application:", "claim:"))]:
        del live.rt.buckets[key]
    pos = open_wallet("/pos/", width=390, height=844)
    pos.locator("[data-testid=apply-open]").wait_for(timeout=TIMEOUT_MS)
    _apply(pos, "茶馆", "Tea house", "food", "wuhou", "0x1234")
    pos.locator("[data-testid=apply-send]").click()
    expect_text(pos.locator("[data-testid=apply-error]"), "That is not an account")  # checked before anything is sent
    pos.locator("#app-account").fill(ACCOUNT_EN)
    shot(pos, "phone-apply-form-en")
    pos.locator("[data-testid=apply-send]").click()
    link = pos.locator("[data-testid=claim-url]")
    link.wait_for(timeout=TIMEOUT_MS)
    url = link.inner_text()
    assert url.startswith(live.url + "/pos/#claim/app_")
    expect_text(pos.locator("#applied-title"), "Application received")
    shot(pos, "phone-apply-received-en")

    claim = open_wallet(url.removeprefix(live.url), width=390, height=844)
    claim.locator("[data-testid=claim-do]").click()
    expect_text(claim.locator("[data-testid=claim-error]"), "has not registered your shop yet")
    register_on_chain(wallet_city, w3, ACCOUNT_EN, live)
    claim.locator("[data-testid=claim-do]").click()
    value = claim.locator("[data-testid=claimed-key] [data-testid=key-value]")
    value.wait_for(timeout=TIMEOUT_MS)
    first = value.inner_text()
    assert live.rt.store.call(lambda s: s.scalar(select(ApiKey.scope).where(ApiKey.prefix == first[:12]))) == "manager"
    shot(claim, "phone-claim-key-en")
    # the link again: refused, no second key
    again = open_wallet(url.removeprefix(live.url), width=390, height=844)
    again.locator("[data-testid=claim-do]").click()
    expect_text(again.locator("[data-testid=claim-error]"), "taken already")
    # the key signs the shop in, as its manager
    claim.get_by_role("button", name="Sign in with it").click()
    sign_in(claim, first)
    assert claim.locator("[data-testid=merchant-name]").inner_text() == "Tea house"
    assert claim.locator("[data-testid=tab-keys]").count() == 1


def test_application_form_in中文_showsTheClaimLinkOnce(open_wallet, wallet_api):
    live = wallet_api.live
    for key in [k for k in live.rt.buckets if k.startswith(("application:", "claim:"))]:
        del live.rt.buckets[key]
    pos = open_wallet("/pos/?lang=zh", width=390, height=844, lang="zh")
    pos.locator("[data-testid=apply-open]").wait_for(timeout=TIMEOUT_MS)
    assert pos.locator("[data-testid=apply-open]").inner_text() == "申请接受积分"
    shot(pos, "phone-signin-apply-zh")
    _apply(pos, "面馆", "Noodle bar", "food", "jinjiang", ACCOUNT_ZH)
    assert pos.locator("#app-category option:checked").inner_text() == "餐饮"
    shot(pos, "phone-apply-form-zh")
    pos.locator("[data-testid=apply-send]").click()
    pos.locator("[data-testid=claim-url]").wait_for(timeout=TIMEOUT_MS)
    expect_text(pos.locator("#applied-title"), "申请已收到")
    expect_text(pos.locator("[data-testid=claim-link]"), "只显示这一次")
    shot(pos, "phone-apply-received-zh")
    # the same account again: a sentence in 中文
    pos.get_by_role("button", name="返回登录").click()
    _apply(pos, "面馆", "Noodle bar", "food", "jinjiang", ACCOUNT_ZH)
    pos.locator("[data-testid=apply-send]").click()
    expect_text(pos.locator("[data-testid=apply-error]"), "已有一份申请在审核中")
