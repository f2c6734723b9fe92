"""The merchants' point-of-sale page (/pos) in Chromium beside the resident's wallet, two browser contexts on the
live API and node.

Given a shop's API key, when the cashier signs in and takes a sale, then the till shows the request's QR code, the
wallet that opens it approves, the till shows "paid" live (server-sent events) with the receipt, a refund from the
till reaches the wallet's history, and the key is nowhere in the page. At phone size in English and 中文, and at
tablet size; screenshots under build/screenshots/pos/. Prints how long a sale took from the resident's approval to
"paid" on the till's screen (not asserted).
"""
from __future__ import annotations

import datetime as dt
import re
import statistics
import time

import httpx

from sqlalchemy import select

from exchange_api.store.models import RedemptionRequest

from tests.pages import TIMEOUT_MS

from .conftest import PASSWORD, SHOTS, wait_for

# the till's clock (Date.now(), the same machine's as the test's) when its receipt appears: window.__paidAt
WATCH_PAID = """() => {
  window.__paidAt = null;
  const obs = new MutationObserver(() => {
    if (document.querySelector('[data-testid=receipt]')) { window.__paidAt = Date.now(); obs.disconnect(); }
  });
  obs.observe(document.body, { childList: true, subtree: true });
}"""


def paid_after(page, approved_at: float) -> float:
    """Seconds from the wallet's approval to the till's receipt on screen."""
    page.locator("[data-testid=receipt]").wait_for(timeout=TIMEOUT_MS)
    return page.evaluate("() => window.__paidAt") / 1000 - approved_at


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def expect_text(locator, text: str, timeout_ms: int = TIMEOUT_MS) -> str:
    deadline = time.monotonic() + timeout_ms / 1000
    last = None
    while time.monotonic() < deadline:
        last = locator.inner_text(timeout=timeout_ms)
        if text in last:
            return last
        time.sleep(0.03)
    raise AssertionError(f"expected {text!r}, the page shows {last!r}")


def sign_in(page, key: str, button: str = "Sign in") -> None:
    page.locator("#api-key").fill(key)
    page.get_by_role("button", name=button).click()
    page.locator("[data-testid=merchant-name]").wait_for(timeout=TIMEOUT_MS)


def import_key(wallet, key_hex: str, import_button: str = "Import an existing key", done: str = "Import key") -> None:
    wallet.get_by_role("button", name=import_button).click()
    wallet.locator("#import-key").fill(key_hex)
    wallet.locator("#new-password").fill(PASSWORD)
    wallet.locator("#new-password-2").fill(PASSWORD)
    wallet.get_by_role("button", name=done).click()
    wallet.locator("nav.tabs").wait_for(timeout=TIMEOUT_MS)


def take_sale(pos, resident: str, amount: str, order: str) -> None:
    pos.locator("#customer").fill(resident)
    pos.locator("#amount").fill(amount)
    pos.locator("#order").fill(order)
    pos.locator("[data-testid=ask]").click()
    pos.locator("#sale-qr svg").wait_for(timeout=TIMEOUT_MS)


def today_total(api) -> tuple[int, int]:
    """(sales, credit cents net of refunds) of today's confirmed sales, as the API lists them: what the till's
    "Today's sales" should add up to (the store is shared by this module's tests, in any order)."""
    midnight = dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    sales = api.get("/v1/redemptions", params={"limit": 100}, headers=api.merchant_headers).json()["data"]
    today = [s for s in sales if s["status"] == "confirmed"
             and dt.datetime.fromisoformat(s["createdAt"].replace("Z", "+00:00")) >= midnight]
    return len(today), sum(s["credits"] - s["refundedCredits"] for s in today)


def total_text(n: int, cents: int) -> str:
    return f"Sales: {n} · {cents // 100:,}.{cents % 100:02d} credits"


def newest_request(api) -> RedemptionRequest:
    return api.live.rt.store.call(lambda s: s.scalars(select(RedemptionRequest)
                                                      .order_by(RedemptionRequest.seq.desc()).limit(1)).one())


