"""The console's governance view in a real browser (Debian chromium through Playwright), at phone size, in English
and 中文, against the live API and node.

Given a consortium of two members governing 2 of 2 and a proposal the first made (a daily cap change), when the
second member opens /console/#governance, then the proposal shows open with 1 of 2 approvals (the first member's,
by transaction) and its call in the words `citypoints gov` uses; when they keep their member key in the page
(encrypted with a password) and approve by signature, then the approvals read 2 of 2, their approval shows "by
signature", and the chain counts it. The glance view shows the node's block age and the daily plot. Screenshots go
to build/screenshots/console/.
"""
from __future__ import annotations

import time

import pytest
from eth_account import Account

from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from ledger_node.governance.city import City
from ledger_node.governance.words import describe_call

from .conftest import API, ARTIFACTS, CULTURE, GREEN
from .test_console import TIMEOUT_MS, text_of

PASSWORD = "member password 1"
WORDS = {"en": {"open": "open", "n_of_m": "Approvals: {n} of {m}", "tx": "by transaction", "sig": "by signature",
                "executable": "executable", "title": "Governance", "age": "s ago"},
         "zh": {"open": "待批准", "n_of_m": "批准：{n} / {m}", "tx": "交易批准", "sig": "签名批准",
                "executable": "可执行", "title": "治理", "age": "秒前"}}


@pytest.fixture
def two_members(wallet_api, wallet_city, w3):
    """A second member, M = 2, and a proposal by the first (the operator): open, 1 of 2."""
    member = Account.create()
    consortium, ledger = wallet_city.contracts["Consortium"], wallet_city.contracts["PointsLedger"]
    propose_and_execute(w3, consortium, [wallet_city.operator], [
        call(consortium, "addMember", member.address), call(consortium, "setThresholds", 2, 1)],
        "console: a second member", advance_time=True)
    calls = [call(ledger, "setResidentDailyCap", CULTURE, 1_234)]
    receipt = chain.transact(w3, wallet_city.operator, consortium.functions.propose(calls, "culture cap 1,234"))
    pid = consortium.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]
    API.wait_indexed(wallet_api, w3)
    return member, pid, calls


def _python_words(wallet_city, w3, calls) -> list[str]:
    """What `citypoints gov show` says for these calls (without "(now ...)"), the schemes named as the page names
    them in English."""
    contracts = {n: c for n, c in wallet_city.contracts.items()}
    city = City(w3, {"startBlock": 0}, contracts, {CULTURE: "Culture", GREEN: "Green living"}, {})
    return [describe_call(city, t, d, current=False)["words"] for t, d in calls]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_console_governance_signedApprovalInThePageMovesNofM(open_wallet, wallet_api, wallet_city, w3, two_members,
                                                              lang):
    member, pid, calls = two_members
    words = WORDS[lang]
    page = open_wallet("/console/#governance", width=390, height=844, lang=lang)
    card = f"[data-testid=proposal-{pid}]"
    assert words["title"] in text_of(page, "[data-testid=governance] h2", has=words["title"])
    text_of(page, f"[data-testid=approvals-{pid}]", has=words["n_of_m"].format(n=1, m=2))
    assert page.locator(f"[data-testid=proposal-state-{pid}]").inner_text() == words["open"]
    approvers = page.locator(f"[data-testid=approvers-{pid}]").inner_text()
    assert words["tx"] in approvers and wallet_city.operator.address[:6] in approvers, approvers
    shown_calls = page.locator(f"[data-testid=calls-{pid}] li").all_inner_texts()
    if lang == "en":  # the command's sentences, word for word
        assert shown_calls == _python_words(wallet_city, w3, calls)
    else:
        assert shown_calls == ["将项目 3（文化消费）的居民每日上限设为 1,234 积分"]
    assert "culture cap 1,234" in page.locator(card).inner_text()

    # the member keeps their key in the page, encrypted, and approves by signature
    page.locator("[data-testid=member-key] summary").click()
    page.locator("#member-private-key").fill(member.key.hex())
    page.locator("#member-key-password").fill(PASSWORD)
    page.locator("[data-testid=member-key] button[type=submit]").click()
    text_of(page, "[data-testid=member-key]", has=member.address)
    stored = page.evaluate("Object.keys(localStorage)")
    assert "citypoints.console.member-key.v1" in stored and "citypoints.wallet.key.v1" not in stored
    assert member.key.hex()[2:] not in page.evaluate("JSON.stringify(localStorage)")  # encrypted, never plain
    page.locator(f"#approve-password-{pid}").fill(PASSWORD)
    page.locator(f"[data-testid=approve-{pid}] button[type=submit]").click()
    text_of(page, f"[data-testid=approvals-{pid}]", has=words["n_of_m"].format(n=2, m=2))
    approvers = text_of(page, f"[data-testid=approvers-{pid}]", has=words["sig"])
    assert member.address[:6] in approvers, approvers
    assert page.locator(f"[data-testid=proposal-state-{pid}]").inner_text() == words["executable"]
    assert wallet_city.contracts["Consortium"].functions.hasApproved(pid, member.address).call()
    # the signature went to the API's relay, and nowhere else; the key never left the page
    posts = [(url, body) for method, url, body in page.requests if method == "POST"]
    assert [url.split("/v1")[1] for url, _ in posts] == [f"/proposals/{pid}/approvals"]
    assert member.key.hex()[2:] not in (posts[0][1] or "")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"governance-phone-{lang}.png"), full_page=True)


