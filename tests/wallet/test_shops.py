"""The wallet's Shops view (views/shops.js) in Chromium at phone size, 中文 and English: the live offers a merchant
published through the API are listed with the merchant's registered name in the page's language, the price in
credits, the stock and the image; the category filter narrows the list; expired and sold-out offers are not shown.
Screenshots go to build/screenshots/wallet/."""
from __future__ import annotations

import datetime as dt
import uuid

from tests.exchange_api.test_offers import png

from .test_wallet import TIMEOUT_MS, expect_text, import_key


def publish(api, **offer) -> dict:
    resp = api.post("/v1/offers", headers=api.merchant_headers, json=offer)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_shops_listsLiveOffersAndFiltersByCategory_phoneInEnglishAndChinese(open_wallet, wallet_api, wallet_city):
    tag = uuid.uuid4().hex[:6]
    resp = wallet_api.put("/v1/merchant_profile", headers=wallet_api.merchant_headers,
                          json={"nameZh": "成都博物馆文创店", "nameEn": "Chengdu Museum Shop", "category": "culture",
                                "district": "qingyang"})
    assert resp.status_code == 200, resp.text
    ticket = publish(wallet_api, titleZh=f"博物馆门票 {tag}", titleEn=f"Museum ticket {tag}", price=2500, stock=12,
                     category="culture", district="qingyang",
                     validUntil=(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).isoformat())
    tea = publish(wallet_api, titleZh=f"盖碗茶 {tag}", titleEn=f"Gaiwan tea {tag}", price=1250, category="food",
                  district="jinjiang", descriptionEn="In People's Park", descriptionZh="人民公园")
    sold_out = publish(wallet_api, titleZh=f"售罄 {tag}", titleEn=f"Sold out {tag}", price=100, stock=0,
                       category="food", district="jinjiang")
    up = wallet_api.put(f"/v1/offers/{ticket['id']}/image", content=png(24, 24),
                        headers={**wallet_api.merchant_headers, "Content-Type": "image/png"})
    assert up.status_code == 200, up.text

    page = open_wallet("/wallet/", width=390, height=844)
    import_key(page, wallet_city.residents[0].key.hex())
    page.get_by_role("link", name="Shops").click()
    offers = page.locator("[data-testid=offers]")
    expect_text(offers, f"Museum ticket {tag}")
    expect_text(offers, f"Gaiwan tea {tag}")
    assert f"Sold out {tag}" not in offers.inner_text()
    card = page.locator(f"[data-offer='{ticket['id']}']")
    text = card.inner_text()
    assert "Chengdu Museum Shop" in text and "25.00 credits" in text and "12 left" in text and "Qingyang" in text
    assert "until" in text
    image = card.locator("img")  # served, same origin: loaded with its natural width (the page shows it as it comes)
    image.evaluate("img => img.complete ? null : new Promise(done => { img.onload = img.onerror = done; })")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 24
    assert "12.50 credits" in page.locator(f"[data-offer='{tea['id']}']").inner_text()
    expect_text(page.locator("[data-testid=merchant]").first, "Chengdu Museum Shop")
    page.shot("phone-shops-en")

    page.locator("#shops-category").select_option("food")
    page.wait_for_function("() => !document.querySelector(`[data-offer='%s']`)" % ticket["id"], timeout=TIMEOUT_MS)
    expect_text(offers, f"Gaiwan tea {tag}")
    assert all(o.get_attribute("data-offer") != sold_out["id"] for o in page.locator("[data-testid=offer]").all())
    page.locator("#shops-category").select_option("education")
    page.locator("[data-testid=offers-none]").wait_for(timeout=TIMEOUT_MS)

    zh = open_wallet("/wallet/?lang=zh#/shops", width=390, height=844, lang="zh")
    import_key_zh(zh, wallet_city.residents[1].key.hex())
    zh.get_by_role("link", name="商户").click()
    expect_text(zh.locator("[data-testid=offers]"), f"博物馆门票 {tag}")
    card = zh.locator(f"[data-offer='{ticket['id']}']").inner_text()
    assert "成都博物馆文创店" in card and "25.00 信用点" in card and "剩余 12 份" in card and "青羊区" in card
    assert [o.inner_text() for o in zh.locator("#shops-category option").all()][:3] == ["全部", "餐饮", "生活超市"]
    zh.shot("phone-shops-zh")


def import_key_zh(page, key_hex: str) -> None:
    from .conftest import PASSWORD
    page.get_by_role("button", name="导入已有密钥").click()
    page.locator("#import-key").fill(key_hex)
    page.locator("#new-password").fill(PASSWORD)
    page.locator("#new-password-2").fill(PASSWORD)
    page.get_by_role("button", name="导入密钥", exact=True).click()
    page.locator("nav.tabs").wait_for(timeout=TIMEOUT_MS)
