"""The node keeps the state of its latest blocks only (NodeConfig.state_history_blocks: anvil keeps each block's
state as a whole copy, and 500 of them in memory ran a district's ledger out of memory). The auditor asks the
contracts at the last block it audited: an audit to the head that the chain outran while it replayed goes on to the
new head and compares there; an audit to an older block whose state is gone says so."""
from __future__ import annotations

import pytest

from ledger_node.audit import AuditError
from ledger_node.audit.rpc import Rpc
from ledger_node.audit.run import AuditOptions, audit
from ledger_node.config import NodeConfig
from ledger_node.node.anvil import AnvilProcess, NodeError, free_port, write_genesis

KEPT = 4


@pytest.fixture
def pruned_copy(audit_node, audit_city, tmp_path):
    """The audit city's chain on an engine as the node runs it (blocks mined on demand) keeping KEPT blocks' state."""
    proc, operator = audit_node
    cfg = NodeConfig(port=free_port(), state_history_blocks=KEPT)
    write_genesis(tmp_path / "genesis.json", cfg, {operator.address: 10**24})
    node = AnvilProcess(cfg, tmp_path / "genesis.json", tmp_path / "anvil.log", no_mining=True)
    state = proc.dump_state()
    node.start()
    node.load_state(state)
    yield node
    node.stop()


def test_aChainThatOutranTheReplay_isAuditedToItsNewHead_andAnOldBlocksStateIsSaidToBeGone(
        audit_city, pruned_copy, monkeypatch):
    node = pruned_copy
    audited = int(node.call("eth_blockNumber"), 16)
    for _ in range(3 * KEPT):  # the chain goes on while the replay runs
        node.call("evm_mine")
    head = audited + 3 * KEPT
    assert int(node.call("eth_blockNumber"), 16) == head
    with pytest.raises(NodeError, match="BlockOutOfRange"):
        node.call("eth_getBalance", ["0x" + "00" * 20, hex(audited)])
    node.call("eth_getBalance", ["0x" + "00" * 20, hex(head - KEPT + 2)])  # a recent block's state is kept

    with pytest.raises(AuditError, match=f"no longer keeps the state of block {audited}"):
        audit(AuditOptions(node.url, dict(audit_city.addresses), to_block=audited))

    heads = iter([audited])  # the head the audit starts from: the one before the chain went on
    real = Rpc.block_number
    monkeypatch.setattr(Rpc, "block_number", lambda self: next(heads, None) or real(self))
    result = audit(AuditOptions(node.url, dict(audit_city.addresses)))
    assert result.report["toBlock"] == head
    assert result.problems == [] and result.report["counts"]["comparisons"] > 0