def test_console_governance_wrongPasswordSignsNothing(open_wallet, wallet_api, wallet_city, w3, two_members):
    member, pid, _ = two_members
    page = open_wallet("/console/#governance", width=390, height=844, lang="en")
    text_of(page, f"[data-testid=approvals-{pid}]", has="Approvals: 1 of 2")
    page.locator("[data-testid=member-key] summary").click()
    page.locator("#member-private-key").fill("not a key")
    page.locator("#member-key-password").fill(PASSWORD)
    # a redraw (the page refreshes every 15 s) keeps the form open and what was typed
    before = page.locator("[data-testid=governance]").element_handle()
    with page.expect_response(lambda r: "/v1/proposals" in r.url):
        page.locator(".heading button").click()
    page.wait_for_function("(old) => !old.isConnected", arg=before)  # the view was drawn anew
    assert page.locator("#member-private-key").is_visible()
    assert page.locator("#member-key-password").input_value() == PASSWORD
    page.locator("[data-testid=member-key] button[type=submit]").click()
    text_of(page, "[data-testid=member-key] [role=alert]", has="That is not a private key")
    page.locator("#member-private-key").fill(member.key.hex())
    page.locator("[data-testid=member-key] button[type=submit]").click()
    text_of(page, "[data-testid=member-key]", has=member.address)
    page.locator(f"#approve-password-{pid}").fill("wrong password")
    page.locator(f"[data-testid=approve-{pid}] button[type=submit]").click()
    text_of(page, f"{'[data-testid=approve-%d]' % pid} [role=alert]", has="does not open the member key")
    assert not [u for m, u, _ in page.requests if m == "POST"]
    assert wallet_city.contracts["Consortium"].functions.approvalCount(pid).call() == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_console_glance_showsBlockAgeAndTheDailyPlot(open_wallet, wallet_api, wallet_city, w3, lang):
    # the session node mines only when sent something: a fresh block stamped now (its clock may lag this machine's
    # after other suites' snapshots: CI saw a plain evm_mine's block 927 s old), so the age measures the page
    latest = w3.eth.get_block("latest")["timestamp"]
    w3.provider.make_request("evm_setNextBlockTimestamp", [max(int(time.time()), latest + 1)])
    w3.provider.make_request("evm_mine", [])
    page = open_wallet("/console/", width=390, height=844, lang=lang)
    age = text_of(page, "[data-testid=block-age]", has=WORDS[lang]["age"])
    assert int(age.split()[0].replace(",", "").replace("秒前", "")) < 600, age
    daily = wallet_api.get("/v1/activity/daily").json()["days"]
    assert page.locator("[data-testid=daily] svg.chart rect").count() == 2 * len(daily) == 28
    issued = sum(d["issued"] for d in daily)
    legend = text_of(page, "[data-testid=daily] .legend", has=f"{issued:,}")
    assert issued > 0, legend  # the wallet city's issuance happened within the window
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"glance-health-phone-{lang}.png"), full_page=True)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while page.locator("[data-testid=tab-governance]").count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    page.locator("[data-testid=tab-governance]").click()
    text_of(page, "[data-testid=governance] h2", has=WORDS[lang]["title"])


