"""Fixtures for the value contracts (Rates, Exchange, Redemption, Clearing) on top of the contract-test city.

`value_city` (session) adds rates, allowed pairs and residents of its own holding points once, before any test's
snapshot.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

import pytest
from eth_account import Account
from web3.contract import Contract
from web3.logs import DISCARD

from ledger_node.deploy.system import call
from ledger_node.redemption_plan import plan_on_chain
from ledger_node.typed_data import sign, typed_data

from ..conftest import OTHER_SCHEME, SCHEME, City
from ..helpers import clearing_nets, identity, ref, send

RATE_1 = 10_000_000  # scheme 1: 10 credit cents a point
RATE_2 = 33_333_333  # scheme 2: 33.333333 cents a point, so rounding shows
START_1 = 500
START_2 = 300


@dataclass
class ValueCity:
    city: City
    contracts: dict[str, Contract]
    handed: dict[str, int] = field(default_factory=dict)  # the last exchange nonce handed to each resident

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

    def plan(self, resident, credits: int) -> list[tuple[int, int, int]]:
        """The plan the API and the wallet would offer now (ledger_node.redemption_plan), as (scheme, points,
        credits) tuples."""
        address = getattr(resident, "address", resident)
        return [p.as_tuple() for p in plan_on_chain(self.ledger, self.rates, self.redemption, address, credits)]

    def consent(self, w3, resident, credits: int, *, parts: list | None = None, merchant=None,
                nonce: bytes | None = None, deadline: int | None = None, signer=None,
                order_ref: bytes = b"\x01" * 32) -> dict:
        """A signed RedemptionConsent as the wallet makes it: {message fields..., signature}. The plan is the
        planner's over the chain's holdings now unless the test gives `parts` ((scheme, points, credits) each)."""
        parts = [tuple(p) for p in (self.plan(resident, credits) if parts is None else parts)]
        message = {"resident": resident.address, "merchant": (merchant or self.city.merchant).address,
                   "credits": credits, "parts": parts_message(parts), "orderRef": order_ref,
                   "nonce": nonce or os.urandom(32),
                   "deadline": int(time.time()) + 10 * 365 * 86400 if deadline is None else deadline}
        doc = typed_data("RedemptionConsent", w3.eth.chain_id, self.redemption.address, message)
        return {**message, "parts": parts, "signature": sign(signer or resident, doc)}

    def redeem_fn(self, c: dict):
        """`Redemption.redeem(Consent, signature)` for a consent made by `consent` (its fields may be altered)."""
        return self.redemption.functions.redeem(
            (c["resident"], c["merchant"], c["credits"], [tuple(p) for p in c["parts"]], c["orderRef"], c["nonce"],
             c["deadline"]), c["signature"])

    def intent(self, w3, resident, from_scheme: int, to_scheme: int, points: int, min_received: int = 0, *,
               nonce: bytes | None = None, deadline: int | None = None, signer=None) -> dict:
        message = {"resident": resident.address, "fromScheme": from_scheme, "toScheme": to_scheme,
                   "points": points, "minReceived": min_received, "nonce": nonce or self.exchange_nonce(resident),
                   "deadline": int(time.time()) + 10 * 365 * 86400 if deadline is None else deadline}
        doc = typed_data("ExchangeIntent", w3.eth.chain_id, self.exchange.address, message)
        return {**message, "signature": sign(signer or resident, doc)}

    def exchange_nonce(self, resident) -> bytes:
        """`resident`'s next exchange nonce (IExchange: numbered): above the chain's highest used and every one handed
        out here, so intents made before any is sent each have their own."""
        n = max(self.exchange.functions.nextNonce(resident.address).call(), self.handed.get(resident.address, 0) + 1)
        self.handed[resident.address] = n
        return n.to_bytes(32, "big")

    def exchange_fn(self, i: dict):
        return self.exchange.functions.exchange(i["resident"], i["fromScheme"], i["toScheme"], i["points"],
                                                i["minReceived"], i["nonce"], i["deadline"], i["signature"])

    def redeemed(self, receipt):
        """The Redeemed event of a receipt."""
        (event,) = self.redemption.events.Redeemed().process_receipt(receipt, errors=DISCARD)
        return event

    def redeemed_parts(self, receipt) -> list[tuple[int, int, int]]:
        """(scheme, points, credits) of each part a redemption took: the signed plan."""
        return parts_of(self.redeemed(receipt))

    def change(self, who, scheme: int) -> int:
        """`who`'s change in `scheme`, value units."""
        return self.ledger.functions.changeOf(getattr(who, "address", who), scheme).call()

    def issuer_net(self, scheme: int) -> int:
        """What `scheme`'s issuer owes minus what it is owed, unsettled (see `nets`)."""
        return self.nets()[0].get(scheme, 0)

    def merchant_net(self, merchant) -> int:
        """What `merchant` owes minus what it is owed, unsettled: negative when it is owed (see `nets`)."""
        return self.nets()[1].get(getattr(merchant, "address", merchant), 0)

    def nets(self) -> tuple[dict[int, int], dict[str, int]]:
        """Every issuer's and merchant's net (helpers.clearing_nets)."""
        return clearing_nets(self.clearing)


def parts_of(event) -> list[tuple[int, int, int]]:
    """(scheme, points, credits) of each part of a Redeemed or Refunded event."""
    return [(p["scheme"], p["points"], p["credits"]) for p in event["args"]["parts"]]


def part_values(event) -> list[dict]:
    """Each PartValue of a Redeemed or Refunded event: scheme, points, value, credits, changeBefore, changeAfter."""
    return [dict(p) for p in event["args"]["parts"]]


def parts_message(parts) -> list[dict]:
    """Parts as the EIP-712 message holds them."""
    return [{"scheme": s, "points": p, "credits": c} for s, p, c in parts]


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
        mint_points(w3, city, SCHEME, r.address, START_1, RATE_1, ref(f"v1-{i}"))
        mint_points(w3, city, OTHER_SCHEME, r.address, START_2, RATE_2, ref(f"v2-{i}"))
    return v


def mint_points(w3, city: City, scheme: int, account: str, points: int, rate: int, label: bytes):
    """Mint exactly `points` whole points (their worth at `rate`, no change) as the city's ledger operator."""
    send(w3, city.ledger_operator, city.ledger.functions.mintValue(scheme, account, points * rate, rate, label))


@pytest.fixture
def value(w3, value_city) -> ValueCity:
    return value_city
