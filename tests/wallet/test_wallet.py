"""The resident's wallet page in a real browser (Debian chromium through Playwright) against the live API and node.

Given a resident of the small city (culture and green points), when they use the page, then what it shows equals
the chain, what they sign is what the summary said, refusals are clear, and the page never leaves its origin
(`open_wallet` checks every request it made). Screenshots go to build/screenshots/wallet/.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time

from eth_account import Account

from exchange_api.store.models import RedemptionRequest
from ledger_node.domain import value_decimal
from ledger_node.typed_data import sign

from tests.pages import TIMEOUT_MS

from .conftest import CULTURE, GREEN, PASSWORD, RATES


def credits_text(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d} credits"


def chain_credits(city, address: str) -> int:
    """What the resident's points and change pay (PointsLedger.balanceOf, changeOf), scheme by scheme."""
    ledger = city.contracts["PointsLedger"]
    return sum((city.balance(address, s) * RATES[s] + ledger.functions.changeOf(address, s).call()) // 10**6
               for s in (CULTURE, GREEN))


def import_key(page, key_hex: str, password: str = PASSWORD) -> None:
    page.get_by_role("button", name="Import an existing key").click()
    page.locator("#import-key").fill(key_hex)
    page.locator("#new-password").fill(password)
    page.locator("#new-password-2").fill(password)
    page.get_by_role("button", name="Import key").click()
    page.locator("nav.tabs").wait_for(timeout=TIMEOUT_MS)


def expect_text(locator, text: str, timeout_ms: int = TIMEOUT_MS) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    last = None
    while time.monotonic() < deadline:
        last = locator.inner_text(timeout=timeout_ms)
        if text in last:
            return
        time.sleep(0.05)
    raise AssertionError(f"expected {text!r}, the page shows {last!r}")


def set_deadline(api, request_id: str, deadline: int) -> None:
    def update(s):
        row = s.query(RedemptionRequest).filter(RedemptionRequest.id == request_id).one()
        row.deadline = deadline
    api.live.rt.store.call(update)


