"""The consortium's console page in a real browser (Debian chromium through Playwright) against the live API and node.

Given the small city with a redemption recorded in clearing and its period closed, when a consortium member opens
/console (at phone and desktop size, in English and 中文), then the glance view shows the programmes by name with
their status, rate and supply, the closed period and, with an auditor key, its statements with net positions and
settlement states, and the node and indexer status; what it shows equals the API's answers. Screenshots go to
build/screenshots/console/.
"""
from __future__ import annotations

import os
import time

import pytest
from eth_account import Account
from web3 import Web3

from exchange_api.merchant_keys import create_key
from exchange_api.store.db import Store
from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from ledger_node.redemption_plan import plan_on_chain
from ledger_node.typed_data import sign, typed_data

from tests.pages import TIMEOUT_MS

from .conftest import API, ARTIFACTS, CULTURE, GREEN

NAMES = {"en": {CULTURE: "Culture", GREEN: "Green living"}, "zh": {CULTURE: "文化消费", GREEN: "绿色低碳"}}
WORDS = {"en": {"closed": "Period {n}: closed", "open": "Period {n}: open", "ready": "Ready", "active": "active",
                "rate": "Credits a point", "lag": "{n} blocks", "paid": "paid", "unpaid": "open",
                "attested": "the report covers blocks 0 to {to}"},
         "zh": {"closed": "第 {n} 期：已于", "open": "第 {n} 期：进行中", "ready": "正常", "active": "正常",
                "rate": "每积分信用点", "lag": "{n} 个区块", "paid": "已付款", "unpaid": "未结算",
                "attested": "报告覆盖区块 0 至 {to}"}}


