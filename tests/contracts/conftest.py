"""Fixtures for contract tests: a small city set up once per session on top of the deployed system, on a node of the
suite's own.

`city` (session) is built before any test's snapshot, so every test starts from it and the root conftest's
evm_snapshot / evm_revert restores it afterwards. It adds schemes 1 and 2, a second consortium member and roles
outside any snapshot: on the node the other suites share, tests that count members or expect those schemes free
(tests/governance, tests/test_domain_constants.py) failed when they ran after this suite in one process.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from web3.contract import Contract

from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from tests.anvil_nodes import session_chain

from .helpers import identity

node, session_w3, session_system = session_chain("contracts-chain")

# `make test` (ci: the same examples each run, at least 1,500 steps per machine) and `make test-deep` (deep: new
# examples each run, about seven times the steps)
settings.register_profile("ci", max_examples=30, stateful_step_count=60, deadline=None, derandomize=True,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("deep", max_examples=150, stateful_step_count=80, deadline=None,
                          suppress_health_check=list(HealthCheck))
# a few examples, for trying a change to a state machine by hand (HYPOTHESIS_PROFILE=quick)
settings.register_profile("quick", max_examples=4, stateful_step_count=40, deadline=None,
                          suppress_health_check=list(HealthCheck))

SCHEME = 1  # volunteer
OTHER_SCHEME = 2  # traffic
QUOTA = 1_000_000
CAP = 1_000
RESIDENTS = 8


@dataclass
class City:
    contracts: dict[str, Contract]
    operator: LocalAccount  # bootstrap consortium member
    member: LocalAccount  # a second consortium member
    issuer: LocalAccount  # issuer account of SCHEME
    issuer_b: LocalAccount  # second issuer account of SCHEME
    other_issuer: LocalAccount  # issuer account of OTHER_SCHEME
    merchant: LocalAccount
    auditor: LocalAccount
    onboarding: LocalAccount
    relayer: LocalAccount
    ops: LocalAccount  # OPERATOR_ROLE
    ledger_operator: LocalAccount  # LEDGER_OPERATOR_ROLE (an EOA standing in for Exchange/Redemption)
    stranger: LocalAccount
    residents: list[LocalAccount] = field(default_factory=list)

    @property
    def consortium(self) -> Contract:
        return self.contracts["Consortium"]

    @property
    def membership(self) -> Contract:
        return self.contracts["Membership"]

    @property
    def ledger(self) -> Contract:
        return self.contracts["PointsLedger"]

    def govern(self, w3, calls, *, advance_time: bool = True) -> int:
        return propose_and_execute(w3, self.consortium, [self.operator], calls, advance_time=advance_time)


@pytest.fixture(scope="session")
def city(session_w3, session_system, session_operator) -> City:
    w3 = session_w3
    contracts = {name: chain.bind(w3, name, addr) for name, addr in session_system.items()}
    names = ["member", "issuer", "issuer_b", "other_issuer", "merchant", "auditor", "onboarding", "relayer", "ops",
             "ledger_operator", "stranger"]
    accounts = {n: Account.create() for n in names}
    residents = [Account.create() for _ in range(RESIDENTS)]
    chain.fund(w3, session_operator, [a.address for a in accounts.values()], 10**20)
    c = City(contracts=contracts, operator=session_operator, residents=residents, **accounts)
    m, ledger, consortium = c.membership, c.ledger, c.consortium
    role = lambda name: getattr(m.functions, name)().call()  # noqa: E731
    c.govern(w3, [
        call(ledger, "addScheme", SCHEME, QUOTA, CAP),
        call(ledger, "addScheme", OTHER_SCHEME, QUOTA, CAP),
        call(m, "setIssuerAccounts", SCHEME, [c.issuer.address, c.issuer_b.address]),
        call(m, "setIssuerAccounts", OTHER_SCHEME, [c.other_issuer.address]),
        call(m, "registerMerchant", c.merchant.address),
        call(m, "grantRole", role("AUDITOR_ROLE"), c.auditor.address),
        call(m, "grantRole", role("ONBOARDING_ROLE"), c.onboarding.address),
        call(m, "grantRole", role("RELAYER_ROLE"), c.relayer.address),
        call(m, "grantRole", role("OPERATOR_ROLE"), c.ops.address),
        call(m, "grantRole", role("LEDGER_OPERATOR_ROLE"), c.ledger_operator.address),
        call(consortium, "addMember", c.member.address),
    ])
    chain.transact(w3, c.onboarding, m.functions.registerResidents(
        [r.address for r in residents], [identity(r.address) for r in residents]))
    return c


@pytest.fixture
def env(w3, city) -> City:
    """The city, reverted after the test (the `w3` fixture snapshots)."""
    return city
