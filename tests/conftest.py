"""Shared fixtures: one compile and one anvil node per session, a chain snapshot reverted after each test.

Tests that use `w3` (directly or through `system`, `operator`, `funded_account`) run between
evm_snapshot and evm_revert, so each starts from the freshly deployed system.
"""
from __future__ import annotations

# tests/brownie runs under Brownie's own pytest in its own virtualenv (README, "Brownie users")
collect_ignore = ["brownie"]

import pytest
from eth_account import Account

from ledger_node import chain, compiler
from tests.anvil_nodes import FUNDING, session_chain


@pytest.fixture(scope="session")
def artifacts() -> dict[str, dict]:
    return compiler.compile_all()


@pytest.fixture(scope="session")
def session_operator():
    return Account.create()


node, session_w3, session_system = session_chain("chain")


@pytest.fixture
def w3(session_w3):
    snapshot = session_w3.provider.make_request("evm_snapshot", [])["result"]
    yield session_w3
    assert session_w3.provider.make_request("evm_revert", [snapshot])["result"], "evm_revert failed"


@pytest.fixture
def operator(w3, session_operator):
    return session_operator


@pytest.fixture
def system(w3, session_system):
    """{name: bound web3 contract} of the deployed system, reverted to fresh after the test."""
    return {name: chain.bind(w3, name, address) for name, address in session_system.items()}


@pytest.fixture
def funded_account(w3, session_operator):
    """Factory: a new account holding native coin, so it can send transactions."""

    def make():
        account = Account.create()
        chain.fund(w3, session_operator, [account.address], FUNDING // 10**6)
        return account

    return make