def credits(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


def redeem(api, city, w3, resident, amount: int) -> None:
    """A merchant redemption through the API: recorded in clearing as what the programme owes the merchant."""
    c = city.contracts
    parts = plan_on_chain(c["PointsLedger"], c["Rates"], c["Redemption"], resident.address, amount)
    msg = {"resident": resident.address, "merchant": city.merchant.address, "credits": amount,
           "parts": [p.as_message() for p in parts], "orderRef": os.urandom(32), "nonce": os.urandom(32),
           "deadline": int(time.time()) + 3600}
    doc = typed_data("RedemptionConsent", w3.eth.chain_id, city.contracts["Redemption"].address, msg)
    body = {**msg, "orderRef": "0x" + msg["orderRef"].hex(), "nonce": "0x" + msg["nonce"].hex(),
            "signature": "0x" + sign(resident, doc).hex(), "wait": True}
    resp = api.post("/v1/redemptions", json=body, headers=api.merchant_headers)
    assert resp.status_code in (200, 201), resp.text


@pytest.fixture
def closed_city(wallet_api, wallet_city, w3):
    """Two redemptions, the period closed by the operator, one statement paid by its programme's issuer; and an
    auditor key, the one way to read statements."""
    redeem(wallet_api, wallet_city, w3, wallet_city.residents[0], 20)
    redeem(wallet_api, wallet_city, w3, wallet_city.residents[1], 30)
    clearing = wallet_city.contracts["Clearing"]
    period = clearing.functions.openPeriod().call()
    chain.transact(w3, wallet_city.operator, clearing.functions.closePeriod())
    API.wait_indexed(wallet_api, w3)
    auditor = Account.create()  # a unique name: keys stay in the module's database
    store = Store(wallet_api.live.settings.database_url)
    with store.session() as s:
        key = create_key(s, name=f"auditor {auditor.address}", role="auditor").api_key
    store.dispose()
    statements = wallet_api.get("/v1/statements", headers={"Authorization": f"Bearer {key}"}).json()["data"]
    mine = [s for s in statements if s["period"] == period and s["kind"] == "merchant"]
    assert mine and sum(s["amount"] for s in mine) == 50, statements
    paid = next(s for s in mine if s["scheme"] == CULTURE)
    issuer = wallet_city.culture_issuer
    chain.transact(w3, issuer, clearing.functions.recordMerchantPayment(
        period, CULTURE, wallet_city.merchant.address, Web3.keccak(text="bank ref 1")))
    # an auditor attests a report covering the blocks so far; a second shop joins and is suspended
    membership = wallet_city.contracts["Membership"]
    auditor, shop = Account.create(), Account.create()
    chain.fund(w3, wallet_city.operator, [auditor.address], 10**18)
    propose_and_execute(w3, wallet_city.contracts["Consortium"], [wallet_city.operator], [
        call(membership, "grantRole", membership.functions.AUDITOR_ROLE().call(), auditor.address),
        call(membership, "registerMerchant", shop.address), call(membership, "setMerchantSuspended", shop.address,
                                                                 True)])
    # the culture programme credits a member who has no wallet yet: held on chain under the identity hash
    chain.transact(w3, issuer, wallet_city.contracts["PointsLedger"].functions.issueToIdentities(
        CULTURE, 0, [Web3.keccak(text="console: not joined yet")], [35], [Web3.keccak(text="console held 1")], []))
    covered = w3.eth.block_number
    chain.transact(w3, auditor, wallet_city.contracts["AuditAttestations"].functions.attest(
        b"\x5a" * 32, b"\xa5" * 32, 0, covered))
    API.wait_indexed(wallet_api, w3)
    return {"period": period, "key": key, "statements": mine, "paid": paid["statementId"], "covered": covered,
            "auditor": auditor.address, "suspended": shop.address}


def text_of(page, selector: str, *, has: str) -> str:
    """The element's text once it contains `has` (the page loads, then redraws)."""
    loc = page.locator(selector)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    last = ""
    while time.monotonic() < deadline:
        last = loc.inner_text(timeout=TIMEOUT_MS)
        if has in last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{selector}: expected {has!r}, the page shows {last!r}")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_console_glance_showsProgrammesClearingAndIndexer(open_wallet, wallet_api, wallet_city, closed_city, w3,
                                                          lang, size):
    words, names = WORDS[lang], NAMES[lang]
    page = open_wallet("/console/", width=size[0], height=size[1], lang=lang)  # the language: the browser's
    assert page.evaluate("document.documentElement.lang") == ("zh-CN" if lang == "zh" else "en")

    # programmes: names, status, rate and supply as the API gives them
    schemes = {s["scheme"]: s for s in wallet_api.get("/v1/schemes").json()["data"]}
    supply = {s["scheme"]: s for s in wallet_api.get("/v1/supply").json()["data"]}
    for scheme in (CULTURE, GREEN):
        row = text_of(page, f"[data-testid=scheme-{scheme}]", has=names[scheme])
        assert words["active"] in row and f"{schemes[scheme]['totalSupply']:,}" in row, row
        assert credits(int(supply[scheme]["credits"])) in row, row
    assert schemes[CULTURE]["totalSupply"] == wallet_city.contracts["PointsLedger"].functions.totalSupply(
        CULTURE).call()
    assert words["rate"] in page.locator("[data-testid=schemes] thead").inner_text()
    assert "0.08" in page.locator(f"[data-testid=scheme-{CULTURE}]").inner_text()  # 8,000,000 = 0.08 credits
    # a bar for each programme the API lists (the session node may hold other suites' schemes too)
    assert page.locator("[data-testid=schemes] svg.chart rect").count() == len(supply)

    # clearing: the closed period and the open one after it; statements once the auditor key is given
    periods = text_of(page, "[data-testid=periods]", has=words["open"].format(n=closed_city["period"] + 1))
    assert words["closed"].format(n=closed_city["period"]) in periods, periods
    assert page.locator("[data-testid=statements]").count() == 0
    page.locator("#auditor-key").fill(closed_city["key"])
    page.locator("form.key-form button[type=submit]").click()
    for st in closed_city["statements"]:
        row = text_of(page, f"[data-testid=statement-{st['statementId']}]", has=credits(st["amount"]))
        assert names[st["scheme"]] in row, row
        state = words["paid"] if st["statementId"] == closed_city["paid"] else words["unpaid"]
        assert row.strip().endswith(state), row

    # node and indexer: ready, head block and lag as the chain and the API say
    head = w3.eth.block_number
    health = text_of(page, "[data-testid=health]", has=words["ready"])
    assert f"{head:,}" in page.locator("[data-testid=head-block]").inner_text(), health
    assert page.locator("[data-testid=indexer-lag]").inner_text() == words["lag"].format(n=0)

    # the last attested audit and the merchants by their status on the ledger, as the API gives them
    attested = text_of(page, "[data-testid=audit-attested]", has=words["attested"].format(to=f"{closed_city['covered']:,}"))
    latest = wallet_api.get("/v1/attestations").json()["data"][0]
    assert f"{latest['id']}" in attested and latest["auditor"] == closed_city["auditor"]
    assert page.locator("[data-testid=audit-report]").get_attribute("title") == "0x" + "5a" * 32
    statuses = wallet_api.get("/v1/merchants").json()
    assert page.locator("[data-testid=merchants-active]").inner_text() == f"{statuses['counts']['active']:,}"
    assert page.locator("[data-testid=merchants-suspended]").inner_text() == f"{statuses['counts']['suspended']:,}"
    assert closed_city["suspended"] in page.locator("[data-testid=merchants-suspended-list] li").evaluate_all(
        "els => els.map(e => e.title)")

    # points waiting for people who have not joined: the people and the points per programme, as the API sums them
    holdings = wallet_api.get("/v1/holdings").json()
    held = {row["scheme"]: row["points"] for row in holdings["totals"]}
    assert holdings["people"] >= 1 and held[CULTURE] >= 35, holdings
    assert text_of(page, "[data-testid=holdings-people]", has=f"{holdings['people']:,}") == f"{holdings['people']:,}"
    assert page.locator(f"[data-testid=holdings-scheme-{CULTURE}]").inner_text() == f"{held[CULTURE]:,}"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the full-page shot
    name = "phone" if size[0] < 600 else "desktop"
    page.screenshot(path=str(ARTIFACTS / f"glance-{name}-{lang}.png"), full_page=True)


def test_console_securityHeaders_forbidInlineScriptsFramesAndOtherOrigins(wallet_live):
    import httpx
    resp = httpx.get(wallet_live.url + "/console/", timeout=10)
    assert resp.status_code == 200 and "城市积分" in resp.text
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["referrer-policy"] == "no-referrer" and resp.headers["x-content-type-options"] == "nosniff"


def test_console_wrongKey_saysSoAndShowsNoStatements(open_wallet, wallet_api):
    page = open_wallet("/console/", width=1280, height=800, lang="en")
    page.locator("#auditor-key").fill("not-a-key")
    page.locator("form.key-form button[type=submit]").click()
    text = text_of(page, "[data-testid=clearing] [role=alert]", has="That API key is not known")
    assert "check it" in text.lower(), text
    assert page.locator("[data-testid=statements]").count() == 0
