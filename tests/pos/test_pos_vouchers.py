"""Vouchers (issue 22) in Chromium at phone size, English and 中文: the resident gets an offer from the wallet's Shops
tab with one password (one signature for its price) and sees the voucher's code and QR code; the shop's till finds
it by code or by the QR's link, checks it off once (a second till is told when it was used), and refunds an unused
one (points back, the unit back in stock). Screenshots under build/screenshots/pos/ and build/screenshots/wallet/."""
from __future__ import annotations

import uuid

from ledger_node.typed_data import sign
from tests.exchange_api.conftest import resident_token

from .conftest import PASSWORD, SHOTS
from .test_pos_page import TIMEOUT_MS, expect_text, import_key, shot, sign_in


def publish(api, **offer) -> dict:
    resp = api.post("/v1/offers", headers=api.merchant_headers, json={"category": "culture", "district": "qingyang",
                                                                      **offer})
    assert resp.status_code == 201, resp.text
    return resp.json()


def get_on_wallet(wallet, offer: dict, button: str, sign: str, tab: str) -> str:
    """The resident gets the offer from the Shops tab: its voucher's code once paid for."""
    wallet.get_by_role("link", name=tab).click()
    card = wallet.locator(f"[data-offer='{offer['id']}']")
    card.wait_for(timeout=TIMEOUT_MS)
    card.get_by_role("button", name=button).click()
    card.locator("#voucher-password").fill(PASSWORD)
    card.get_by_role("button", name=sign).click()
    mine = wallet.locator("[data-testid=voucher]").first
    mine.locator("[data-testid=voucher-code]").wait_for(timeout=TIMEOUT_MS)
    mine.locator(".voucher-qr svg").wait_for(timeout=TIMEOUT_MS)
    return mine.locator("[data-testid=voucher-code]").inner_text()


def test_voucher_walletGetsIt_tillChecksItOffOnce_inEnglish(open_wallet, wallet_api, wallet_city, w3):
    tag = uuid.uuid4().hex[:6]
    offer = publish(wallet_api, titleZh=f"熊猫明信片 {tag}", titleEn=f"Panda postcard {tag}", price=250, stock=1)
    resident = wallet_city.residents[0]
    before = [wallet_city.balance(resident.address, s) for s in (3, 4)]
    wallet = open_wallet("/wallet/", width=390, height=844)
    import_key(wallet, resident.key.hex())
    wallet.get_by_role("link", name="Shops").click()
    card = wallet.locator(f"[data-offer='{offer['id']}']")
    expect_text(card, "Get it for 2.50 credits")
    expect_text(wallet.locator("[data-testid=vouchers-open]"), "Show my vouchers")  # nobody signed in yet
    wallet.shot("phone-voucher-offer-en")
    code = get_on_wallet(wallet, offer, "Get it for 2.50 credits", "Sign 2.50 credits and get it", "Shops")
    mine = wallet.locator("[data-testid=voucher]").first
    expect_text(mine, f"Panda postcard {tag}")
    expect_text(mine.locator("[data-testid=voucher-status]"), "Valid: not used yet.")
    wallet.shot("phone-voucher-en")
    after = [wallet_city.balance(resident.address, s) for s in (3, 4)]
    assert after != before and all(a <= b for a, b in zip(after, before))  # paid, once
    assert wallet_api.get(f"/v1/offers/{offer['id']}", headers=wallet_api.merchant_headers).json()["stock"] == 0
    approvals = [u for m, u, _ in wallet.requests if m == "POST" and u.endswith("/approve")]
    assert len(approvals) == 1  # one signature, one approval

    # the till: the code typed (any case, without the dash) finds it; checked off once
    pos = open_wallet("/pos/", width=390, height=844)
    sign_in(pos, wallet_api.live.merchant_key)
    pos.locator("[data-testid=tab-vouchers]").click()
    pos.locator("#voucher-code").fill(code.replace("-", "").lower())
    pos.locator("[data-testid=voucher-find]").click()
    found = pos.locator("[data-testid=voucher-card]")
    expect_text(found.locator("[data-testid=voucher-status]"), "Valid: not used yet.")
    expect_text(found, f"Panda postcard {tag}")
    expect_text(found, "Paid with 2.50 credits")
    shot(pos, "phone-voucher-found-en")
    # a second till opens the voucher's QR link before the first checks it off
    qr = wallet_api.get("/v1/vouchers", params={"code": code}, headers=wallet_api.merchant_headers).json()["data"][0]
    second = pos.context.new_page()
    second.set_viewport_size({"width": 390, "height": 844})
    second.goto(qr["qrPayload"] + "&lang=en")
    expect_text(second.locator("[data-testid=voucher-status]"), "Valid: not used yet.")

    found.locator("[data-testid=voucher-check-off]").click()
    expect_text(pos.locator("[data-testid=voucher-checked-off]"), "Checked off. Hand the customer")
    expect_text(found.locator("[data-testid=voucher-status]"), "Used at")
    assert found.locator("[data-testid=voucher-check-off]").count() == 0
    shot(pos, "phone-voucher-checked-off-en")

    second.locator("[data-testid=voucher-check-off]").click()  # too late: refused, saying when
    expect_text(second.locator("[data-testid=voucher-error]"), "This voucher was already used.")
    expect_text(second.locator("[data-testid=voucher-status]"), "Used at")
    second.screenshot(path=str(SHOTS / "phone-voucher-used-twice-en.png"), full_page=True)
    assert wallet_api.get(f"/v1/vouchers/{qr['id']}", headers=wallet_api.merchant_headers).json()["status"] == "used"

    # the resident sees it used
    wallet.get_by_role("link", name="Points").click()
    wallet.get_by_role("link", name="Shops").click()
    expect_text(wallet.locator("[data-testid=voucher]").first.locator("[data-testid=voucher-status]"), "Used at")
    # the offer is sold out: no longer offered
    assert wallet.locator(f"[data-offer='{offer['id']}']").count() == 0


