"""Gas of a redemption (one scheme exact, one scheme leaving change, four schemes), a refund and an exchange (the
resident's first, and its next of the pair that day), each redemption paying a signed plan
(ledger_node.redemption_plan). Writes build/gas/value.json for BENCHMARKS.md
(`citypoints bench gas`). The figures are measured, not bounded; only what must hold between them is asserted."""
from __future__ import annotations

import json

from eth_account import Account

from ledger_node import paths
from ledger_node.deploy.system import call

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import identity, ref, send
from ..test_gas import _slots
from .conftest import parts_of

EXTRA = (3, 4)


def test_valueFlows_gasIsMeasured(w3, value):
    city = value.city
    resident = Account.create()
    city.govern(w3, [call(city.ledger, "addScheme", s, 10**9, 10**6) for s in EXTRA]
                + [call(city.membership, "setIssuerAccounts", s, [city.issuer_b.address]) for s in EXTRA]
                + [call(value.rates, "setInitialRate", s, 1_000_000 * s) for s in EXTRA])
    send(w3, city.onboarding, city.membership.functions.registerResident(resident.address, identity("gas-value")))
    for scheme, issuer in ((SCHEME, city.issuer), (OTHER_SCHEME, city.other_issuer), (3, city.issuer_b),
                           (4, city.issuer_b)):
        send(w3, issuer, city.ledger.functions.issue(scheme, resident.address, 100, ref(f"gas-{scheme}")))
    # warm the resident's nonce map and the merchant's positions as in steady use (one volunteer point, no change)
    send(w3, city.merchant, value.redeem_fn(value.consent(w3, resident, 10, parts=[(SCHEME, 1, 10)])))

    c = value.consent(w3, resident, 100)  # the planner's plan: 10 volunteer points, exact
    assert c["parts"] == [(SCHEME, 10, 100)]
    one = send(w3, city.merchant, value.redeem_fn(c))
    # a plan leaving change: 3 volunteer points (30 cents) pay 25, 5 cents kept (one more ChangeUpdated)
    change = send(w3, city.merchant, value.redeem_fn(value.consent(w3, resident, 25, parts=[(SCHEME, 3, 25)])))
    assert value.change(resident, SCHEME) == 5 * 10**6
    available = value.redemption.functions.availableCredits(resident.address).call()
    c = value.consent(w3, resident, available - 10)
    four = send(w3, city.merchant, value.redeem_fn(c))
    (event,) = value.redemption.events.Redeemed().process_receipt(four)
    assert len(parts_of(event)) == 4
    refund = send(w3, city.merchant, value.redemption.functions.refund(
        event["args"]["redemptionId"], resident.address, city.merchant.address, parts_of(event), 200))
    exchange = send(w3, city.relayer, value.exchange_fn(value.intent(w3, city.residents[0], SCHEME, OTHER_SCHEME,
                                                                     50)))
    # the same resident's next exchange of the pair that day: its daily usage and the pair's period position exist
    again = send(w3, city.relayer, value.exchange_fn(value.intent(w3, city.residents[0], SCHEME, OTHER_SCHEME, 50)))
    figures = {"redeemOneScheme": one["gasUsed"], "redeemOneSchemeLeavingChange": change["gasUsed"],
               "redeemFourSchemes": four["gasUsed"], "refundPartial": refund["gasUsed"],
               "exchange": exchange["gasUsed"], "exchangeAgain": again["gasUsed"],
               # storage slots of the ledger each flow changes: the change shares the holder's slot, so leaving change
               # writes no slot more than an exact payment
               "ledgerSlotsWritten": {name: _slots(w3, receipt["transactionHash"], city.ledger.address)[0]
                                      for name, receipt in (("redeemOneScheme", one),
                                                            ("redeemOneSchemeLeavingChange", change),
                                                            ("redeemFourSchemes", four), ("exchange", exchange))},
               # issue 25: a redemption's record is one word, which also spends its nonce; a merchant's positions of
               # schemes 1-4 share one word of Clearing
               "flowSlotsWritten": {name: {c: _slots(w3, receipt["transactionHash"], contract.address)[0]
                                           for c, contract in (("Redemption", value.redemption),
                                                               ("Clearing", value.clearing))}
                                    for name, receipt in (("redeemOneScheme", one), ("redeemFourSchemes", four))}}
    out = paths.ROOT / "build" / "gas"
    out.mkdir(parents=True, exist_ok=True)
    (out / "value.json").write_text(json.dumps(figures, indent=2))
    print("\nvalue flows gas:", json.dumps(figures))
    # each part of a redemption is a balance written: four parts must cost more than one
    assert figures["redeemFourSchemes"] > figures["redeemOneScheme"]
    slots = figures["ledgerSlotsWritten"]
    if slots["redeemOneScheme"] is not None:
        assert slots["redeemOneSchemeLeavingChange"] == slots["redeemOneScheme"]
        for flow in figures["flowSlotsWritten"].values():
            assert flow == {"Redemption": 1, "Clearing": 1}
