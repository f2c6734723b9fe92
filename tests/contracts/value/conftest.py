"""Fixtures for the value contracts (Rates, Exchange, Redemption, Clearing) on top of the contract-test city.

`value_city` (session) adds rates, allowed pairs and residents of its own holding points once, before any test's
snapshot.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

import pytest
from eth_account import Account
from web3.contract import Contract
from web3.logs import DISCARD

from ledger_node.deploy.system import call
from ledger_node.typed_data import sign, typed_data

from ..conftest import OTHER_SCHEME, SCHEME, City
from ..helpers import identity, ref, send

RATE_1 = 10_000_000  # scheme 1: 10 credit cents a point
RATE_2 = 33_333_333  # scheme 2: 33.333333 cents a point, so rounding shows
START_1 = 500
START_2 = 300


@dataclass
class ValueCity:
    city: City
    contracts: dict[str, Contract]

    @property
    def redemption(self) -> Contract:
        return self.contracts["Redemption"]

    @property
    def exchange(self) -> Contract:
        return self.contracts["Exchange"]

    @property
    def clearing(self) -> Contract:
        return self.contracts["Clearing"]

    @property
    def rates(self) -> Contract:
        return self.contracts["Rates"]

    @property
    def ledger(self) -> Contract:
        return self.city.ledger

    def balances(self, who) -> tuple[int, int]:
        address = getattr(who, "address", who)
        return tuple(self.ledger.functions.balanceOf(address, s).call() for s in (SCHEME, OTHER_SCHEME))

    def consent(self, w3, resident, credits: int, *, merchant=None, nonce: bytes | None = None,
                deadline: int | None = None, signer=None, order_ref: bytes = b"\x01" * 32) -> dict:
        """A signed RedemptionConsent as the wallet makes it: {message fields..., signature}."""
        message = {"resident": resident.address, "merchant": (merchant or self.city.merchant).address,
                   "credits": credits, "orderRef": order_ref, "nonce": nonce or os.urandom(32),
                   "deadline": int(time.time()) + 10 * 365 * 86400 if deadline is None else deadline}
        doc = typed_data("RedemptionConsent", w3.eth.chain_id, self.redemption.address, message)
        return {**message, "signature": sign(signer or resident, doc)}

    def redeem_fn(self, c: dict):
        return self.redemption.functions.redeem(c["resident"], c["merchant"], c["credits"], c["orderRef"],
                                                c["nonce"], c["deadline"], c["signature"])

    def intent(self, w3, resident, from_scheme: int, to_scheme: int, points: int, min_received: int = 0, *,
               nonce: bytes | None = None, deadline: int | None = None, signer=None) -> dict:
        message = {"resident": resident.address, "fromScheme": from_scheme, "toScheme": to_scheme,
                   "points": points, "minReceived": min_received, "nonce": nonce or os.urandom(32),
                   "deadline": int(time.time()) + 10 * 365 * 86400 if deadline is None else deadline}
        doc = typed_data("ExchangeIntent", w3.eth.chain_id, self.exchange.address, message)
        return {**message, "signature": sign(signer or resident, doc)}

    def exchange_fn(self, i: dict):
        return self.exchange.functions.exchange(i["resident"], i["fromScheme"], i["toScheme"], i["points"],
                                                i["minReceived"], i["nonce"], i["deadline"], i["signature"])

    def redeemed_parts(self, receipt) -> list[tuple[int, int, int]]:
        (event,) = self.redemption.events.Redeemed().process_receipt(receipt, errors=DISCARD)
        return parts_of(event)


def parts_of(event) -> list[tuple[int, int, int]]:
    """(scheme, points, credits) of each part of a Redeemed or Refunded event."""
    return [(p["scheme"], p["points"], p["credits"]) for p in event["args"]["parts"]]


@pytest.fixture(scope="session")
def value_city(session_w3, city) -> ValueCity:
    """Rates, allowed pairs, and residents of its own holding points, so that the contract city's residents, the
    issuers' quotas and caps stay as every other contract test expects them whichever ran first (the points are
    minted: issuance would use up the schemes' daily quotas)."""
    w3 = session_w3
    residents = [Account.create() for _ in range(len(city.residents))]
    v = ValueCity(replace(city, residents=residents), city.contracts)
    city.govern(w3, [
        call(v.rates, "setInitialRate", SCHEME, RATE_1),
        call(v.rates, "setInitialRate", OTHER_SCHEME, RATE_2),
        call(v.exchange, "setPairAllowed", SCHEME, OTHER_SCHEME, True),
        call(v.exchange, "setPairAllowed", OTHER_SCHEME, SCHEME, True),
    ])
    send(w3, city.onboarding, city.membership.functions.registerResidents(
        [r.address for r in residents], [identity(f"value-{r.address}") for r in residents]))
    for i, r in enumerate(residents):
        send(w3, city.ledger_operator, city.ledger.functions.mintTo(SCHEME, r.address, START_1, ref(f"v1-{i}")))
        send(w3, city.ledger_operator, city.ledger.functions.mintTo(OTHER_SCHEME, r.address, START_2, ref(f"v2-{i}")))
    return v


@pytest.fixture
def value(w3, value_city) -> ValueCity:
    return value_city
