"""Points about to expire, as the resident meets them (Chromium at phone size, English and 中文): a programme whose
points expire warns on its card once the oldest have 30 days or less left, with how many and their last day; a
programme without expiry, or with more time left, says nothing of it."""
from __future__ import annotations

from datetime import date

import pytest
from web3 import Web3

from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from ledger_node.expiry import DAY, first_day_of_month, last_day, month_of_day

from .conftest import API, CULTURE
from .test_wallet import expect_text, import_key

LIBRARY = 8  # its points expire at the end of the month after the month they are credited in
WORDS = {"en": "12 points expire on {date}: spend them before then", "zh": "12 积分将于 {date} 到期，请在此前使用"}


def _day_words(lang: str, day: int) -> tuple[str, str]:
    """The two spellings of a last day the page may use: without the year, and with it (not this year)."""
    d = date.fromordinal(date(1970, 1, 1).toordinal() + day)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec"]
    if lang == "en":
        return f"{d.day} {months[d.month - 1]}", f"{d.day} {months[d.month - 1]} {d.year}"
    return f"{d.month}月{d.day}日", f"{d.year}年{d.month}月{d.day}日"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_wallet_warnsOfPointsExpiringWithin30Days(open_wallet, wallet_api, wallet_city, w3, lang):
    c = wallet_city.contracts
    ledger, registry = c["PointsLedger"], c["SchemeRegistry"]
    resident, office = wallet_city.residents[2], wallet_city.culture_issuer
    propose_and_execute(w3, c["Consortium"], [wallet_city.operator], [
        call(ledger, "addScheme", LIBRARY, 10**9, 10**6), call(ledger, "setExpiry", LIBRARY, 1),
        call(c["Membership"], "setIssuerAccounts", LIBRARY, [office.address]),
        call(c["Rates"], "setInitialRate", LIBRARY, 5_000_000),
        call(registry, "describeScheme", LIBRARY, ("图书馆积分", "Library points", "分", "points", "City Library",
                                                   bytes.fromhex("ef6c00"), 1)),
    ], "library points, expiring")
    offset = ledger.functions.dayOffset().call()
    m = month_of_day(ledger.functions.today().call()) + 1
    w3.provider.make_request("evm_setNextBlockTimestamp", [first_day_of_month(m) * DAY - offset + 3600])
    w3.provider.make_request("evm_mine", [])
    chain.transact(w3, office, ledger.functions.issue(LIBRARY, resident.address, 12, Web3.keccak(text=f"lib-{lang}")))
    # 20 days before the last day of the month after: the warning's 30 days have begun
    w3.provider.make_request("evm_setNextBlockTimestamp", [(last_day(m, 1) - 20) * DAY - offset + 3600])
    w3.provider.make_request("evm_mine", [])
    API.wait_indexed(wallet_api, w3)

    page = open_wallet(f"/wallet/?lang={lang}", width=390, height=844, lang=lang)
    if lang == "en":
        import_key(page, resident.key.hex())
    else:
        page.get_by_role("button", name="导入已有密钥").click()
        page.locator("#import-key").fill(resident.key.hex())
        page.locator("#new-password").fill("correct horse battery")
        page.locator("#new-password-2").fill("correct horse battery")
        page.get_by_role("button", name="导入密钥").click()
    warning = page.locator(f"[data-testid=expiring-{LIBRARY}]")
    expect_text(warning, WORDS[lang].split("{date}")[0])
    shown = warning.inner_text()
    assert shown in [WORDS[lang].format(date=d) for d in _day_words(lang, last_day(m, 1))], shown
    assert warning.get_attribute("data-days-left") == "20"
    assert "12" in page.locator(f"[data-testid=points-{LIBRARY}]").inner_text()
    assert page.locator(f"[data-testid=expiring-{CULTURE}]").count() == 0  # culture points never expire
    page.locator(f"[data-scheme='{LIBRARY}']").scroll_into_view_if_needed()
    page.shot(f"phone-expiring-{lang}")
