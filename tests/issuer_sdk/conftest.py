"""Fixtures for the issuer SDK: a small city on a node of its own (the contract tests, in the same session, expect
the schemes and accounts of theirs alone), set up once before any test's snapshot.

Scheme 51 has room for everything; scheme 9 has a small quota and cap, for the refusal tests. Every test
that takes `city` runs between the root conftest's evm_snapshot and evm_revert.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from web3.contract import Contract

from issuer_sdk import ClientConfig, IssuerClient, LocalSigner
from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from tests.anvil_nodes import session_chain

from isdk_helpers import RESIDENTS, SALT, SCHEME, TIGHT_CAP, TIGHT_QUOTA, TIGHT_SCHEME  # noqa: E402,F401


@dataclass
class IssuerCity:
    rpc_url: str
    contracts: dict[str, Contract]
    addresses: dict[str, str]
    issuer: LocalAccount
    tight_issuer: LocalAccount
    stranger: LocalAccount
    residents: list[str] = field(default_factory=list)
    unregistered: str = ""

    @property
    def ledger(self) -> Contract:
        return self.contracts["PointsLedger"]

    def client(self, scheme: int = SCHEME, account: LocalAccount | None = None, *, rpc_url: str | None = None,
               **config) -> IssuerClient:
        return IssuerClient(rpc_url or self.rpc_url, self.addresses["PointsLedger"], LocalSigner(bytes((account or self.issuer).key)),
                            scheme, SALT, config=ClientConfig(**config))

    def deployment(self) -> dict:
        return {"chainId": 7007, "rpcUrl": self.rpc_url, "startBlock": 0, "contracts": dict(self.addresses)}

    def balance(self, resident: str, scheme: int = SCHEME) -> int:
        return self.ledger.functions.balanceOf(resident, scheme).call()

    def supply(self, scheme: int = SCHEME) -> int:
        return self.ledger.functions.totalSupply(scheme).call()


node, session_w3, session_system = session_chain("issuer-chain")


@pytest.fixture(scope="session")
def issuer_city_session(node, session_w3, session_system, session_operator) -> IssuerCity:
    w3 = session_w3
    contracts = {name: chain.bind(w3, name, addr) for name, addr in session_system.items()}
    issuer, tight_issuer, stranger, onboarding = (Account.create() for _ in range(4))
    chain.fund(w3, session_operator, [issuer.address, tight_issuer.address, stranger.address, onboarding.address],
               10**20)
    m, ledger = contracts["Membership"], contracts["PointsLedger"]
    propose_and_execute(w3, contracts["Consortium"], [session_operator], [
        call(ledger, "addScheme", SCHEME, 10**24, 10**20),
        call(ledger, "addScheme", TIGHT_SCHEME, TIGHT_QUOTA, TIGHT_CAP),
        call(m, "setIssuerAccounts", SCHEME, [issuer.address]),
        call(m, "setIssuerAccounts", TIGHT_SCHEME, [tight_issuer.address]),
        call(m, "grantRole", m.functions.ONBOARDING_ROLE().call(), onboarding.address),
    ], advance_time=True)
    residents = [Account.create().address for _ in range(RESIDENTS)]
    chain.transact(w3, onboarding, m.functions.registerResidents(
        residents, [keccak(bytes.fromhex(r[2:]) + b"identity") for r in residents]))
    return IssuerCity(node.url, contracts, dict(session_system), issuer, tight_issuer, stranger, residents,
                      Account.create().address)


@pytest.fixture
def city(w3, issuer_city_session) -> IssuerCity:
    """The issuer city, reverted to fresh after the test."""
    return issuer_city_session


@pytest.fixture
def deployment_home(tmp_path, city, monkeypatch):
    """A CITYPOINTS_HOME with var/deployment.json pointing at the session node (for the CLI)."""
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "deployment.json").write_text(json.dumps(city.deployment()))
    monkeypatch.setenv("CITYPOINTS_HOME", str(tmp_path))
    return tmp_path
