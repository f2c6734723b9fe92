"""Talking to the chain from Python: connect, send a signed transaction and wait, deploy, fund, bind contracts.

Every sender offers a zero fee explicitly: the chain runs with a zero gas price and base fee.
"""
from __future__ import annotations

from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from ledger_node.compiler import load_artifact
from ledger_node.errors import LedgerNodeError
from ledger_node.revert import decode_revert


class TransactionFailed(LedgerNodeError):
    """A transaction reverted or could not be sent; `error` is the decoded custom error name if any."""

    def __init__(self, message: str, error: str | None = None, args: tuple = (), receipt: Any = None):
        super().__init__(message)
        self.error = error
        self.error_args = args
        self.receipt = receipt


def connect(rpc_url: str) -> Web3:
    """web3 on `rpc_url`. The chain id is asked once (a signed transaction needs it each time), and requests does not
    look for proxy settings in the environment on every request (a node is on a known address; this was a tenth of
    the time of a contract call)."""
    session = requests.Session()
    session.trust_env = False
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 120}, session=session,
                                cache_allowed_requests=True, cacheable_requests={"eth_chainId", "net_version"}))
    if not w3.is_connected():
        raise ConnectionError(f"no JSON-RPC node answers at {rpc_url}; start one with `citypoints node start`")
    return w3


def send_transaction(w3: Web3, account: LocalAccount, tx: dict, *, wait: bool = True):
    """Sign and send `tx` from `account` with zero fees; return the receipt (or the hash when wait=False)."""
    tx = dict(tx)
    tx.setdefault("from", account.address)
    tx.setdefault("chainId", w3.eth.chain_id)
    tx.setdefault("nonce", w3.eth.get_transaction_count(account.address, "pending"))
    tx.setdefault("maxFeePerGas", 0)
    tx.setdefault("maxPriorityFeePerGas", 0)
    tx.setdefault("value", 0)
    if "gas" not in tx:
        try:
            tx["gas"] = _with_margin(w3.eth.estimate_gas(tx))
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise _failure(exc) from exc
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    if not wait:
        return tx_hash
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05)
    if receipt["status"] != 1:
        try:
            w3.eth.call({k: v for k, v in tx.items() if k not in ("nonce", "chainId")}, receipt["blockNumber"] - 1)
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise _failure(exc, receipt) from exc
        raise TransactionFailed(f"transaction {tx_hash.hex()} reverted", receipt=receipt)
    return receipt


def transact(w3: Web3, account: LocalAccount, fn, **overrides):
    """Send a bound contract function call (`contract.functions.f(...)`) from `account`."""
    try:  # building estimates gas, which is where a revert shows first
        tx = fn.build_transaction({"from": account.address, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0,
                                   **overrides})
    except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
        raise _failure(exc) from exc
    if "gas" not in overrides:  # the estimate is for this block; leave room for time- and day-dependent paths
        tx["gas"] = _with_margin(tx["gas"])
    return send_transaction(w3, account, tx)


def transact_many(w3: Web3, account: LocalAccount, fns, *, gas: int = 5_000_000) -> list:
    """Send many contract calls from `account` back to back (consecutive nonces, a fixed gas allowance, no
    estimate each), then wait for every receipt; raise TransactionFailed on the first that reverted."""
    chain_id = w3.eth.chain_id
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    pending = []
    for fn in fns:
        tx = fn.build_transaction({"from": account.address, "nonce": nonce, "gas": gas, "chainId": chain_id,
                                   "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})
        pending.append((tx, w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)))
        nonce += 1
    receipts = []
    for tx, tx_hash in pending:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.02)
        if receipt["status"] != 1:
            try:
                w3.eth.call({k: v for k, v in tx.items() if k not in ("nonce", "chainId")}, receipt["blockNumber"])
            except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
                raise _failure(exc, receipt) from exc
            raise TransactionFailed(f"transaction {tx_hash.hex()} reverted", receipt=receipt)
        receipts.append(receipt)
    return receipts


def deploy_contract(w3: Web3, account: LocalAccount, name: str, *args) -> str:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = transact(w3, account, factory.constructor(*args))
    return receipt["contractAddress"]


def bind(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"])


def fund(w3: Web3, funder: LocalAccount, addresses, wei: int) -> int:
    """Top up every address below half of `wei` with native coin; returns how many were funded."""
    nonce = w3.eth.get_transaction_count(funder.address, "pending")
    chain_id = w3.eth.chain_id
    hashes = []
    for address in addresses:
        if w3.eth.get_balance(address) >= wei // 2:
            continue
        signed = funder.sign_transaction({"to": address, "value": wei, "gas": 21_000, "nonce": nonce,
                                          "chainId": chain_id, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})
        hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))
        nonce += 1
    for h in hashes:
        w3.eth.wait_for_transaction_receipt(h, timeout=120, poll_latency=0.05)
    return len(hashes)


def _with_margin(gas: int) -> int:
    return int(gas * 1.25) + 50_000


def _failure(exc: Exception, receipt: Any = None) -> TransactionFailed:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    decoded = decode_revert(data) if isinstance(data, (str, bytes)) else None
    if decoded:
        name, args = decoded
        return TransactionFailed(f"reverted with {name}{args}", name, args, receipt)
    return TransactionFailed(f"transaction failed: {exc}", receipt=receipt)
