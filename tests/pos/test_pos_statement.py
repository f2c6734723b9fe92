"""The till's statement for a date range (totals and a CSV download) and its webhooks' delivery log with a retry
button, in Chromium at phone size.

Given confirmed sales (one partly refunded) and a webhook endpoint whose receiver is down, when the merchant opens
the statement for today and downloads it, then the totals and every CSV row equal what the API lists and the chain's
Redeemed and Refunded events for the shop (the auditor's figures), a label a
spreadsheet would run as a formula is made inert; and the delivery log shows the failed delivery, and Retry sends
it again (one more attempt, the same event).
"""
from __future__ import annotations

import csv
import datetime as dt
import io

from ledger_node.typed_data import sign

from .conftest import API, wait_for
from .test_pos_page import TIMEOUT_MS, expect_text, shot, sign_in


def pay(api, resident, credits: int, label: str) -> dict:
    """A sale paid as the wallet pays it: the request's consent signed by the resident, approved, confirmed."""
    req = api.post("/v1/redemption_requests", headers=api.merchant_headers,
                   json={"resident": resident.address, "credits": credits, "orderRef": label}).json()
    done = api.post(f"/v1/redemption_requests/{req['id']}/approve",
                    json={"signature": "0x" + sign(resident, req["typedData"]).hex(),
                          "parts": req["typedData"]["message"]["parts"], "wait": True})
    assert done.status_code == 201, done.text
    return done.json()


def todays_sales(api) -> list[dict]:
    midnight = dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    got = api.get("/v1/redemptions", headers=api.merchant_headers,
                  params={"limit": 100, "status": "confirmed", "created_from": midnight.isoformat()})
    assert got.status_code == 200, got.text
    assert not got.json()["has_more"]
    return got.json()["data"]


def test_statement_forToday_equalsTheApi_andItsCsvToo(open_wallet, wallet_api, wallet_city):
    resident = wallet_city.residents[0]
    first = pay(wallet_api, resident, 321, "=SUM(A1) table 3")
    second = pay(wallet_api, resident, 150, 'Counter, "large" tea')
    refund = wallet_api.post(f"/v1/redemptions/{first['id']}/refunds", headers=wallet_api.merchant_headers,
                             json={"credits": 21})
    assert refund.status_code == 201, refund.text
    sales = todays_sales(wallet_api)
    assert {s["orderLabel"] for s in sales} >= {"=SUM(A1) table 3", 'Counter, "large" tea'}
    net = sum(s["credits"] - s["refundedCredits"] for s in sales)

    pos = open_wallet("/pos/", width=390, height=844)
    sign_in(pos, wallet_api.live.merchant_key)
    pos.locator("[data-testid=tab-statement]").click()
    today = dt.date.today().isoformat()
    pos.locator("#statement-from").fill(today)
    pos.locator("#statement-to").fill(today)
    pos.locator("[data-testid=statement-show]").click()
    totals = expect_text(pos.locator("[data-testid=statement-totals]"), f"{net // 100:,}.{net % 100:02d}")
    assert str(len(sales)) in totals.split("\n")
    shot(pos, "phone-statement-en")
    with pos.page.expect_download(timeout=TIMEOUT_MS) as download:
        pos.locator("[data-testid=statement-csv]").click()
    assert download.value.suggested_filename == f"citypoints-statement-{today}-{today}.csv"
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert rows[0] == ["created_at_utc", "redemption_id", "order", "credits", "refunded", "net", "tx_hash", "block"]
    body, total = rows[1:-1], rows[-1]
    by_id = {s["id"]: s for s in sales}
    assert sorted(r[1] for r in body) == sorted(by_id)
    for r in body:
        s = by_id[r[1]]
        cents = lambda text: int(text.replace(".", ""))  # noqa: E731 - "3.21" -> 321, exactly
        assert (cents(r[3]), cents(r[4]), cents(r[5])) == (s["credits"], s["refundedCredits"],
                                                           s["credits"] - s["refundedCredits"])
        assert r[6] == s["txHash"] and int(r[7]) == s["blockNumber"] and r[0] == s["createdAt"]
    # and the chain's own events for this shop (what the auditor replays): this test's sales and refund (the module's
    # store also keeps earlier tests' sales, whose blocks the session node has since reverted)
    redemption = wallet_city.contracts["Redemption"]
    mine = [r for r in body if r[1] in (first["id"], second["id"])]
    assert len(mine) == 2
    first_block = min(int(r[7]) for r in mine)
    merchant = wallet_city.merchant.address
    sold = {"0x" + e["args"]["redemptionId"].hex(): e for e in redemption.events.Redeemed().get_logs(
        from_block=first_block, argument_filters={"merchant": merchant})}
    refunded: dict[str, int] = {}
    for e in redemption.events.Refunded().get_logs(from_block=first_block, argument_filters={"merchant": merchant}):
        key = "0x" + e["args"]["redemptionId"].hex()
        refunded[key] = refunded.get(key, 0) + e["args"]["credits"]
    for r in mine:
        on_chain = sold[r[1]]  # the API's redemption id is the chain's redemptionId
        assert (on_chain["transactionHash"].to_0x_hex(), on_chain["blockNumber"]) == (r[6], int(r[7]))
        assert cents(r[3]) == on_chain["args"]["credits"]
        assert cents(r[4]) == refunded.get(r[1], 0)
    labels = {r[1]: r[2] for r in body}
    assert labels[first["id"]] == "'=SUM(A1) table 3"  # not a formula in a spreadsheet
    assert 'Counter, "large" tea' in labels.values()
    assert total[0] == "total" and int(total[1]) == len(sales) and int(total[5].replace(".", "")) == net
    # a range that ends before today's sales holds none of them
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    pos.locator("#statement-from").fill(yesterday)
    pos.locator("#statement-to").fill(yesterday)
    pos.locator("[data-testid=statement-show]").click()
    expect_text(pos.locator("[data-testid=statement-totals]"), "0.00")
    # a range backwards is refused in words
    pos.locator("#statement-from").fill(today)
    pos.locator("[data-testid=statement-show]").click()
    expect_text(pos.locator("[data-testid=statement-error]"), "first day on or before the last day")


