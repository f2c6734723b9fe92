"""A node of its own for a test session: the suites whose session state would show in another's (the contract tests
list every account and scheme there is) each start one."""
from __future__ import annotations

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
