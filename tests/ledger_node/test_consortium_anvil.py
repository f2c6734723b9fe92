"""The generated consortium genesis boots the embedded node: anvil --init <genesis.json>."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from eth_account import Account

from ledger_node.consortium import system_contracts
from ledger_node.consortium.description import load_description
from ledger_node.consortium.generate import generate_network

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
EXAMPLE = ROOT / "ledger_node" / "consortium" / "example-consortium.yaml"

pytestmark = pytest.mark.skipif(not ANVIL.exists(), reason="anvil not installed (npm install)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rpc(url: str, method: str, params: list):
    body = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10).json()
    assert "error" not in body, body
    return body["result"]


@pytest.fixture(scope="module")
def booted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("consortium-anvil")
    sender = Account.create()
    data = yaml.safe_load(EXAMPLE.read_text())
    data["allocations"][sender.address] = "5 ether"
    data["accounts"]["always_allowed"].append(sender.address)
    (tmp / "c.yaml").write_text(yaml.safe_dump(data))
    consortium = load_description(tmp / "c.yaml")
    generate_network(consortium, tmp / "out")

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp / "anvil.log", "wb")
    # The command RUNBOOK.md gives, on a free port.
    proc = subprocess.Popen(
        [str(ANVIL), "--init", str(tmp / "out" / "genesis.json"), "--hardfork", consortium.network.evm_fork,
         "--gas-limit", str(consortium.network.gas_limit), "--gas-price", "0", "--base-fee", "0",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                _rpc(url, "eth_chainId", [])
                break
            except (httpx.HTTPError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp / "anvil.log").read_text(errors="replace"))
                time.sleep(0.1)
        yield url, consortium, sender
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_chain_id_and_balances(booted):
    url, consortium, _ = booted
    assert int(_rpc(url, "eth_chainId", []), 16) == consortium.network.chain_id == 7070
    for address, wei in consortium.allocations.items():
        # at genesis: other tests of this module's chain spend from these accounts, in any order
        assert int(_rpc(url, "eth_getBalance", [address, "0x0"]), 16) == wei
    block = _rpc(url, "eth_getBlockByNumber", ["latest", False])
    assert int(block["gasLimit"], 16) == consortium.network.gas_limit
    assert int(block["baseFeePerGas"], 16) == 0


def test_system_contracts_from_genesis_run_on_the_evm(booted):
    url, _, _ = booted
    for contract in system_contracts.ALL:
        assert _rpc(url, "eth_getCode", [contract.address, "latest"]) == contract.runtime_code
        # independent check of the bytes: the EIP's init code, executed, returns the same runtime code
        assert _rpc(url, "eth_call", [{"data": contract.init_code}, "latest"]) == contract.runtime_code
    inhibitor = _rpc(url, "eth_getStorageAt", [system_contracts.WITHDRAWAL_REQUESTS.address, "0x0", "latest"])
    assert int(inhibitor, 16) == 2**256 - 1


def test_zero_gas_price_transaction_is_mined(booted):
    url, consortium, sender = booted
    tx = Account.sign_transaction(
        {"to": consortium.always_allowed[0], "value": 1, "gas": 21000, "gasPrice": 0, "nonce": 0,
         "chainId": consortium.network.chain_id},
        sender.key,
    )
    tx_hash = _rpc(url, "eth_sendRawTransaction", ["0x" + tx.raw_transaction.hex().removeprefix("0x")])
    deadline = time.monotonic() + 10
    while (receipt := _rpc(url, "eth_getTransactionReceipt", [tx_hash])) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert receipt["status"] == "0x1"
    assert int(_rpc(url, "eth_getBalance", [sender.address, "latest"]), 16) == 5 * 10**18 - 1


def test_live_push_reports_a_node_without_the_perm_api(booted):
    """anvil has no PERM API (Besu does): the push fails with its stable code instead of half-applying."""
    from ledger_node.consortium import errors as E
    from ledger_node.consortium.errors import ConsortiumError
    from ledger_node.consortium.permissions import push_live

    url, consortium, _ = booted
    with pytest.raises(ConsortiumError) as info:
        push_live(url, list(consortium.always_allowed), [])
    assert info.value.code == E.RPC_PUSH_FAILED and "perm_getAccountsAllowlist" in info.value.message