def test_console_governance_callsReadAsTheCommandSaysThem(open_wallet, wallet_api, wallet_city, w3):
    """Every call the page has a sentence for, in one proposal (never executed): the page's English is the
    command's sentence without its "(now ...)"."""
    c = {n: wallet_city.contracts[n] for n in ("Consortium", "Membership", "PointsLedger", "Rates", "Exchange",
                                               "Redemption")}
    m, ledger, someone = c["Membership"], c["PointsLedger"], Account.create().address
    registry = wallet_city.contracts["SchemeRegistry"]
    auditor = m.functions.AUDITOR_ROLE().call()
    calls = [
        call(c["Consortium"], "addMember", someone), call(c["Consortium"], "removeMember", wallet_city.operator.address),
        call(c["Consortium"], "setThresholds", 3, 2), call(c["Consortium"], "setProposalLifetime", 86400),
        call(c["Consortium"], "cancelByGovernance", 1),
        call(m, "setIssuerAccounts", CULTURE, [someone, wallet_city.culture_issuer.address]),
        call(m, "registerMerchant", someone), call(m, "setMerchantSuspended", wallet_city.merchant.address, True),
        call(m, "setMerchantSuspended", wallet_city.merchant.address, False),
        call(m, "removeMerchant", wallet_city.merchant.address), call(m, "grantRole", auditor, someone),
        call(m, "revokeRole", auditor, someone), call(m, "setRecoveryNotice", 7200),
        call(ledger, "addScheme", 9, 50_000, 1_500), call(ledger, "setIssuerDailyQuota", CULTURE, 2_000_000),
        call(ledger, "setResidentDailyCap", CULTURE, 900), call(ledger, "setExpiry", 9, 12),
        call(ledger, "setExpiry", 9, 1), call(ledger, "pauseScheme", CULTURE),
        call(ledger, "unpauseScheme", CULTURE), call(ledger, "retireScheme", CULTURE), call(ledger, "pauseAll"),
        call(ledger, "unpauseAll"), call(c["Rates"], "setRate", CULTURE, 12_345_678),
        call(c["Rates"], "setInitialRate", 9, 500_000_000), call(c["Exchange"], "setPairAllowed", CULTURE, GREEN, True),
        call(c["Exchange"], "setPairAllowed", CULTURE, GREEN, False), call(c["Redemption"], "setRefundWindow", 90),
        call(registry, "describeScheme", 9, ("社区积分", "Community points", "分", "points", "Community Office",
                                             bytes.fromhex("2a7fb8"), 2)),
        call(registry, "publishRules", CULTURE, b"\x5e" * 32, "https://rules.example/culture/v2.json"),
    ]
    receipt = chain.transact(w3, wallet_city.operator, c["Consortium"].functions.propose(calls, "every sentence"))
    pid = c["Consortium"].events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]
    API.wait_indexed(wallet_api, w3)
    page = open_wallet("/console/#governance", width=1280, height=800, lang="en")
    text_of(page, f"[data-testid=calls-{pid}]", has="let proposals stay open")
    shown = page.locator(f"[data-testid=calls-{pid}] li").all_inner_texts()
    expected = _python_words(wallet_city, w3, calls)
    assert len(shown) == len(calls)
    assert [(i, s) for i, s in enumerate(shown) if s != expected[i]] == [], list(zip(shown, expected))
