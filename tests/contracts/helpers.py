"""Small helpers for contract tests: send as an account, expect a named custom error, time travel."""
from __future__ import annotations

import os
from collections import defaultdict

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_node import chain
from ledger_node.domain import ISSUER_PAIR, MERCHANT_PAIR, statement_id
from ledger_node.revert import decode_revert


def send(w3: Web3, account, fn, gas: int | None = None):
    """Send `fn` from `account` (a LocalAccount, or an address string the node impersonates)."""
    if isinstance(account, LocalAccount):
        overrides = {"gas": gas} if gas else {}
        return chain.transact(w3, account, fn, **overrides)
    return send_impersonated(w3, account, fn)


def send_fixed_gas(w3: Web3, account: LocalAccount, fn, gas: int = 3_000_000):
    """Send without estimating (the block's timestamp may differ from the estimate's); a revert is decoded from
    the mined transaction's trace, so the error is the one the block really produced."""
    tx = {"from": account.address, "to": fn.address, "data": fn._encode_transaction_data(), "value": 0,
          "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "gas": gas, "chainId": _chain_id(w3),
          "nonce": w3.eth.get_transaction_count(account.address, "pending")}
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.01)
    if receipt["status"] != 1:
        trace = w3.provider.make_request("debug_traceTransaction", [tx_hash.to_0x_hex(), {"tracer": "callTracer"}])
        decoded = decode_revert(trace["result"].get("output"))
        name, args = decoded if decoded else (None, ())
        raise chain.TransactionFailed(f"reverted with {name}{args}", name, args, receipt)
    return receipt


_CHAIN_IDS: dict[int, int] = {}


def _chain_id(w3: Web3) -> int:
    if id(w3) not in _CHAIN_IDS:
        _CHAIN_IDS[id(w3)] = w3.eth.chain_id
    return _CHAIN_IDS[id(w3)]


def send_impersonated(w3: Web3, address: str, fn):
    """Send `fn` as `address` (a contract such as the Consortium) through anvil's impersonation."""
    w3.provider.make_request("anvil_impersonateAccount", [address])
    w3.provider.make_request("anvil_setBalance", [address, hex(10**20)])
    try:
        tx = fn.build_transaction({"from": address, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "gas": 3_000_000})
        tx_hash = w3.eth.send_transaction(tx)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.02)
        if receipt["status"] != 1:
            raise_decoded(w3, tx, receipt)
        return receipt
    finally:
        w3.provider.make_request("anvil_stopImpersonatingAccount", [address])


def raise_decoded(w3: Web3, tx: dict, receipt):
    try:
        w3.eth.call({k: v for k, v in tx.items() if k not in ("nonce", "chainId", "gas")}, receipt["blockNumber"] - 1)
    except Exception as exc:  # noqa: BLE001 - re-raised decoded
        raise revert_of(exc, receipt) from exc
    raise chain.TransactionFailed("reverted without data", receipt=receipt)


def revert_of(exc: Exception, receipt=None) -> chain.TransactionFailed:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    decoded = decode_revert(data) if isinstance(data, (str, bytes)) else None
    if decoded:
        return chain.TransactionFailed(f"reverted with {decoded[0]}{decoded[1]}", decoded[0], decoded[1], receipt)
    return chain.TransactionFailed(f"transaction failed: {exc}", receipt=receipt)


def expect_revert(w3: Web3, account, fn, error: str, args: tuple | None = None) -> tuple:
    """Send `fn` as `account`; assert it reverts with custom error `error` (and `args` if given); return args."""
    with pytest.raises(chain.TransactionFailed) as info:
        send(w3, account, fn)
    assert info.value.error == error, f"expected {error}, got {info.value.error}: {info.value}"
    if args is not None:
        assert tuple(info.value.error_args) == tuple(args), info.value.error_args
    return tuple(info.value.error_args)


def simulate_error(w3: Web3, sender: str, fn) -> tuple[str | None, tuple]:
    """eth_call `fn` as `sender`; return (error name, args) or (None, ()) if it would succeed."""
    try:
        fn.call({"from": sender})
    except Exception as exc:  # noqa: BLE001
        failure = revert_of(exc)
        return failure.error or f"undecoded: {exc}", tuple(failure.error_args)
    return None, ()


def advance_time(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [int(seconds)])
    w3.provider.make_request("evm_mine", [])


def now(w3: Web3) -> int:
    return w3.eth.get_block("latest")["timestamp"]


def ref(label: str | int) -> bytes:
    return Web3.keccak(text=f"ref:{label}")


def identity(label: str | int) -> bytes:
    return Web3.keccak(text=f"identity:{label}")


def hypothesis_profile() -> str:
    return os.environ.get("HYPOTHESIS_PROFILE", "ci")


def clearing_nets(clearing) -> tuple[dict[int, int], dict[str, int]]:
    """Every issuer's (by scheme) and merchant's net: what it owes minus what it is owed, unsettled, summed from
    Clearing's events on the chain as the auditor and the API's indexer sum them (Clearing stores no nets): each
    position move, and each confirmed statement's amount (its closed period's position) from debtor to creditor."""
    issuer: dict[int, int] = defaultdict(int)
    merchant: dict[str, int] = defaultdict(int)
    pairs: dict[str, tuple] = {}  # statement id -> (debtor nets, debtor, creditor nets, creditor, position view)
    for ev in clearing.events.MerchantPositionChanged().get_logs(from_block=0):
        a = ev["args"]
        issuer[a["scheme"]] += a["delta"]
        merchant[a["merchant"]] -= a["delta"]
        pairs[statement_id(MERCHANT_PAIR, a["period"], a["scheme"], int(a["merchant"], 16))] = (
            issuer, a["scheme"], merchant, a["merchant"],
            clearing.functions.merchantPosition(a["period"], a["scheme"], a["merchant"]))
    for ev in clearing.events.IssuerPositionChanged().get_logs(from_block=0):
        a = ev["args"]
        issuer[a["fromScheme"]] += a["credits"]
        issuer[a["toScheme"]] -= a["credits"]
        lo, hi = sorted((a["fromScheme"], a["toScheme"]))
        pairs[statement_id(ISSUER_PAIR, a["period"], lo, hi)] = (
            issuer, lo, issuer, hi, clearing.functions.issuerPosition(a["period"], lo, hi))
    for ev in clearing.events.PaymentConfirmed().get_logs(from_block=0):
        debtors, debtor, creditors, creditor, position = pairs["0x" + ev["args"]["statementId"].hex()]
        amount = position.call()
        debtors[debtor] -= amount
        creditors[creditor] += amount
    return dict(issuer), dict(merchant)
