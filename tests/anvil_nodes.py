"""A node of its own for a test session: the suites whose session state would show in another's (the contract tests
list every account and scheme there is) each start one."""
from __future__ import annotations

import pytest

from ledger_node import chain
from ledger_node.config import NodeConfig
from ledger_node.node.anvil import AnvilProcess, free_port, write_genesis

FUNDING = 10**24


def anvil_node(tmp_path_factory, name: str, operator):
    """Generator for a session fixture: an anvil node with `operator` funded at genesis, stopped at the end."""
    home = tmp_path_factory.mktemp(name)
    cfg = NodeConfig(port=free_port())
    write_genesis(home / "genesis.json", cfg, {operator.address: FUNDING})
    proc = AnvilProcess(cfg, home / "genesis.json", home / "anvil.log")
    proc.start()
    yield proc
    proc.stop()


def session_chain(name: str):
    """The session fixtures `node`, `session_w3` and `session_system` (the contracts deployed by the same code
    `citypoints deploy` runs) for a conftest: the root's, or a suite's that wants a node of its own (a
    conftest's definitions override the root's for the tests below it)."""

    @pytest.fixture(scope="session")
    def node(tmp_path_factory, artifacts, session_operator):
        yield from anvil_node(tmp_path_factory, name, session_operator)

    @pytest.fixture(scope="session")
    def session_w3(node):
        return chain.connect(node.url)

    @pytest.fixture(scope="session")
    def session_system(session_w3, session_operator) -> dict[str, str]:
        from ledger_node.deploy.command import deploy_all

        return deploy_all(session_w3, session_operator)

    return node, session_w3, session_system
