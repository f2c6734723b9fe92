"""A small city on its own node for the audit tests: the audit replays from genesis, so these tests keep a chain
that only they write to (every deployed contract plus AuditAttestations), and revert it after each test.

The city has two schemes with rates and exchange pairs, residents holding both, a merchant, a relayer, an
auditor, one redemption (with a partial refund), one exchange, one preferred order, one redemption by a
resident whose account is an EIP-1271 contract wallet, and a closed clearing period with a confirmed payment.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from ledger_node.deploy.system_audit import deploy_audit_system
from ledger_node.redemption_plan import plan_on_chain
from ledger_node.typed_data import sign, typed_data
from tests.anvil_nodes import anvil_node

S1, S2 = 1, 2
RATE_1, RATE_2 = 10_000_000, 33_333_333  # 10 and 33.333333 credit cents a point
CAP = 1_000
QUOTA = 1_000_000
START = 500


@dataclass
class AuditCity:
    w3: Web3
    url: str
    contracts: dict[str, Contract]
    addresses: dict[str, str]
    operator: LocalAccount
    issuer1: LocalAccount
    issuer2: LocalAccount
    merchant: LocalAccount
    relayer: LocalAccount
    auditor: LocalAccount
    onboarding: LocalAccount
    ops: LocalAccount
    wallet_owner: LocalAccount
    wallet: str = ""
    residents: list[LocalAccount] = field(default_factory=list)
    redemption_nonce: bytes = b""

    def __getitem__(self, name: str) -> Contract:
        return self.contracts[name]

    def send(self, account, fn):
        return chain.transact(self.w3, account, fn)

    def govern(self, calls):
        return propose_and_execute(self.w3, self.contracts["Consortium"], [self.operator], calls, advance_time=True)

    def consent(self, resident, credits: int, *, signer=None, nonce: bytes | None = None,
                parts: list[tuple[int, int, int]] | None = None) -> dict:
        """A signed RedemptionConsent whose plan is the planner's over the chain's holdings (or `parts`)."""
        address = resident if isinstance(resident, str) else resident.address
        if parts is None:
            c = self.contracts
            parts = [p.as_tuple() for p in plan_on_chain(c["PointsLedger"], c["Rates"], c["Redemption"], address,
                                                         credits)]
        message = {"resident": address, "merchant": self.merchant.address, "credits": credits,
                   "parts": [{"scheme": s, "points": p, "credits": k} for s, p, k in parts],
                   "orderRef": os.urandom(32), "nonce": nonce or os.urandom(32),
                   "deadline": int(time.time()) + 365 * 86400}
        doc = typed_data("RedemptionConsent", self.w3.eth.chain_id, self.contracts["Redemption"].address, message)
        return {**message, "parts": list(parts), "signature": sign(signer or resident, doc)}

    def redeem(self, c: dict):
        consent = (c["resident"], c["merchant"], c["credits"], c["parts"], c["orderRef"], c["nonce"], c["deadline"])
        return self.send(self.relayer, self.contracts["Redemption"].functions.redeem(consent, c["signature"]))

    def intent(self, resident, frm: int, to: int, points: int, *, signer=None, nonce: int | None = None) -> tuple:
        """`resident`'s signed exchange intent (with its next nonce, or `nonce`) as Exchange.exchange takes its
        arguments."""
        if nonce is None:
            nonce = self.contracts["Exchange"].functions.nextNonce(resident.address).call()
        message = {"resident": resident.address, "fromScheme": frm, "toScheme": to, "points": points,
                   "minReceived": 1, "nonce": nonce.to_bytes(32, "big"), "deadline": int(time.time()) + 365 * 86400}
        doc = typed_data("ExchangeIntent", self.w3.eth.chain_id, self.contracts["Exchange"].address, message)
        return (*message.values(), sign(signer or resident, doc))

    def exchange(self, resident, frm: int, to: int, points: int, *, nonce: int | None = None):
        return self.send(self.relayer, self.contracts["Exchange"].functions.exchange(
            *self.intent(resident, frm, to, points, nonce=nonce)))

    def issue(self, issuer, scheme: int, residents: list[str], amount: int, label: str):
        refs = [Web3.keccak(text=f"{label}-{i}") for i in range(len(residents))]
        return self.send(issuer, self.contracts["PointsLedger"].functions.issueBatch(
            scheme, residents, [amount] * len(residents), refs))


@pytest.fixture(scope="session")
def audit_node(tmp_path_factory, artifacts):
    operator = Account.create()
    for proc in anvil_node(tmp_path_factory, "audit-chain", operator):
        yield proc, operator


@pytest.fixture(scope="session")
def session_city(audit_node) -> AuditCity:
    from ledger_node.deploy.command import deploy_all

    proc, operator = audit_node
    w3 = chain.connect(proc.url)

    def deploy_contract(name, *args):
        return chain.deploy_contract(w3, operator, name, *args)

    addresses = deploy_all(w3, operator)
    addresses.update(deploy_audit_system(w3, operator, addresses, deploy_contract))
    contracts = {n: chain.bind(w3, n, a) for n, a in addresses.items()}
    names = ["issuer1", "issuer2", "merchant", "relayer", "auditor", "onboarding", "ops", "wallet_owner"]
    accounts = {n: Account.create() for n in names}
    chain.fund(w3, operator, [a.address for a in accounts.values()], 10**20)
    city = AuditCity(w3, proc.url, contracts, addresses, operator, **accounts,
                     residents=[Account.create() for _ in range(6)])
    city.wallet = chain.deploy_contract(w3, operator, "ContractWalletMock", city.wallet_owner.address)
    m, ledger = contracts["Membership"], contracts["PointsLedger"]
    role = lambda name: getattr(m.functions, name)().call()  # noqa: E731
    city.govern([
        call(ledger, "addScheme", S1, QUOTA, CAP),
        call(ledger, "addScheme", S2, QUOTA, CAP),
        call(m, "setIssuerAccounts", S1, [city.issuer1.address]),
        call(m, "setIssuerAccounts", S2, [city.issuer2.address]),
        call(m, "registerMerchant", city.merchant.address),
        call(m, "grantRole", role("AUDITOR_ROLE"), city.auditor.address),
        call(m, "grantRole", role("ONBOARDING_ROLE"), city.onboarding.address),
        call(m, "grantRole", role("RELAYER_ROLE"), city.relayer.address),
        call(m, "grantRole", role("OPERATOR_ROLE"), city.ops.address),
        call(contracts["Rates"], "setInitialRate", S1, RATE_1),
        call(contracts["Rates"], "setInitialRate", S2, RATE_2),
        call(contracts["Exchange"], "setPairAllowed", S1, S2, True),
        call(contracts["Exchange"], "setPairAllowed", S2, S1, True),
    ])
    everyone = [r.address for r in city.residents] + [city.wallet]
    city.send(city.onboarding, m.functions.registerResidents(
        everyone, [Web3.keccak(text=f"identity:{a}") for a in everyone]))
    city.issue(city.issuer1, S1, everyone, START, "s1")
    city.issue(city.issuer2, S2, everyone[:4], START, "s2")
    # a redemption, partly refunded
    c = city.consent(city.residents[0], 6_000)
    city.redemption_nonce = c["nonce"]
    receipt = city.redeem(c)
    redemption = contracts["Redemption"]
    (redeemed,) = redemption.events.Redeemed().process_receipt(receipt, errors=DISCARD)
    parts = [(p["scheme"], p["points"], p["credits"]) for p in redeemed["args"]["parts"]]
    city.send(city.merchant, redemption.functions.refund(redeemed["args"]["redemptionId"], city.residents[0].address,
                                                         city.merchant.address, parts, 1_000))
    # an exchange and a preferred order
    city.exchange(city.residents[1], S1, S2, 100)
    nonce = os.urandom(32)
    deadline = int(time.time()) + 86400
    doc = typed_data("PreferredOrder", w3.eth.chain_id, redemption.address,
                     {"resident": city.residents[2].address, "schemes": [S2, S1], "nonce": nonce,
                      "deadline": deadline})
    city.send(city.relayer, redemption.functions.setPreferredOrder(city.residents[2].address, [S2, S1], nonce,
                                                                   deadline, sign(city.residents[2], doc)))
    city.redeem(city.consent(city.residents[2], 2_000))
    # the contract-wallet resident redeems with its owner's signature (EIP-1271)
    city.redeem(city.consent(city.wallet, 1_500, signer=city.wallet_owner))
    # close the period; the scheme-1 issuer pays the merchant, who confirms
    clearing = contracts["Clearing"]
    city.send(city.ops, clearing.functions.closePeriod())
    city.send(city.issuer1, clearing.functions.recordMerchantPayment(1, S1, city.merchant.address, b"\x07" * 32))
    sid = clearing.functions.merchantStatementId(1, S1, city.merchant.address).call()
    city.send(city.merchant, clearing.functions.answerPayment(sid, True, b"\x00" * 32))
    return city


@pytest.fixture
def audit_city(session_city):
    """The city, reverted after the test."""
    w3 = session_city.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    yield session_city
    assert w3.provider.make_request("evm_revert", [snapshot])["result"]


class Tamper:
    """Changes state behind the contracts' back. The one place that uses anvil's state-rewriting methods, so it
    can move to the node's operator channel when the public RPC refuses them (issue 11)."""

    def __init__(self, w3: Web3, addresses: dict[str, str]):
        self.w3, self.addresses = w3, addresses

    def slot(self, contract: str, label: str, *keys) -> int:
        """Storage slot of `label[keys[0]][keys[1]]...` from the artifact's storageLayout."""
        from eth_abi import encode

        from ledger_node.compiler import load_artifact

        layout = load_artifact(contract)["storageLayout"]["storage"]
        (entry,) = [e for e in layout if e["label"] == label]
        slot = int(entry["slot"])
        for key in keys:
            kind = "address" if isinstance(key, str) else ("bytes32" if isinstance(key, bytes) else "uint256")
            slot = int.from_bytes(Web3.keccak(encode([kind, "uint256"], [key, slot])), "big")
        return slot

    def read(self, contract: str, slot: int) -> int:
        return int.from_bytes(self.w3.eth.get_storage_at(self.addresses[contract], slot), "big")

    def write(self, contract: str, slot: int, value: int) -> None:
        result = self.w3.provider.make_request(
            "anvil_setStorageAt", [self.addresses[contract], hex(slot), "0x" + value.to_bytes(32, "big").hex()])
        assert result.get("result") is True, result
        self.w3.provider.make_request("evm_mine", [])


@pytest.fixture
def tamper(audit_city) -> Tamper:
    return Tamper(audit_city.w3, audit_city.addresses)


@pytest.fixture
def tamper_on():
    """Tamper with another chain than the audit city's: tamper_on(w3, addresses)."""
    return Tamper


@pytest.fixture
def run_audit(audit_city):
    """Audit the city's chain in-process: run_audit(**AuditOptions overrides) -> AuditResult."""
    from ledger_node.audit.run import AuditOptions, audit

    def run(**overrides):
        return audit(AuditOptions(audit_city.url, dict(audit_city.addresses), **overrides))

    return run