def test_voucher_soldOutSaidBeforeSigning_andTillRefundsUnused_inChinese(open_wallet, wallet_api, wallet_city, w3):
    tag = uuid.uuid4().hex[:6]
    offer = publish(wallet_api, titleZh=f"盖碗茶 {tag}", titleEn=f"Gaiwan tea {tag}", price=150, stock=1)
    resident, other = wallet_city.residents[1], wallet_city.residents[2]
    wallet = open_wallet("/wallet/?lang=zh", width=390, height=844, lang="zh")
    import_key(wallet, other.key.hex(), "导入已有密钥", "导入密钥")
    wallet.get_by_role("link", name="商户").click()
    card = wallet.locator(f"[data-offer='{offer['id']}']")
    card.get_by_role("button", name="用 1.50 信用点兑换").click()
    card.locator("#voucher-password").fill(PASSWORD)
    # meanwhile another resident takes the last one (through the API, as their wallet would)
    token = resident_token(wallet_api, resident)
    reserved = wallet_api.post(f"/v1/residents/{resident.address}/vouchers", json={"offer": offer["id"]},
                               headers={"Authorization": f"Bearer {token}"}).json()
    req = reserved["request"]
    paid = wallet_api.post(f"/v1/redemption_requests/{req['id']}/approve",
                           json={"signature": "0x" + sign(resident, req["typedData"]).hex(),
                                 "parts": req["typedData"]["message"]["parts"], "wait": True})
    assert paid.status_code == 201, paid.text
    before = [wallet_city.balance(other.address, s) for s in (3, 4)]
    card.get_by_role("button", name="签名支付 1.50 信用点并兑换").click()
    expect_text(wallet.locator("[data-testid=voucher-refused]"), "已售罄：最后一份已被他人兑走。您未签名，也未扣任何积分。")
    wallet.locator(f"[data-offer='{offer['id']}']").wait_for(state="detached", timeout=TIMEOUT_MS)  # no longer offered
    wallet.shot("phone-voucher-sold-out-zh")
    assert [wallet_city.balance(other.address, s) for s in (3, 4)] == before
    assert not [u for m, u, _ in wallet.requests if m == "POST" and u.endswith("/approve")]  # nothing signed

    # the till, in Chinese, refunds the winner's unused voucher: points back, the unit back in stock
    code = wallet_api.get(f"/v1/residents/{resident.address}/vouchers/{reserved['id']}",
                          headers={"Authorization": f"Bearer {token}"}).json()["code"]
    spent = [wallet_city.balance(resident.address, s) for s in (3, 4)]
    pos = open_wallet("/pos/?lang=zh", width=390, height=844, lang="zh")
    sign_in(pos, wallet_api.live.merchant_key, button="登录")
    pos.locator("[data-testid=tab-vouchers]").click()
    expect_text(pos.locator("main"), "核销兑换券")
    pos.locator("#voucher-code").fill(code)
    pos.locator("[data-testid=voucher-find]").click()
    found = pos.locator("[data-testid=voucher-card]")
    expect_text(found.locator("[data-testid=voucher-status]"), "有效：尚未使用。")
    shot(pos, "phone-voucher-found-zh")
    found.locator("[data-testid=voucher-refund]").click()
    expect_text(found, "将 1.50 信用点退还给顾客？")  # asked once more: a refund cannot be undone
    shot(pos, "phone-voucher-refund-ask-zh")
    assert wallet_api.get(f"/v1/residents/{resident.address}/vouchers/{reserved['id']}",
                          headers={"Authorization": f"Bearer {token}"}).json()["status"] == "valid"
    found.locator("[data-testid=voucher-refund-do]").click()
    expect_text(found.locator("[data-testid=voucher-status]"), "退款：积分已退还顾客。")
    shot(pos, "phone-voucher-refunded-zh")
    back = [wallet_city.balance(resident.address, s) for s in (3, 4)]
    assert back != spent and all(b >= s for b, s in zip(back, spent))
    assert wallet_api.get(f"/v1/offers/{offer['id']}", headers=wallet_api.merchant_headers).json()["stock"] == 1
    pos.locator("#voucher-code").fill("K7QX")
    pos.locator("[data-testid=voucher-find]").click()
    expect_text(pos.locator("[data-testid=voucher-error]"), "兑换券码为 8 位字母和数字")

    # the unit is back: this resident gets it now (the page read again), and sees the code in Chinese
    wallet.goto(wallet_api.live.url + "/wallet/?lang=zh")
    code2 = get_on_wallet(wallet, offer, "用 1.50 信用点兑换", "签名支付 1.50 信用点并兑换", "商户")
    assert code2 != code
    expect_text(wallet.locator("[data-testid=voucher]").first.locator("[data-testid=voucher-status]"), "有效：尚未使用。")
    wallet.shot("phone-voucher-zh")

