"""A programme whose points expire (issue 25), through the API: the balances answer counts only live points and says
which expire next and their last day; a merchant's request is planned with live points only; the history names what
expired once a debit swept it."""
from __future__ import annotations

from eth_account import Account
from web3 import Web3

from ledger_node import chain
from ledger_node.deploy.system import call
from ledger_node.expiry import DAY, date_of_day, first_day_of_month, last_day, month_of_day

from .conftest import auth, wait_indexed

S3 = 73  # beside the API city's 71 and 72
RATE = 10_000_000  # 10 credit cents a point


def _at(w3, timestamp: int) -> None:
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    w3.provider.make_request("evm_mine", [])


def test_balances_countLivePointsAndNameThoseExpiringNext(api, w3, api_city, keys):
    c = api_city.contracts
    ledger = c["PointsLedger"]
    api_city.govern(w3, [call(ledger, "addScheme", S3, 10**9, 10**6), call(ledger, "setExpiry", S3, 1),
                         call(c["Membership"], "setIssuerAccounts", S3, [api_city.issuer1.address]),
                         call(c["Rates"], "setInitialRate", S3, RATE)])
    r = Account.create()
    chain.transact(w3, api_city.onboarding, c["Membership"].functions.registerResident(
        r.address, Web3.keccak(text=f"expiry-{r.address}")))
    offset = ledger.functions.dayOffset().call()
    start = lambda month: first_day_of_month(month) * DAY - offset  # noqa: E731
    m = month_of_day(ledger.functions.today().call()) + 1
    _at(w3, start(m) + 60)
    chain.transact(w3, api_city.issuer1, ledger.functions.issue(S3, r.address, 40, Web3.keccak(text="x-40")))
    _at(w3, start(m + 1) + 60)
    chain.transact(w3, api_city.issuer1, ledger.functions.issue(S3, r.address, 12, Web3.keccak(text="x-12")))
    _at(w3, (last_day(m, 1) - 5) * DAY - offset + 60)  # month m's 40 have five days left after today
    wait_indexed(api, w3)

    line = _line(api, r, S3)
    assert line["points"] == 52 and line["credits"] == 520
    schemes = {s["scheme"]: s for s in api.get("/v1/schemes").json()["data"]}
    assert (schemes[S3]["expiryMonths"], schemes[71]["expiryMonths"]) == (1, 0)
    assert line["expiring"] == {"points": 40, "lastDay": last_day(m, 1), "lastDate": date_of_day(last_day(m, 1)),
                                "daysLeft": 5}

    _at(w3, start(m + 2) + DAY)  # month m's points expired; nothing swept them yet
    wait_indexed(api, w3)
    line = _line(api, r, S3)
    assert line["points"] == 12 and line["credits"] == 120
    assert line["expiring"]["points"] == 12 and line["expiring"]["lastDay"] == last_day(m + 1, 1)
    assert ledger.functions.totalSupply(S3).call() == 52  # the chain still counts them until a debit

    # a merchant's request is planned with the live points only
    h = auth(keys["merchant"])
    too_much = api.post("/v1/redemption_requests", json={"resident": r.address, "credits": 130, "orderRef": "x-1"},
                        headers=h).json()
    assert too_much["typedData"] is None and too_much["planError"]["code"] == "insufficient_credits"
    fits = api.post("/v1/redemption_requests", json={"resident": r.address, "credits": 100, "orderRef": "x-2"},
                    headers=h).json()
    parts = fits["typedData"]["message"]["parts"]
    assert [(int(p["scheme"]), int(p["points"])) for p in parts] == [(S3, 10)]

    # a debit sweeps the expired points: the history says so
    chain.transact(w3, api_city.issuer1, ledger.functions.revoke(S3, r.address, 2, Web3.keccak(text="fix"), 0))
    wait_indexed(api, w3)
    history = api.get(f"/v1/residents/{r.address}/history").json()["data"]
    expired = [e for e in history if e["kind"] == "expired"]
    assert len(expired) == 1 and expired[0]["amount"] == 40 and expired[0]["scheme"] == S3
    assert _line(api, r, S3)["points"] == 10


def _line(api, resident, scheme: int) -> dict:
    answer = api.get(f"/v1/residents/{resident.address}/balances").json()
    (line,) = [b for b in answer["balances"] if b["scheme"] == scheme]
    return line
