"""What several of the node's tests do the same way: run the console as an operator does, and start a node that
holds a few acknowledged transfers."""
from __future__ import annotations

import subprocess
import sys

from eth_account import Account
from web3 import Web3

from ledger_node.harness import SupervisedNode


def cli(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`citypoints ARGS` in `env`; `.text` is its output with rich's line wrapping undone."""
    out = subprocess.run([sys.executable, "-m", "scripts.cli", *args], env=env, capture_output=True, text=True,
                         timeout=300)
    if check and out.returncode != 0:
        raise AssertionError(f"citypoints {' '.join(args)} failed: {out.stdout}{out.stderr}")
    out.text = " ".join((out.stdout + out.stderr).split())
    return out


def chain_with_transfers(tmp_path, n: int = 5, to: str = "0x" + "22" * 20) -> tuple[SupervisedNode, list[str]]:
    """A started node (a block per transaction) and the hashes of `n` transfers from the operator it acknowledged."""
    node = SupervisedNode(tmp_path, block_period=0)
    node.start()
    operator = Account.from_key((tmp_path / "var" / "keys" / "operator.key").read_text().strip())
    w3 = Web3(Web3.HTTPProvider(node.url))
    hashes = []
    for i in range(n):
        tx = {"to": to, "value": i + 1, "gas": 21_000, "nonce": i, "chainId": w3.eth.chain_id,
              "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
        hashes.append(w3.eth.send_raw_transaction(operator.sign_transaction(tx).raw_transaction).to_0x_hex())
    return node, hashes
