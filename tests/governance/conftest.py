"""Fixtures for `citypoints gov`: the root session node and contracts; each test builds its city inside the root
conftest's snapshot (`w3`), so nothing leaks into other suites.

`city` is the governance view of the session deployment, with scheme 2 named "traffic" as a demo file would name it.
`town` sets up a small city on top: three members (the session operator first) governing 2-of-3 with an
emergency quorum of 1, schemes 2 (rate 4.00 credits a point, one issuer) and 3 (rate 1.00), two merchants.
"""
from __future__ import annotations

import pytest
from eth_account import Account

from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from ledger_node.governance.city import City
from tests.governance.gov_helpers import RATE_2, RATE_3, Town


@pytest.fixture
def city(w3, node, session_system) -> City:
    deployment = {"chainId": w3.eth.chain_id, "rpcUrl": node.url, "startBlock": 0, "contracts": session_system}
    contracts = {name: chain.bind(w3, name, address) for name, address in session_system.items()}
    return City(w3, deployment, contracts, {2: "traffic"}, {})


@pytest.fixture
def town(city, session_operator) -> Town:
    second, third = Account.create(), Account.create()
    issuer, merchant, other = (Account.create().address for _ in range(3))
    c, m, ledger, rates = city["Consortium"], city["Membership"], city["PointsLedger"], city["Rates"]
    t = Town(city, [session_operator, second, third], issuer, merchant, other)
    propose_and_execute(city.w3, c, [session_operator], [
        call(ledger, "addScheme", 2, 1_000_000, 1_000),
        call(ledger, "addScheme", 3, 1_000_000, 1_000),
        call(m, "setIssuerAccounts", 2, [issuer]),
        call(rates, "setInitialRate", 2, RATE_2),
        call(rates, "setInitialRate", 3, RATE_3),
        call(m, "registerMerchant", merchant),
        call(m, "registerMerchant", other),
        call(c, "addMember", second.address),
        call(c, "addMember", third.address),
        call(c, "setThresholds", 2, 1),
    ], "test town", advance_time=True)
    return t