def test_webhooks_showTheDeliveryLog_andRetrySendsAgain(open_wallet, wallet_api, wallet_city):
    rt = wallet_api.live.rt
    before = rt.settings
    rt.replace_settings(before.model_copy(update={"webhook_allow_http": True, "webhook_allow_private_targets": True,
                                                  "webhook_backoff_s": 3600.0}))  # no retry by itself meanwhile
    try:
        down = f"http://127.0.0.1:{API._free_port()}/hooks"  # nothing listens there: every attempt fails
        made = wallet_api.post("/v1/webhook_endpoints", headers=wallet_api.merchant_headers, json={"url": down})
        assert made.status_code == 201, made.text
        endpoint = made.json()["id"]
        pay(wallet_api, wallet_city.residents[1], 99, "Webhook test · 1 biscuit")

        def log():
            return wallet_api.get(f"/v1/webhook_endpoints/{endpoint}/deliveries",
                                  headers=wallet_api.merchant_headers).json()["data"]
        tried = wait_for(lambda: [d for d in log() if d["attempts"] >= 1], what="the first delivery attempt")[0]

        pos = open_wallet("/pos/?lang=zh", width=390, height=844, lang="zh")
        sign_in(pos, wallet_api.live.merchant_key, button="登录")
        pos.locator("[data-testid=tab-webhooks]").click()
        row = pos.locator(f".hook[data-id='{endpoint}'] li[data-id='{tried['id']}']")
        expect_text(row, "redemption.confirmed")
        expect_text(row, "已尝试 1 次")
        shot(pos, "phone-webhooks-zh")
        row.locator("[data-testid=redeliver]").click()
        expect_text(row, "已重新推送")
        wait_for(lambda: next(d for d in log() if d["id"] == tried["id"])["attempts"] >= 2,
                 what="the retry's attempt")
        again = next(d for d in log() if d["id"] == tried["id"])
        assert again["eventType"] == "redemption.confirmed" and again["lastError"]
    finally:
        rt.replace_settings(before)
        wallet_api.delete(f"/v1/webhook_endpoints/{endpoint}", headers=wallet_api.merchant_headers)
