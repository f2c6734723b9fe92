"""The consortium console lists residents' objections to uses of their personal data (issue 23): the use each
objection names (purpose in words, the organisation or its account, the time) and its entry, in both languages;
what it shows is the API's `/v1/identity_trail/objections`, read from the chain's events.
Screenshots go to build/screenshots/trail/."""
from __future__ import annotations

import os
import time

import pytest

from ledger_node import chain
from ledger_node.domain import TRAIL_PURPOSE_CODES
from ledger_node.typed_data import sign, typed_data

from .conftest import API, ROOT
from .test_console import text_of

SHOTS = ROOT / "build" / "screenshots" / "trail"
WORDS = {"en": {"title": "Residents' objections to uses of their data",
                "lookup": "look-up for issuance"},
         "zh": {"title": "居民对其信息使用的异议", "lookup": "为发放积分查询"}}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_console_listsResidentsObjections_withTheUseTheyName(open_wallet, wallet_api, wallet_city, w3, lang):
    resident = wallet_city.residents[2]
    trail = wallet_city.contracts["IdentityTrail"]
    issuer = wallet_city.culture_issuer.address
    chain.transact(w3, wallet_city.relayers[0], trail.functions.record([
        (resident.address, issuer, TRAIL_PURPOSE_CODES["issuance-lookup"], os.urandom(32))]))
    entry_id = trail.functions.entryCount().call()
    message = {"entryId": entry_id, "resident": resident.address, "nonce": os.urandom(32),
               "deadline": int(time.time()) + 600}
    signature = sign(resident, typed_data("TrailObjection", w3.eth.chain_id, trail.address, message))
    chain.transact(w3, wallet_city.relayers[1], trail.functions.object(tuple(message.values()), signature))
    API.wait_indexed(wallet_api, w3)
    listed = wallet_api.get("/v1/identity_trail/objections").json()["data"]
    assert (listed[0]["entryId"], listed[0]["actor"], listed[0]["purpose"], listed[0]["byTheEntrysResident"]) == (
        entry_id, issuer, "issuance-lookup", True)

    page = open_wallet("/console/", width=1280, height=800, lang=lang)
    words = WORDS[lang]
    card = text_of(page, "[data-testid=objections]", has=words["title"])
    row = text_of(page, f"[data-testid=objection][data-entry='{entry_id}']", has=words["lookup"])
    assert issuer[:6] in row and str(entry_id) in row, row
    assert words["title"] in card
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("[data-testid=objections]").screenshot(path=str(SHOTS / f"console-objections-{lang}.png"))
