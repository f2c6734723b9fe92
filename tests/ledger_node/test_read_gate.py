"""Which reads need not wait for a block being journaled: "latest" is pinned to the last journaled block, and a
read that names only journaled blocks (or a transaction that cannot be in the block) can be answered at once."""
from __future__ import annotations

import pytest

from ledger_node.read_gate import pinned, shows_only_journaled

HEIGHT = 7
ADDRESS = "0x" + "11" * 20
TX = "0x" + "ab" * 32


@pytest.mark.parametrize("method,params,expected", [
    ("eth_call", [{"to": ADDRESS}, "latest"], [{"to": ADDRESS}, "0x7"]),
    ("eth_call", [{"to": ADDRESS}], [{"to": ADDRESS}, "0x7"]),
    ("eth_getBalance", [ADDRESS, "finalized"], [ADDRESS, "0x7"]),
    ("eth_getStorageAt", [ADDRESS, "0x0", "latest"], [ADDRESS, "0x0", "0x7"]),
    ("eth_getBlockByNumber", ["latest", False], ["0x7", False]),
    ("eth_getLogs", [{"address": ADDRESS}], [{"address": ADDRESS, "fromBlock": "0x7", "toBlock": "0x7"}]),
    ("eth_getLogs", [{"fromBlock": "0x1"}], [{"fromBlock": "0x1", "toBlock": "0x7"}]),
    ("eth_getTransactionCount", [ADDRESS, "pending"], [ADDRESS, "pending"]),
    ("eth_estimateGas", [{"to": ADDRESS}], [{"to": ADDRESS}]),
])
def test_pinned_turnsLatestIntoTheLastJournaledBlock(method, params, expected):
    assert pinned(method, params, HEIGHT) == expected


@pytest.mark.parametrize("method,params,answered_at_once", [
    ("eth_call", [{"to": ADDRESS}, "0x7"], True),
    ("eth_call", [{"to": ADDRESS}, "0x8"], False),
    ("eth_call", [{"to": ADDRESS}, {"blockHash": TX}], True),
    ("eth_getTransactionCount", [ADDRESS, "pending"], False),
    ("eth_getBlockByNumber", ["pending", False], False),
    ("eth_getLogs", [{"fromBlock": "0x1", "toBlock": "0x7"}], True),
    ("eth_getLogs", [{"blockHash": TX}], True),
    ("eth_getFilterChanges", ["0x1"], False),
    ("eth_chainId", [], True),
    ("eth_getTransactionReceipt", [TX], True),
    ("eth_getTransactionReceipt", [TX.upper().replace("0X", "0x")], True),
])
def test_showsOnlyJournaled(method, params, answered_at_once):
    assert shows_only_journaled(method, params, HEIGHT, lambda h: False) is answered_at_once


def test_showsOnlyJournaled_holdsAReceiptOfATransactionThatMayBeInTheBlock():
    assert not shows_only_journaled("eth_getTransactionReceipt", [TX.upper().replace("0X", "0x")], HEIGHT,
                                    lambda h: h == TX)
