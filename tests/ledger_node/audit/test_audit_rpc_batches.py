"""The auditor's batches stay within what the durable node's public RPC takes (10 MB a request body): its state
checks at 50,000 residents (balanceOfBatch of 2,000 pairs each, 1,000 calls a batch) were refused with HTTP 413."""
from __future__ import annotations

from ledger_node.audit.rpc import Rpc
from ledger_node.harness import SupervisedNode


def test_aBatchLargerThanTheNodesBodyLimit_isSentInParts_andEveryCallAnswered(tmp_path):
    node = SupervisedNode(tmp_path / "node")
    node.start()
    rpc = Rpc(node.url)
    try:
        call = ("eth_call", [{"to": "0x" + "11" * 20, "data": "0x" + "00" * 300_000}, "latest"])  # 600 kB of params
        answers = rpc.batch([call] * 40, chunk=1000)  # 24 MB in all
        assert answers == ["0x"] * 40
    finally:
        rpc.close()
        node.stop()
