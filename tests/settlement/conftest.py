"""Fixtures for `citypoints settle`: a small city built inside each test's snapshot (schemes 81 and 82, so no other
suite's schemes on the session node collide), a period of redemptions, a refund and exchanges both ways, and a
CityPoints home whose var/deployment.json names the session node, with the parties' keystores under
var/keys/members/.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from ledger_node.redemption_plan import plan_on_chain
from ledger_node.settlement.ledger import ClearingLedger
from ledger_node.typed_data import sign, typed_data

S1, S2 = 81, 82
RATE_1, RATE_2 = 10_000_000, 5_000_000  # 10 and 5 credit cents a point
PASSWORD = "settle-test"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SettleCity:
    w3: Web3
    contracts: dict[str, Contract]
    addresses: dict[str, str]
    operator: LocalAccount       # OPERATOR_ROLE: closes periods
    issuer1: LocalAccount        # issuer account of S1
    issuer2: LocalAccount        # issuer account of S2
    merchant: LocalAccount
    residents: list[LocalAccount] = field(default_factory=list)

    def ledger(self) -> ClearingLedger:
        """The settlement's view of the chain as it is now."""
        return ClearingLedger(self.w3, self.addresses)

    @property
    def clearing(self) -> Contract:
        return self.contracts["Clearing"]

    def redeem(self, resident: LocalAccount, credits: int, parts: list[tuple[int, int, int]] | None = None):
        """Redeem with the resident's signed plan: the planner's over the chain's holdings, or `parts`."""
        c = self.contracts
        if parts is None:
            parts = [p.as_tuple() for p in plan_on_chain(c["PointsLedger"], c["Rates"], c["Redemption"],
                                                         resident.address, credits)]
        msg = {"resident": resident.address, "merchant": self.merchant.address, "credits": credits,
               "parts": [{"scheme": s, "points": p, "credits": k} for s, p, k in parts],
               "orderRef": os.urandom(32), "nonce": os.urandom(32), "deadline": int(time.time()) + 86_400}
        doc = typed_data("RedemptionConsent", self.w3.eth.chain_id, c["Redemption"].address, msg)
        consent = (msg["resident"], msg["merchant"], credits, list(parts), msg["orderRef"], msg["nonce"],
                   msg["deadline"])
        return chain.transact(self.w3, self.merchant, c["Redemption"].functions.redeem(consent, sign(resident, doc)))

    def refund(self, redeemed_receipt, credits: int):
        redemption = self.contracts["Redemption"]
        (ev,) = redemption.events.Redeemed().process_receipt(redeemed_receipt, errors=DISCARD)
        a = ev["args"]
        parts = [(p["scheme"], p["points"], p["credits"]) for p in a["parts"]]
        return chain.transact(self.w3, self.merchant, redemption.functions.refund(
            a["redemptionId"], a["resident"], a["merchant"], parts, credits))

    def exchange(self, resident: LocalAccount, from_scheme: int, to_scheme: int, points: int):
        msg = {"resident": resident.address, "fromScheme": from_scheme, "toScheme": to_scheme, "points": points,
               "minReceived": 0, "deadline": int(time.time()) + 86_400,
               "nonce": self.contracts["Exchange"].functions.nextNonce(resident.address).call().to_bytes(32, "big")}
        doc = typed_data("ExchangeIntent", self.w3.eth.chain_id, self.contracts["Exchange"].address, msg)
        return chain.transact(self.w3, self.merchant, self.contracts["Exchange"].functions.exchange(
            resident.address, from_scheme, to_scheme, points, 0, msg["nonce"], msg["deadline"], sign(resident, doc)))

    def mine(self, entries: list[dict]) -> list[dict]:
        """The statements (of a status or a statement) that are this city's: its merchant's, or its two schemes'."""
        return [x for x in entries if x.get("merchant") == self.merchant.address
                or (x.get("schemeA"), x.get("schemeB")) == (S1, S2)]

    def close(self):
        return chain.transact(self.w3, self.operator, self.clearing.functions.closePeriod())

    def write_keystores(self, home: Path) -> None:
        """The parties' keys as `citypoints settle --as NAME` finds them."""
        members = home / "var" / "keys" / "members"
        members.mkdir(parents=True, exist_ok=True)
        for name, account in (("operator", self.operator), ("issuer1", self.issuer1), ("issuer2", self.issuer2),
                              ("shop", self.merchant)):
            blob = Account.encrypt(account.key, PASSWORD, kdf="pbkdf2", iterations=2)
            (members / f"{name}.json").write_text(json.dumps(blob))


