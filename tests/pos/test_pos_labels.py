"""What a resident reads of a sale: the order as the cashier typed it and the merchant's registered name (its
catalogue profile, in the page's language), never 64 hexadecimal characters of an orderRef nor a 42-character
address (those stay under the wallet's "Technical details", closed by default). Chromium, phone size, both
languages; the till's header shows the same name."""
from __future__ import annotations

import re

from .conftest import PASSWORD
from .test_pos_page import TIMEOUT_MS, expect_text, import_key, shot, sign_in

HEX64 = re.compile(r"0x[0-9a-fA-F]{64}")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
NAMES = {"nameZh": "博物馆咖啡", "nameEn": "Museum Café", "category": "food", "district": "jinjiang"}


def ask(api, resident, credits: int, order: str) -> dict:
    resp = api.post("/v1/redemption_requests", headers=api.merchant_headers,
                    json={"resident": resident.address, "credits": credits, "orderRef": order})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_resident_readsTheOrderLabelAndTheMerchantsName_neverHexOrAnAddress(open_wallet, wallet_api, wallet_city):
    profile = wallet_api.put("/v1/merchant_profile", headers=wallet_api.merchant_headers, json=NAMES)
    assert profile.status_code == 200, profile.text
    resident = wallet_city.residents[1]
    labelled = ask(wallet_api, resident, 180, "Table 7 · 2 coffees")
    assert labelled["merchantNames"] == {"zh": "博物馆咖啡", "en": "Museum Café"}
    assert labelled["orderLabel"] == "Table 7 · 2 coffees" and HEX64.fullmatch(labelled["orderRef"])
    raw = ask(wallet_api, resident, 90, "0x" + "ab" * 32)  # a merchant that sends its own bytes32: no label
    assert raw["orderLabel"] is None

    wallet = open_wallet("/wallet/", width=390, height=844)
    import_key(wallet, resident.key.hex())
    wallet.goto(labelled["qrPayload"])
    card = wallet.locator("[data-testid=request-card]")
    card.wait_for(timeout=TIMEOUT_MS)
    assert wallet.locator("[data-testid=request-merchant]").inner_text() == "Museum Café"
    assert wallet.locator("[data-testid=request-order]").inner_text() == "Table 7 · 2 coffees"
    shown = card.inner_text()
    assert not HEX64.search(shown) and not ADDRESS.search(shown), shown
    shot(wallet, "phone-wallet-request-names-en")

    wallet.goto(raw["qrPayload"])
    expect_text(wallet.locator("[data-testid=request-order]"), "No description from the merchant")
    shown = wallet.locator("[data-testid=request-card]").inner_text()
    assert not HEX64.search(shown) and not ADDRESS.search(shown), shown

    # 中文: the merchant's Chinese name
    zh = open_wallet("/wallet/?lang=zh", width=390, height=844, lang="zh")
    import_key(zh, resident.key.hex(), "导入已有密钥", "导入密钥")
    zh.goto(labelled["qrPayload"] + "&lang=zh")
    zh.locator("[data-testid=request-card]").wait_for(timeout=TIMEOUT_MS)
    assert zh.locator("[data-testid=request-merchant]").inner_text() == "博物馆咖啡"
    assert zh.locator("[data-testid=request-order]").inner_text() == "Table 7 · 2 coffees"
    zh.locator("#sign-password").fill(PASSWORD)
    zh.locator("#sign-password").press("Enter")
    result = expect_text(zh.locator("[data-testid=pay-result]"), "博物馆咖啡")
    assert not ADDRESS.search(result.split("\n")[0]), result
    shot(zh, "phone-wallet-paid-names-zh")

    # the till says the same name, in its language
    pos = open_wallet("/pos/?lang=en", width=390, height=844)
    sign_in(pos, wallet_api.live.merchant_key)
    assert pos.locator("[data-testid=merchant-name]").inner_text() == "Museum Café"
    pos.locator("#lang").click()
    expect_text(pos.locator("[data-testid=merchant-name]"), "博物馆咖啡")
