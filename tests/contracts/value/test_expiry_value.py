"""Points expiry through the value flows: expired points cannot be redeemed or exchanged, and what expiry costs an
issued item and a redemption (build/gas/expiry.json; figures measured, not bounded)."""
from __future__ import annotations

import json

from eth_account import Account

from ledger_node import chain, paths
from ledger_node.deploy.system import call
from ledger_node.issuance_refs import sequenced_ref

from ..conftest import SCHEME
from ..helpers import expect_revert, identity, ref, send, send_fixed_gas
from ..test_expiry import Clock

PLAIN, EXPIRING = 61, 62  # two new schemes alike but for expiry
RATE = 10_000_000  # 10 credit cents a point
BATCH = 1000  # as tests/contracts/test_gas.py measures the issuance floors: sequential numbers of one lane


def _schemes(w3, value, expiry_months: int = 12) -> None:
    city = value.city
    city.govern(w3, [call(city.ledger, "addScheme", s, 10**12, 10**12) for s in (PLAIN, EXPIRING)]
                + [call(city.membership, "setIssuerAccounts", s, [city.issuer_b.address]) for s in (PLAIN, EXPIRING)]
                + [call(value.rates, "setInitialRate", s, RATE) for s in (PLAIN, EXPIRING)]
                + [call(value.exchange, "setPairAllowed", EXPIRING, SCHEME, True),
                   call(city.ledger, "setExpiry", EXPIRING, expiry_months)])


def _resident(w3, city, label: str):
    r = Account.create()
    send(w3, city.onboarding, city.membership.functions.registerResident(r.address, identity(label)))
    return r


def test_redeemAndExchange_refuseExpiredPoints(w3, value):
    _schemes(w3, value, expiry_months=1)
    city, clock = value.city, Clock(w3, value.ledger)
    r = _resident(w3, city, "expired-value")
    m = clock.month + 1
    clock.next_block_at(clock.start_of(m))
    send_fixed_gas(w3, city.issuer_b, city.ledger.functions.issue(EXPIRING, r.address, 100, ref("x")))
    clock.mine_at(clock.start_of(m + 2))
    assert value.redemption.functions.availableCredits(r.address).call() == 0
    expect_revert(w3, city.merchant, value.redeem_fn(value.consent(w3, r, 100, parts=[(EXPIRING, 10, 100)])),
                  "PointsLedgerInsufficientBalance", (EXPIRING, r.address, 0, 10))
    expect_revert(w3, city.relayer, value.exchange_fn(value.intent(w3, r, EXPIRING, SCHEME, 10)),
                  "PointsLedgerInsufficientBalance", (EXPIRING, r.address, 0, 10))


def test_expiry_gasIsMeasured(w3, value):
    """An issued item and a redemption in a scheme whose points expire after 12 months beside the same in one whose
    points never expire."""
    _schemes(w3, value)
    city, ledger, clock = value.city, value.city.ledger, Clock(w3, value.ledger)
    residents = [Account.create().address for _ in range(BATCH)]
    chain.transact(w3, city.onboarding, city.membership.functions.registerResidents(
        residents, [identity(f"xgas-{r}") for r in residents]))

    def batch(scheme: int, lane: int):
        return chain.transact(w3, city.issuer_b, ledger.functions.issueBatch(
            scheme, residents, [5] * BATCH, [sequenced_ref(lane, i, ref(f"{lane}-{i}")) for i in range(BATCH)]),
            gas=100_000_000)

    per_item = {}
    for scheme in (PLAIN, EXPIRING):
        new = batch(scheme, 1)["gasUsed"] // BATCH  # new holders (and this month's bucket words)
        per_item[scheme] = {"newHolders": new, "existingHolders": batch(scheme, 2)["gasUsed"] // BATCH}

    def redeem(resident, scheme: int, credits: int):
        return send(w3, city.merchant, value.redeem_fn(value.consent(w3, resident, credits,
                                                                     parts=[(scheme, credits // 10, credits)])))

    # one resident a scheme holding this month's points; a second whose expiring points came in each of 13 months
    one, spread = _resident(w3, city, "xgas-one"), _resident(w3, city, "xgas-spread")
    for k in range(13):
        clock.next_block_at(clock.start_of(clock.month + 1 + k))
        send_fixed_gas(w3, city.issuer_b, ledger.functions.issue(EXPIRING, spread.address, 10, ref(f"spread-{k}")))
        send_fixed_gas(w3, city.issuer_b, ledger.functions.issue(PLAIN, spread.address, 10, ref(f"spread-p{k}")))
    for scheme in (PLAIN, EXPIRING):  # in the 13th month
        send(w3, city.issuer_b, ledger.functions.issue(scheme, one.address, 100, ref(f"one-{scheme}")))
    # steady use: the resident's nonces and the merchant's positions written once before
    for who in (one, spread):
        for scheme in (PLAIN, EXPIRING):
            redeem(who, scheme, 10)
    redemption = {f"{name}{'Expiring' if scheme == EXPIRING else 'Plain'}": redeem(who, scheme, 100)["gasUsed"]
                  for name, who in (("pointsOfOneMonth", one), ("pointsOf13Months", spread))
                  for scheme in (PLAIN, EXPIRING)}
    assert ledger.functions.balanceOf(spread.address, EXPIRING).call() == 130 - 1 - 10  # the warm-up point, then 10
    figures = {"expiryMonths": 12, "issueBatchPerItem": {"batch": BATCH, "plain": per_item[PLAIN],
                                                         "expiring": per_item[EXPIRING]},
               "redeemOneScheme": redemption}
    out = paths.ROOT / "build" / "gas"
    out.mkdir(parents=True, exist_ok=True)
    (out / "expiry.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