def create_request(api, resident, credits: int, order: str, expires_in: int = 600) -> dict:
    resp = api.post("/v1/redemption_requests", headers=api.merchant_headers,
                    json={"resident": resident.address, "credits": credits, "orderRef": order, "expiresIn": expires_in})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_wallet_importedKey_showsChainBalancesAndApprovesAMerchantRequest(open_wallet, wallet_api, wallet_city, w3):
    resident = wallet_city.residents[0]
    page = open_wallet("/wallet/")
    import_key(page, resident.key.hex())
    page.locator("[data-testid=total-credits]").filter(has_text="credits").wait_for(timeout=TIMEOUT_MS)

    # balances per program and the total equal the chain's (PointsLedger.balanceOf)
    before = chain_credits(wallet_city, resident.address)
    expect_text(page.locator("[data-testid=total-credits]"), credits_text(before))
    for scheme in (CULTURE, GREEN):
        expect_text(page.locator(f"[data-testid=points-{scheme}]"), f"{wallet_city.balance(resident.address, scheme):,} points")
    history = page.locator("ol.history").inner_text()
    for line in ("Culture gave you 300 points", "Why: museum visit", "Why: library loan",
                 "Green living gave you 500 points", "Why: recycling plastic", "Why: low-carbon trip by bike"):
        assert line in history, (line, history)
    # each entry says when: its block's time, as a date a person reads (the block number on hover)
    first = wallet_api.get(f"/v1/residents/{resident.address}/history", params={"limit": 1}).json()["data"][0]
    when = page.locator("ol.history li time").first
    assert when.get_attribute("datetime") == dt.datetime.fromtimestamp(
        first["blockTimestamp"], dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert str(dt.datetime.fromtimestamp(first["blockTimestamp"], dt.timezone.utc).year) in when.inner_text()
    page.shot("phone-points-en")

    # a merchant asks; the resident types the code and reads what they would sign
    req = create_request(wallet_api, resident, 1234, "ORDER-2041 museum café")
    page.get_by_role("link", name="Pay").click()
    page.locator("#request-code").fill(req["id"])
    page.locator("#request-code").press("Enter")  # keyboard only
    card = page.locator("[data-testid=request-card]")
    card.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("[data-testid=request-amount]").inner_text() == "12.34 credits"
    assert page.locator("[data-testid=request-merchant]").inner_text() == "Museum shop"  # its name, not its address
    assert wallet_city.merchant.address not in page.locator("[data-testid=request-card] dl.facts").first.inner_text()
    assert page.locator("[data-testid=request-order]").inner_text() == "ORDER-2041 museum café"
    assert re.search(r"\(in (9|10) min \d+ s\)", page.locator("[data-testid=request-expiry]").inner_text())
    assert page.get_by_role("button", name="Approve and pay 12.34 credits").is_enabled()
    # exact change: the plan to sign, part by part, and what it is against the price, before anything is signed
    plan = req["plan"]
    for part in plan["parts"]:
        expect_text(page.locator("[data-testid=request-plan]"), f"{part['points']:,} ")
    total_text = page.locator("[data-testid=request-plan-total]").inner_text()
    assert total_text.startswith(f"= {plan['valueDecimal']} credits"), total_text
    assert ("exactly the price" in total_text) if plan["change"] == 0 else \
        (f"{plan['changeDecimal']} back to you as change" in total_text), total_text
    page.shot("phone-pay-summary-en")

    # wrong password: nothing is signed or sent
    page.locator("#sign-password").fill("not the password")
    page.locator("#sign-password").press("Enter")
    expect_text(page.locator(".approve-form"), "Wrong password.")
    assert not [u for m, u, _ in page.requests if m == "POST"]

    page.locator("#sign-password").fill(PASSWORD)
    page.locator("#sign-password").press("Enter")
    result = page.locator("[data-testid=pay-result]")
    expect_text(result, "Paid 12.34 credits to")
    expect_text(result, "Confirmed by the ledger.")
    assert "block" not in result.locator("p").first.inner_text()  # residents read words; numbers behind Details
    page.shot("phone-pay-receipt-en")

    # the merchant sees its redemption confirmed; the chain and the page show the lower balance
    got = wallet_api.get(f"/v1/redemption_requests/{req['id']}").json()
    assert got["status"] == "approved" and got["redemptionId"]
    red = wallet_api.get(f"/v1/redemptions/{got['redemptionId']}", headers=wallet_api.merchant_headers).json()
    assert red["status"] == "confirmed" and red["credits"] == 1234
    page.locator("[data-testid=receipt-details] summary").click()
    expect_text(page.locator("[data-testid=receipt-details]"), f"{red['blockNumber']:,}")
    expect_text(page.locator("[data-testid=receipt-details]"), red["txHash"])
    # the receipt shows the chain's figures: the value of the points taken and the change kept
    receipt = page.locator("[data-testid=receipt-plan-total]").inner_text()
    assert receipt.startswith(f"= {red['valueDecimal']} credits") and red["value"] - red["change"] == 1234 * 10**6
    after = chain_credits(wallet_city, resident.address)
    assert before - after == 1234  # exactly the price: what the points were worth beyond it is the change
    page.get_by_role("link", name="Points").click()
    expect_text(page.locator("[data-testid=total-credits]"), credits_text(after))
    for part in red["parts"]:  # change kept is shown with its programme (the total above counts it)
        change = wallet_city.contracts["PointsLedger"].functions.changeOf(resident.address, part["scheme"]).call()
        if change:
            expect_text(page.locator(f"[data-testid=change-{part['scheme']}]"), value_decimal(change))
    expect_text(page.locator("ol.history"), "Paid a merchant with")

    # the key never left the browser, and is stored only encrypted
    key = resident.key.hex().removeprefix("0x").lower()
    for method, url, body in page.requests:
        assert key not in url.lower() and key not in (body or "").lower(), (method, url)
    stored = page.evaluate("() => JSON.stringify(localStorage)")
    assert key not in stored.lower() and "AES-GCM" in stored and resident.address in stored


def test_wallet_expiredOrUsedRequest_isRefusedWithAClearMessage(open_wallet, wallet_api, wallet_city, w3):
    resident = wallet_city.residents[1]
    expired = create_request(wallet_api, resident, 500, "ORDER-OLD", expires_in=30)
    set_deadline(wallet_api, expired["id"], int(time.time()) - 5)

    # opened from the merchant's link: refused before anything can be signed
    page = open_wallet(f"/wallet/?request={expired['id']}")
    import_key(page, resident.key.hex())
    error = page.locator("[data-testid=request-error]")
    expect_text(error, "This payment request has expired. Ask the merchant for a new one.")
    assert page.locator("[data-testid=approve]").count() == 0
    page.shot("phone-pay-expired-en")

    # expires while the resident reads it: the API's consent_expired is shown as the same clear message
    late = create_request(wallet_api, resident, 500, "ORDER-LATE")
    page.locator("#request-code").fill(late["qrPayload"])  # the QR's text, pasted
    page.get_by_role("button", name="Open").click()
    page.locator("[data-testid=request-card]").wait_for(timeout=TIMEOUT_MS)
    set_deadline(wallet_api, late["id"], int(time.time()) - 1)
    page.locator("#sign-password").fill(PASSWORD)
    page.locator("[data-testid=approve]").click()
    expect_text(page.locator("[data-testid=request-error]"),
                "This payment request has expired. Ask the merchant for a new one.")

    # already approved (signed elsewhere): refused as used
    used = create_request(wallet_api, resident, 300, "ORDER-USED")
    signature = "0x" + sign(resident, used["typedData"]).hex()
    done = wallet_api.post(f"/v1/redemption_requests/{used['id']}/approve",
                           json={"signature": signature, "parts": used["typedData"]["message"]["parts"]})
    assert done.status_code == 201, done.text
    page.locator("#request-code").fill(used["id"])
    page.get_by_role("button", name="Open").click()
    expect_text(page.locator("[data-testid=request-error]"), "already approved and paid")

    # more than the resident's points are worth: no plan can pay it, so there is nothing to sign
    big = create_request(wallet_api, resident, 10**6, "ORDER-BIG")
    page.locator("#request-code").fill(big["id"])
    page.get_by_role("button", name="Open").click()
    expect_text(page.locator("[data-testid=request-error]"), "not worth enough for this payment")
    assert page.locator("[data-testid=approve]").count() == 0

    # a code that names nothing
    page.locator("#request-code").fill("rrq_doesnotexist")
    page.get_by_role("button", name="Open").click()
    expect_text(page.locator("[data-testid=request-error]"), "No payment request has this code")
    assert wallet_api.get(f"/v1/redemption_requests/{late['id']}").json()["status"] == "expired"


def test_wallet_listsOpenRequestsOnlyOnceTheResidentSignsIn(open_wallet, wallet_api, wallet_city, w3):
    """Which merchants wait for a resident's approval is theirs alone: the page lists them only after the
    resident signs a login with their key (the API refuses the list without its token)."""
    resident = wallet_city.residents[2]
    req = create_request(wallet_api, resident, 150, "ORDER-LIST-7")
    assert wallet_api.get(f"/v1/residents/{resident.address}/redemption_requests").status_code == 401
    page = open_wallet("/wallet/")
    import_key(page, resident.key.hex())
    page.get_by_role("link", name="Pay").click()
    waiting = page.locator("#waiting")
    expect_text(waiting, "Only you can see which merchants are waiting for your approval.")
    assert "ORDER-LIST-7" not in waiting.inner_text()
    page.locator("#login-password").fill("not the password")
    page.get_by_role("button", name="Show my requests").click()
    expect_text(waiting, "Wrong password.")
    assert not [u for m, u, _ in page.requests if m == "POST"]  # nothing signed, nothing sent
    page.locator("#login-password").fill(PASSWORD)
    page.get_by_role("button", name="Show my requests").click()
    expect_text(waiting, "ORDER-LIST-7")
    logins = [json.loads(body) for m, u, body in page.requests if m == "POST" and u.endswith("/login")]
    assert len(logins) == 1 and set(logins[0]) == {"issuedAt", "nonce", "signature"}
    page.shot("phone-pay-waiting-en")
    waiting.get_by_role("button").filter(has_text="ORDER-LIST-7").click()
    expect_text(page.locator("[data-testid=request-amount]"), "1.50 credits")
    assert wallet_api.get(f"/v1/redemption_requests/{req['id']}").json()["status"] == "open"


def test_wallet_exchangesBetweenProgramsWithALiveQuote(open_wallet, wallet_api, wallet_city, w3):
    resident = wallet_city.residents[2]
    green0, culture0 = (wallet_city.balance(resident.address, s) for s in (GREEN, CULTURE))
    page = open_wallet("/wallet/#/exchange", width=1280, height=800)
    import_key(page, resident.key.hex())
    page.get_by_role("link", name="Exchange").click()
    page.locator("#ex-from").select_option(str(GREEN))
    page.locator("#ex-to").select_option(str(CULTURE))
    page.locator("#ex-points").fill("200")
    quote = wallet_api.post("/v1/exchange_quotes", json={"resident": resident.address, "fromScheme": GREEN,
                                                         "toScheme": CULTURE, "points": 200, "slippage": 100}).json()
    assert quote["received"] == 50 and quote["minReceived"] == 49
    expect_text(page.locator("[data-testid=quote-received]"), "You get about 50 Culture points, worth 4.00 credits.")
    expect_text(page.locator("[data-testid=quote-min]"), "At least 49 points are guaranteed")
    page.get_by_text("2%", exact=True).click()  # a wider bound re-quotes
    expect_text(page.locator("[data-testid=quote-min]"), "At least 49 points")
    page.get_by_text("0.5%", exact=True).click()
    expect_text(page.locator("[data-testid=quote-min]"), "At least 49 points")
    page.locator("#ex-password").fill(PASSWORD)
    page.shot("desktop-exchange-en")
    page.locator("[data-testid=exchange-submit]").click()
    expect_text(page.locator("[data-testid=exchange-result]"),
                "Exchanged 200 Green living points for 50 Culture points.")

    assert wallet_city.balance(resident.address, GREEN) == green0 - 200
    assert wallet_city.balance(resident.address, CULTURE) == culture0 + 50
    signed = [json.loads(body) for m, u, body in page.requests if m == "POST" and u.endswith("/v1/exchanges")]
    assert len(signed) == 1 and signed[0]["minReceived"] == 49  # 0.5% below 50, rounded down
    page.get_by_role("link", name="Points").click()
    expect_text(page.locator(f"[data-testid=points-{GREEN}]"), f"{green0 - 200:,} points")
    expect_text(page.locator("ol.history"), "Exchanged away 200 Green living points")
    expect_text(page.locator("ol.history"), "Received 50 Culture points by exchange")
    expect_text(page.locator("[data-testid=total-credits]"), credits_text(chain_credits(wallet_city, resident.address)))
    page.shot("desktop-points-en")


def test_wallet_aLateRecoveryPolicy_leavesTheNewKeysPasswordAsTyped(open_wallet):
    """"Lost your key?" on the first screen asks the API for the recovery notice period; when the answer comes late
    (a slow phone network, a busy server) the resident may already be typing the password of the new key to take to
    the office, in the form below: the answer fills in the period and leaves the form as it was typed (it rendered
    the page again, and the form came back empty)."""
    page = open_wallet("/wallet/", width=390, height=844)
    held: list = []
    page.route("**/recoveries/policy", lambda route: held.append(route))  # answered when the test says
    page.locator("[data-testid=lost-key-link]").click()
    page.locator("#new-password").fill(PASSWORD)
    page.locator("#new-password-2").fill(PASSWORD)
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the wallet did not ask for the recovery policy"
    notice = page.locator("[data-testid=notice-period]")
    assert "a few days" in notice.inner_text()
    held[0].continue_()
    for _ in range(200):
        if "a few days" not in notice.inner_text():
            break
        page.wait_for_timeout(50)
    assert "a few days" not in notice.inner_text(), notice.inner_text()  # the period, as the API says it
    assert page.locator("#new-password").input_value() == PASSWORD
    assert page.locator("#new-password-2").input_value() == PASSWORD
    page.get_by_role("button", name="Create my new key").click()  # and the key is made with it
    page.locator("nav.tabs").wait_for(timeout=TIMEOUT_MS)


def test_wallet_newKeyAndLanguages_atPhoneAndDesktopSizes(open_wallet, wallet_api, wallet_city, w3):
    served = wallet_api.get("/wallet", follow_redirects=True)
    assert served.status_code == 200 and served.url.path == "/wallet/" and "Content-Security-Policy" in served.text
    page = open_wallet("/wallet/", width=390, height=844)
    page.keyboard.press("Tab")  # keyboard users first meet the skip link, then the language switch
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == "切换到中文 (Switch to Chinese)"
    page.shot("phone-welcome-en")
    page.get_by_role("button", name="Create a new key").click()
    page.locator("#new-password").fill("short")
    page.locator("#new-password-2").fill("short")
    page.get_by_role("button", name="Create key").click()
    expect_text(page.locator("main"), "The password needs at least 8 characters.")
    page.locator("#new-password").fill(PASSWORD)
    page.locator("#new-password-2").fill(PASSWORD)
    page.get_by_role("button", name="Create key").click()
    expect_text(page.locator("main"), "No points yet.")
    record = json.loads(page.evaluate("() => localStorage.getItem('citypoints.wallet.key.v1')"))
    assert record["kdf"]["name"] == "PBKDF2" and record["kdf"]["iterations"] >= 600_000
    assert record["cipher"]["name"] == "AES-GCM" and "privateKey" not in json.dumps(record)

    page.get_by_role("link", name="My code").click()
    page.locator("#qr svg").wait_for(timeout=TIMEOUT_MS)
    assert page.locator("[data-testid=address]").inner_text().replace("\n", "").replace(" ", "") == record["address"]
    page.shot("phone-my-code-en")

    # the back-up shows the key only after the password, and it is the key of this address
    page.get_by_role("link", name="Key").click()
    page.locator("#reveal-password").fill(PASSWORD)
    page.get_by_role("button", name="Show private key").click()
    revealed = page.locator("#revealed .secret").inner_text(timeout=TIMEOUT_MS)
    assert Account.from_key(revealed).address == record["address"]
    page.shot("phone-key-en")
    page.get_by_role("button", name="Hide").click()
    assert page.locator("#revealed .secret").count() == 0

    # 中文: every label switches, and the choice is remembered
    page.get_by_role("button", name="切换到中文 (Switch to Chinese)").click()
    expect_text(page.locator("main"), "密钥与设置")
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    page.get_by_role("link", name="积分").click()
    expect_text(page.locator("main"), "暂无积分")
    page.reload()
    expect_text(page.locator("main"), "总价值")

    # a demo resident on a desktop, in Chinese
    desk = open_wallet("/wallet/?lang=zh", width=1280, height=800, lang="zh")
    desk.get_by_role("button", name="导入已有密钥").click()
    desk.locator("#import-key").fill(wallet_city.residents[0].key.hex())
    desk.locator("#new-password").fill(PASSWORD)
    desk.locator("#new-password-2").fill(PASSWORD)
    desk.get_by_role("button", name="导入密钥").click()
    expect_text(desk.locator("[data-testid=total-credits]"), "信用点")
    expect_text(desk.locator("ol.history"), "文化消费发放 300 积分")
    expect_text(desk.locator("ol.history"), "原因：参观博物馆")
    desk.shot("desktop-points-zh")
    req = create_request(wallet_api, wallet_city.residents[0], 250, "订单 88")
    desk.get_by_role("link", name="付款").click()
    desk.locator("#request-code").fill(f"{wallet_api.live.url}/wallet/?request={req['id']}")
    desk.get_by_role("button", name="查看").click()
    expect_text(desk.locator("[data-testid=request-amount]"), "2.50 信用点")
    desk.shot("desktop-pay-summary-zh")
    phone_zh = open_wallet(f"/wallet/?lang=zh&request={req['id']}", width=390, height=844, lang="zh", dark=True)
    expect_text(phone_zh.locator("main"), "有一笔商户付款请求待您确认")
    phone_zh.shot("phone-welcome-zh-dark")

    # removing the key needs an explicit confirmation, then the page starts over
    page.get_by_role("link", name="密钥").click()
    page.get_by_role("button", name="删除密钥").click()
    expect_text(page.locator("[role=alert]"), "请先勾选确认")
    assert page.evaluate("() => localStorage.getItem('citypoints.wallet.key.v1')") is not None
    page.locator("#remove-confirm").check()
    page.get_by_role("button", name="删除密钥").click()
    expect_text(page.locator("main"), "城市积分，一处查看")
    assert page.evaluate("() => localStorage.getItem('citypoints.wallet.key.v1')") is None
