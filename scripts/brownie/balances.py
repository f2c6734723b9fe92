"""Brownie script: a resident's points per scheme and what they are worth, read through the deployed contracts.

    brownie run balances --network citypoints              # the first resident of var/demo.json
    brownie run balances main 0xRESIDENT --network citypoints  # any address

Addresses come from var/deployment.json (`citypoints deploy`; under CITYPOINTS_HOME if set); the ABIs are Brownie's build of
contracts/ (`brownie compile`). Rates are credit-cents per point scaled by Rates.RATE_SCALE.
"""
import json
import os
from pathlib import Path

from brownie import Contract, Membership, PointsLedger, Rates, network


def main(resident: str | None = None) -> dict:
    var = Path(os.environ.get("CITYPOINTS_HOME", ".")) / "var"
    deployment = json.loads((var / "deployment.json").read_text())["contracts"]
    if resident is None:
        resident = json.loads((var / "demo.json").read_text())["residents"][0]["address"]
    # from_abi, not ContractContainer.at(): Brownie 1.22 fails to record a live network's deployment
    # ("dict object expected; got Sources")
    ledger = Contract.from_abi("PointsLedger", deployment["PointsLedger"], PointsLedger.abi, persist=False)
    rates = Contract.from_abi("Rates", deployment["Rates"], Rates.abi, persist=False)
    membership = Contract.from_abi("Membership", deployment["Membership"], Membership.abi, persist=False)
    scale = rates.RATE_SCALE()
    print(f"network {network.show_active()}, block {network.chain.height}")
    print(f"resident {resident} (registered: {membership.isResident(resident)})")
    rows = {}
    for scheme in ledger.schemeIds():
        points = ledger.balanceOf(resident, scheme)
        rate = rates.rateOf(scheme)
        cents = rates.creditsFor(scheme, points) if points and rate else 0
        rows[int(scheme)] = {"points": int(points), "rate": int(rate), "credits": int(cents)}
        if not rate:  # an eligibility-only programme (residence-permit points): no value in credits
            print(f"  scheme {scheme}: {points} points; no value in credits")
            continue
        print(f"  scheme {scheme}: {points} points; 1 point = {rate / scale / 100:.2f} credits; "
              f"worth {cents // 100}.{cents % 100:02d} credits")
    total = sum(r["credits"] for r in rows.values())
    print(f"  total worth {total // 100}.{total % 100:02d} credits")
    return rows