def approve_on_wallet(wallet, url: str, order: str) -> float:
    """The resident opens the QR's link and approves; returns when (time.time()) the approval left the wallet."""
    wallet.goto(url)
    wallet.locator("[data-testid=request-card]").wait_for(timeout=TIMEOUT_MS)
    assert wallet.locator("[data-testid=request-order]").inner_text() == order
    wallet.locator("#sign-password").fill(PASSWORD)
    sent: list[float] = []

    def approval(r) -> bool:  # called as the browser sends it (Playwright is waiting here)
        if r.method == "POST" and r.url.endswith("/approve"):
            sent.append(time.time())
            return True
        return False
    with wallet.expect_request(approval, timeout=TIMEOUT_MS):
        wallet.locator("#sign-password").press("Enter")
    return sent[0]


def test_pos_takesASale_theWalletPays_tillShowsPaidAndRefunds_inEnglish(open_wallet, wallet_api, wallet_city, w3):
    key = wallet_api.live.merchant_key
    resident = wallet_city.residents[0]
    pos = open_wallet("/pos/", width=390, height=844)
    # a wrong key: a clear sentence, no session
    pos.locator("#api-key").fill("cpk_" + "z" * 32)
    pos.get_by_role("button", name="Sign in").click()
    expect_text(pos.locator("[data-testid=signin-error]"), "That API key is not known")
    shot(pos, "phone-signin-refused-en")
    sign_in(pos, key)
    assert pos.locator("[data-testid=merchant-name]").inner_text() == "Museum shop"
    # the key is nowhere in the page: not in storage, not readable as a cookie (HttpOnly), the field emptied
    assert pos.evaluate("() => document.cookie") == ""
    stored = pos.evaluate("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert key not in stored and pos.locator("#api-key").count() == 0
    cookie = [c for c in pos.context.cookies() if c["name"] == "citypoints_pos"][0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"] != key

    # the amount is checked before anything is sent
    pos.locator("#customer").fill(resident.address)
    pos.locator("#amount").fill("12.345")
    pos.locator("#order").fill("Table 7 · 2 coffees")
    pos.locator("[data-testid=ask]").click()
    expect_text(pos.locator("[data-testid=sale-error]"), "at most two decimals")
    assert not [u for m, u, _ in pos.requests if m == "POST" and "/redemption_requests" in u]
    shot(pos, "phone-sale-form-en")

    take_sale(pos, resident.address, "12.34", "Table 7 · 2 coffees")
    assert pos.locator("[data-testid=sale-amount]").inner_text() == "12.34 credits"
    expect_text(pos.locator("[data-testid=sale-status]"), "Waiting for the customer")
    shot(pos, "phone-sale-qr-en")
    req = newest_request(wallet_api)
    assert req.credits == 1234 and req.order_label == "Table 7 · 2 coffees" and req.resident == resident.address
    qr = wallet_api.get(f"/v1/redemption_requests/{req.id}").json()["qrPayload"]
    assert qr == f"{wallet_api.live.url}/wallet/?request={req.id}"

    wallet = open_wallet("/wallet/", width=390, height=844)
    import_key(wallet, resident.key.hex())
    pos.evaluate(WATCH_PAID)
    approved_at = approve_on_wallet(wallet, qr, "Table 7 · 2 coffees")
    print(f"\nPOS sale, approval to 'paid' on the till: {paid_after(pos, approved_at):.3f} s")
    expect_text(pos.locator("[data-testid=receipt-amount]"), "Paid 12.34 credits")
    assert pos.locator("[data-testid=receipt-order]").inner_text() == "Table 7 · 2 coffees"
    assert pos.locator("[data-testid=receipt-merchant]").inner_text() == "To Museum shop"
    red = wallet_api.get(f"/v1/redemptions/{wallet_api.get(f'/v1/redemption_requests/{req.id}').json()['redemptionId']}",
                         headers=wallet_api.merchant_headers).json()
    assert red["status"] == "confirmed"
    parts = pos.locator("[data-testid=receipt-parts]").inner_text()
    names = {3: "Culture", 4: "Green living"}
    for part in red["parts"]:
        assert f"{part['points']:,} {names[part['scheme']]} points" in parts, parts
    shot(pos, "phone-receipt-en")
    expect_text(wallet.locator("[data-testid=pay-result]"), "Paid 12.34 credits to")

    # today's sales: the sale with its label; a partial refund reaches the chain and the wallet's history
    pos.locator("[data-testid=new-sale]").click()
    pos.locator("[data-testid=tab-today]").click()
    row = pos.locator(f"[data-testid=today-list] li[data-id='{red['id']}']")
    expect_text(row, "Table 7 · 2 coffees")
    n, cents = today_total(wallet_api)
    expect_text(pos.locator("[data-testid=today-total]"), total_text(n, cents))
    before = [wallet_city.balance(resident.address, s) for s in (3, 4)]
    row.get_by_role("button", name="Refund").click()
    row.locator("input").fill("20")
    row.locator("[data-testid=refund-do]").click()
    expect_text(row.locator("[data-testid=refund-error]"), "At most 12.34 credits")
    row.locator("input").fill("5.00")
    row.locator("[data-testid=refund-do]").click()
    expect_text(row.locator("[data-testid=refund-result]"), "Refunded 5.00 credits")
    expect_text(row, "5.00 refunded")
    assert today_total(wallet_api) == (n, cents - 500)
    expect_text(pos.locator("[data-testid=today-total]"), total_text(n, cents - 500))
    after = [wallet_city.balance(resident.address, s) for s in (3, 4)]
    assert after != before and all(a >= b for a, b in zip(after, before))  # points given back, none taken
    shot(pos, "phone-today-refund-en")
    wallet.get_by_role("link", name="Points").click()
    expect_text(wallet.locator("ol.history"), "Merchant refund")
    shot(wallet, "phone-wallet-history-refund-en")

    # open requests: one made at the till is listed and cancelled from the list
    pos.locator("[data-testid=tab-sale]").click()
    take_sale(pos, wallet_city.residents[1].address, "3", "Counter · 1 tea")
    pos.locator("[data-testid=cancel-sale]").click()
    expect_text(pos.locator("[data-testid=sale-status]"), "Cancelled.")
    pos.get_by_role("button", name="New sale").click()
    take_sale(pos, wallet_city.residents[1].address, "4.50", "Counter · 2 teas")
    waiting = newest_request(wallet_api)
    pos.goto(wallet_api.live.url + "/pos/?lang=en#open")  # the page loaded again: the session cookie signs it in
    row = pos.locator(f"[data-testid=open-list] li[data-id='{waiting.id}']")
    expect_text(row, "Counter · 2 teas")
    expect_text(row, "4.50")
    shot(pos, "phone-open-requests-en")
    row.get_by_role("button", name="Cancel this sale").click()
    wait_for(lambda: pos.locator(f"[data-testid=open-list] li[data-id='{waiting.id}']").count() == 0,
             what="the cancelled request to leave the list")
    assert wallet_api.get(f"/v1/redemption_requests/{waiting.id}").json()["status"] == "cancelled"

    # signing out ends the session: the cookie no longer works, the page asks for the key again
    pos.locator("[data-testid=sign-out]").click()
    expect_text(pos.locator("main"), "Signed out.")
    with httpx.Client(base_url=wallet_api.live.url, cookies={"citypoints_pos": cookie["value"]}) as old:
        assert old.get("/v1/redemption_requests").json()["error"]["code"] == "invalid_session"


def test_pos_inChinese_atPhoneAndTabletSize_measuresSaleToPaid(open_wallet, wallet_api, wallet_city, w3):
    key = wallet_api.live.merchant_key
    resident = wallet_city.residents[2]
    pos = open_wallet("/pos/?lang=zh", width=390, height=844, lang="zh")
    expect_text(pos.locator("main"), "登录收银台")
    shot(pos, "phone-signin-zh")
    sign_in(pos, key, button="登录")
    expect_text(pos.locator("main"), "顾客的码")
    shot(pos, "phone-sale-form-zh")
    wallet = open_wallet("/wallet/?lang=zh", width=390, height=844, lang="zh")
    import_key(wallet, resident.key.hex(), "导入已有密钥", "导入密钥")

    take_sale(pos, resident.address, "2.50", "7 号桌 · 2 杯咖啡")
    expect_text(pos.locator("[data-testid=sale-status]"), "等待顾客确认")
    shot(pos, "phone-sale-qr-zh")
    req = newest_request(wallet_api)
    pos.evaluate(WATCH_PAID)
    approved_at = approve_on_wallet(wallet, wallet_api.get(f"/v1/redemption_requests/{req.id}").json()["qrPayload"],
                                    "7 号桌 · 2 杯咖啡")
    timings = [paid_after(pos, approved_at)]
    expect_text(pos.locator("[data-testid=sale-status]"), "已付款")
    expect_text(pos.locator("[data-testid=receipt-amount]"), "已收 2.50 信用点")
    expect_text(pos.locator("[data-testid=receipt-parts]"), "积分")
    shot(pos, "phone-receipt-zh")

    # a tablet at the counter, the same session (same browser context), more sales to measure
    tablet = pos.context.new_page()
    tablet.set_viewport_size({"width": 820, "height": 1180})
    tablet.goto(wallet_api.live.url + "/pos/?lang=zh")
    tablet.locator("[data-testid=merchant-name]").wait_for(timeout=TIMEOUT_MS)
    for i in range(4):
        tablet.locator("#customer").fill(resident.address)
        tablet.locator("#amount").fill(f"0.{i + 1}5")
        tablet.locator("#order").fill(f"柜台 · 第 {i + 1} 单")
        tablet.locator("[data-testid=ask]").click()
        tablet.locator("#sale-qr svg").wait_for(timeout=TIMEOUT_MS)
        if i == 0:
            tablet.screenshot(path=str(SHOTS / "tablet-sale-qr-zh.png"), full_page=True)
        req = newest_request(wallet_api)
        tablet.evaluate(WATCH_PAID)
        approved_at = approve_on_wallet(wallet, wallet_api.get(f"/v1/redemption_requests/{req.id}").json()[
            "qrPayload"], f"柜台 · 第 {i + 1} 单")
        timings.append(paid_after(tablet, approved_at))
        tablet.locator("[data-testid=new-sale]").click()
    tablet.locator("[data-testid=tab-today]").click()
    expect_text(tablet.locator("[data-testid=today-list]"), "柜台 · 第 4 单")
    tablet.screenshot(path=str(SHOTS / "tablet-today-zh.png"), full_page=True)
    print(f"\nPOS sale, approval to 'paid' on the till (automine node), {len(timings)} sales: "
          f"median {statistics.median(timings):.3f} s, max {max(timings):.3f} s")
    tablet.close()


def test_posPage_isServedWithThePagesPolicy_noInlineScript(wallet_api):
    """Same origin only, no inline script: the page's CSP, and its HTML loads its one script by URL."""
    resp = wallet_api.get("/pos/")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and resp.headers["x-frame-options"] == "DENY"
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", resp.text, flags=re.S)
    assert scripts and all(body.strip() == "" for body in scripts)
    assert re.search(r'<script type="module" src="/pos/app-[A-Z0-9]+\.js">', resp.text)
    assert "http://" not in resp.text and "https://" not in resp.text  # nothing from another origin


def test_signInForm_keepsTheTypedKey_whenThePageRedrawsBeforeItIsSent(open_wallet, wallet_api):
    """A redraw while the cashier is typing (a late answer such as the programme names, or a change of tab) keeps
    the key in its field, so Sign in sends it: the field was once emptied by any redraw, and the till stayed on the
    sign-in form without a word (seen under CI's load, when /v1/schemes answered after the form appeared)."""
    pos = open_wallet("/pos/?lang=en", width=390, height=844)
    pos.locator("#api-key").fill(wallet_api.live.merchant_key)
    pos.evaluate("() => { location.hash = '#today'; }")  # the till redraws on every change of view
    pos.wait_for_function("() => location.hash === '#today'")
    pos.locator("#api-key").wait_for(timeout=TIMEOUT_MS)
    assert pos.locator("#api-key").input_value() == wallet_api.live.merchant_key
    pos.get_by_role("button", name="Sign in").click()
    pos.locator("[data-testid=merchant-name]").wait_for(timeout=TIMEOUT_MS)
    assert pos.locator("#api-key").count() == 0
