"""Ordinary clients cannot rewrite history or state on the node's public RPC; operators can, on the operator
channel, and what they change is journaled like everything else."""
from __future__ import annotations

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from ledger_node.harness import SupervisedNode
from ledger_node.node.method_policy import REFUSED

ADMIN_METHODS = [
    ("evm_revert", ["0x1"]), ("evm_snapshot", []), ("evm_mine", []), ("evm_setAutomine", [True]),
    ("evm_increaseTime", [3600]), ("evm_setNextBlockTimestamp", [2_000_000_000]),
    ("anvil_setStorageAt", ["0x" + "11" * 20, "0x0", "0x" + "00" * 31 + "01"]), ("anvil_reset", []),
    ("anvil_setBalance", ["0x" + "11" * 20, "0x1"]), ("anvil_setCode", ["0x" + "11" * 20, "0x00"]),
    ("anvil_impersonateAccount", ["0x" + "11" * 20]), ("anvil_loadState", ["0x00"]), ("anvil_dumpState", []),
    ("hardhat_setBalance", ["0x" + "11" * 20, "0x1"]), ("hardhat_reset", []), ("debug_setHead", ["0x0"]),
    ("eth_sendTransaction", [{"from": "0x" + "11" * 20, "to": "0x" + "22" * 20}]), ("personal_unlockAccount", []),
    ("miner_start", []), ("admin_addPeer", ["enode://x"]),
]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = SupervisedNode(tmp_path_factory.mktemp("rpc-safety"), block_period=0)
    node.start()
    yield node
    node.stop()


def _call(url: str, method: str, params: list, headers: dict | None = None) -> httpx.Response:
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 7, "method": method, "params": params}, headers=headers or {},
                      timeout=30)


@pytest.mark.parametrize("method,params", ADMIN_METHODS, ids=[m for m, _ in ADMIN_METHODS])
def test_publicRpc_refusesStateRewritingMethod(node, method, params):
    height = int(_call(node.url, "eth_blockNumber", []).json()["result"], 16)
    answer = _call(node.url, method, params).json()
    assert answer["id"] == 7
    assert answer["error"]["code"] == REFUSED
    assert method in answer["error"]["message"] and "operator channel" in answer["error"]["message"]
    assert int(_call(node.url, "eth_blockNumber", []).json()["result"], 16) == height


def test_publicRpc_refusesAdminInsideABatch_andAnswersTheRest(node):
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
             {"jsonrpc": "2.0", "id": 2, "method": "anvil_setBalance", "params": ["0x" + "11" * 20, "0x1"]}]
    answers = {a["id"]: a for a in httpx.post(node.url, json=batch, timeout=30).json()}
    assert int(answers[1]["result"], 16) == 7007
    assert answers[2]["error"]["code"] == REFUSED


def test_publicRpc_servesStandardClients(node):
    """web3.py left to its defaults (it offers a fee) works: accounts are funded, only signing is the client's."""
    operator = Account.from_key((node.home / "var" / "keys" / "operator.key").read_text().strip())
    w3 = Web3(Web3.HTTPProvider(node.url))
    tx = {"to": "0x" + "22" * 20, "value": 5, "nonce": w3.eth.get_transaction_count(operator.address, "pending"),
          "chainId": w3.eth.chain_id, "gas": 21_000, "maxFeePerGas": w3.eth.gas_price, "maxPriorityFeePerGas": 0}
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(operator.sign_transaction(tx).raw_transaction), timeout=30)
    assert receipt["status"] == 1
    assert w3.eth.get_block(receipt["blockNumber"])["transactions"][0] == receipt["transactionHash"]


def test_operatorChannel_needsItsToken(node):
    base = node.operator_url.rsplit("/", 1)[0]
    assert _call(base, "evm_mine", []).status_code == 401
    assert _call(base + "/not-the-token", "evm_mine", []).status_code == 401
    token = node.operator_url.rsplit("/", 1)[1]
    ok = _call(base, "eth_blockNumber", [], headers={"Authorization": f"Bearer {token}"}).json()
    assert "result" in ok


def test_operatorChannel_bindsToLoopbackOnly(node):
    assert node.operator_url.startswith("http://127.0.0.1:")


def test_operatorChannel_allowsAdminMethods_andTheyAreJournaled(tmp_path):
    node = SupervisedNode(tmp_path, block_period=0)
    node.start()
    try:
        who = "0x" + "33" * 20
        node.operator("anvil_setBalance", [who, hex(12345)])  # its effect is checked below
        height = node.operator("eth_blockNumber")
        node.operator("evm_mine", [])
        assert int(node.operator("eth_blockNumber"), 16) == int(height, 16) + 1
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert w3.eth.get_balance(Web3.to_checksum_address(who)) == 12345
        snap = node.operator("evm_snapshot")
        node.operator("anvil_setBalance", [who, hex(1)])
        assert node.operator("evm_revert", [snap]) is True
        assert w3.eth.get_balance(Web3.to_checksum_address(who)) == 12345
        blocks = {n: w3.eth.get_block(n)["hash"] for n in range(w3.eth.block_number + 1)}
        node.kill()                                   # replay re-applies the operator's changes in place
        node.start()
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert w3.eth.get_balance(Web3.to_checksum_address(who)) == 12345
        assert {n: w3.eth.get_block(n)["hash"] for n in blocks} == blocks
    finally:
        node.stop()


@pytest.mark.parametrize("method,params", [("anvil_mine", ["0x1"]), ("anvil_setAutomine", [True]),
                                           ("eth_sendTransaction", [{"from": "0x" + "11" * 20}]),
                                           ("anvil_dropAllTransactions", [])])
def test_operatorChannel_refusesWhatWouldLetTheEngineBuildBlocksOnItsOwn(node, method, params):
    """Replay rebuilds each block from its journal record: the engine may not mine, sign or drop by itself."""
    height = node.operator("eth_blockNumber")
    answer = _call(node.operator_url, method, params).json()
    assert answer["error"]["code"] == REFUSED and method in answer["error"]["message"]
    assert node.operator("eth_blockNumber") == height
