"""Publish a signed report on chain (AuditAttestations.attest) and check a report or a proof against it."""
from __future__ import annotations

from eth_account import Account
from web3 import Web3
from web3.logs import DISCARD

from ledger_node import chain
from ledger_node.audit import AuditError


def attest(rpc_url: str, address: str, private_key: str, report: dict) -> dict:
    """Record (reportHash, merkleRoot, fromBlock, toBlock) as the auditor; returns {id, tx, block}."""
    if not report.get("merkle", {}).get("root"):
        raise AuditError("the report has no Merkle root (no balances): nothing to attest")
    w3 = chain.connect(rpc_url)
    contract = chain.bind(w3, "AuditAttestations", address)
    account = Account.from_key(private_key)
    try:
        receipt = chain.transact(w3, account, contract.functions.attest(
            bytes.fromhex(report["reportHash"][2:]), bytes.fromhex(report["merkle"]["root"][2:]),
            report["fromBlock"], report["toBlock"]))
    except chain.TransactionFailed as exc:
        raise AuditError(f"attestation refused: {exc}") from exc
    (event,) = contract.events.AuditAttested().process_receipt(receipt, errors=DISCARD)
    return {"contract": Web3.to_checksum_address(address), "id": event["args"]["id"],
            "tx": receipt["transactionHash"].to_0x_hex(), "block": receipt["blockNumber"]}


def attested(rpc_url: str, address: str, report: dict) -> dict | None:
    """The on-chain attestation of this report ({id, merkleRoot, auditor, ...}) or None."""
    w3 = chain.connect(rpc_url)
    contract = chain.bind(w3, "AuditAttestations", address)
    rid = contract.functions.attestationOf(bytes.fromhex(report["reportHash"][2:])).call()
    if rid == 0:
        return None
    a = contract.functions.attestation(rid).call()
    return {"id": rid, "reportHash": "0x" + a[0].hex(), "merkleRoot": "0x" + a[1].hex(), "fromBlock": a[2],
            "toBlock": a[3], "attestedAt": a[4], "auditor": a[5]}


def verify_balance_on_chain(rpc_url: str, address: str, attestation_id: int, line: dict) -> bool:
    w3 = chain.connect(rpc_url)
    contract = chain.bind(w3, "AuditAttestations", address)
    return contract.functions.verifyBalance(attestation_id, [bytes.fromhex(p[2:]) for p in line["proof"]],
                                            Web3.to_checksum_address(line["account"]), line["scheme"],
                                            line["balance"]).call()