@pytest.fixture
def city(w3, session_system, session_operator) -> SettleCity:
    """Two schemes with rates and both exchange pairs allowed, a merchant, three residents holding points of both;
    reverted after the test with the `w3` snapshot."""
    contracts = {n: chain.bind(w3, n, a) for n, a in session_system.items()}
    issuer1, issuer2, merchant, onboarding = (Account.create() for _ in range(4))
    residents = [Account.create() for _ in range(3)]
    chain.fund(w3, session_operator, [a.address for a in (issuer1, issuer2, merchant, onboarding)], 10**20)
    m, ledger, rates, ex = (contracts[k] for k in ("Membership", "PointsLedger", "Rates", "Exchange"))
    propose_and_execute(w3, contracts["Consortium"], [session_operator], [
        call(ledger, "addScheme", S1, 10**9, 10**6), call(ledger, "addScheme", S2, 10**9, 10**6),
        call(m, "setIssuerAccounts", S1, [issuer1.address]), call(m, "setIssuerAccounts", S2, [issuer2.address]),
        call(m, "registerMerchant", merchant.address),
        call(m, "grantRole", m.functions.ONBOARDING_ROLE().call(), onboarding.address),
        call(rates, "setInitialRate", S1, RATE_1), call(rates, "setInitialRate", S2, RATE_2),
        call(ex, "setPairAllowed", S1, S2, True), call(ex, "setPairAllowed", S2, S1, True),
    ], "settlement test city", advance_time=True)
    who = [r.address for r in residents]
    chain.transact(w3, onboarding, m.functions.registerResidents(
        who, [Web3.keccak(text=f"settle-identity:{a}") for a in who]))
    chain.transact(w3, issuer1, ledger.functions.issueBatch(
        S1, who, [500] * 3, [Web3.keccak(text=f"settle-1-{a}") for a in who]))
    chain.transact(w3, issuer2, ledger.functions.issueBatch(
        S2, who, [400] * 3, [Web3.keccak(text=f"settle-2-{a}") for a in who]))
    return SettleCity(w3, contracts, dict(session_system), session_operator, issuer1, issuer2, merchant, residents)


@dataclass
class Activity:
    """What one period held, as the value contracts' receipts say (independently of the settlement code)."""
    period: int
    receipts: list = field(default_factory=list)


@pytest.fixture
def period(city) -> Activity:
    """One period of activity, closed: a redemption over both schemes, one of scheme 81 partly refunded, exchanges
    81 -> 82 and back (81's issuer owes 82's the difference)."""
    r0, r1, r2 = city.residents
    act = Activity(city.clearing.functions.openPeriod().call())
    act.receipts.append(city.redeem(r0, 6_000))            # 5,000 from scheme 81 (all of it), 1,000 from 82
    second = city.redeem(r1, 1_500)                         # 1,500 from scheme 81
    act.receipts += [second, city.refund(second, 500)]      # 500 of it back
    act.receipts.append(city.exchange(r2, S1, S2, 100))     # 81 owes 82 1,000
    act.receipts.append(city.exchange(r2, S2, S1, 40))      # 82 owes 81 200
    city.close()
    return act


def event_sums(city: SettleCity, receipts) -> dict:
    """Credits per (scheme, merchant) redeemed and refunded, and per ordered scheme pair exchanged, from receipts."""
    redemption, exchange = city.contracts["Redemption"], city.contracts["Exchange"]
    sums = {"gross": {}, "refunds": {}, "exchanged": {}}
    for receipt in receipts:
        for ev in redemption.events.Redeemed().process_receipt(receipt, errors=DISCARD):
            for p in ev["args"]["parts"]:
                key = (p["scheme"], ev["args"]["merchant"])
                sums["gross"][key] = sums["gross"].get(key, 0) + p["credits"]
        for ev in redemption.events.Refunded().process_receipt(receipt, errors=DISCARD):
            for p in ev["args"]["parts"]:
                key = (p["scheme"], ev["args"]["merchant"])
                sums["refunds"][key] = sums["refunds"].get(key, 0) + p["credits"]
        for ev in exchange.events.Exchanged().process_receipt(receipt, errors=DISCARD):
            key = (ev["args"]["fromScheme"], ev["args"]["toScheme"])
            sums["exchanged"][key] = sums["exchanged"].get(key, 0) + ev["args"]["credits"]
    return sums


@pytest.fixture
def settle_home(tmp_path, city, node):
    """A CityPoints home for the CLI: var/deployment.json for the session node, the parties' keystores."""
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "deployment.json").write_text(json.dumps(
        {"chainId": city.w3.eth.chain_id, "rpcUrl": node.url, "startBlock": 0, "contracts": city.addresses}))
    city.write_keystores(tmp_path)
    return tmp_path
