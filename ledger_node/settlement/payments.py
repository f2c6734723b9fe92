"""The steps of settling a closed period, each one transaction signed by the party that takes it: an operator
closes the open period; the debtor of a statement records its bank payment; the creditor confirms or disputes it.

A bank reference and a dispute's reason go on chain only as their keccak256 hash (`reference_hash`), which is what
Clearing takes: the command prints the hash so either side can match it with the bank's records, and keeps nothing.
A step the contract refuses is refused when its gas is estimated, so nothing is sent.
"""
from __future__ import annotations

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger_node.settlement.errors import usage
from ledger_node.settlement.ledger import ClearingLedger, Log
from ledger_node.settlement.statement import iso, money

ZERO_HASH = b"\x00" * 32


def reference_hash(text: str) -> str:
    """keccak256 of the UTF-8 text, as 0x hex: what Clearing stores for a bank reference or a dispute's reason."""
    if not text.strip():
        raise usage("invalid_reference", "the bank reference (or reason) is empty")
    return "0x" + keccak(text=text).hex()


def close_period(ledger: ClearingLedger, signer: LocalAccount) -> dict:
    receipt = ledger.send(signer, "Clearing", "closePeriod")
    closed = _event(ledger, receipt, "PeriodClosed")
    return {"object": "period_closed", "period": closed["period"], "closedAt": closed["closedAt"],
            "closedAtIso": iso(closed["closedAt"]), "openPeriod": closed["period"] + 1, "by": closed["operator"],
            **_tx(receipt)}


def pay_merchant(ledger: ClearingLedger, signer: LocalAccount, period: int, scheme: int, merchant: str,
                 bank_ref: str) -> dict:
    ref_hash = reference_hash(bank_ref)
    receipt = ledger.send(signer, "Clearing", "recordMerchantPayment", period, scheme, merchant,
                          bytes.fromhex(ref_hash[2:]))
    return _paid(ledger, receipt, {"kind": "merchant", "scheme": scheme, "merchant": merchant})


def pay_issuers(ledger: ClearingLedger, signer: LocalAccount, period: int, scheme_a: int, scheme_b: int,
                bank_ref: str) -> dict:
    if scheme_a == scheme_b:
        raise usage("same_scheme", "an issuer pair must name two different schemes")
    ref_hash = reference_hash(bank_ref)
    receipt = ledger.send(signer, "Clearing", "recordIssuerPayment", period, scheme_a, scheme_b,
                          bytes.fromhex(ref_hash[2:]))
    return _paid(ledger, receipt, {"kind": "issuer", "schemeA": min(scheme_a, scheme_b),
                                   "schemeB": max(scheme_a, scheme_b)})


def confirm(ledger: ClearingLedger, signer: LocalAccount, statement_id: str) -> dict:
    receipt = ledger.send(signer, "Clearing", "answerPayment", parse_statement_id(statement_id), True, ZERO_HASH)
    ev = _event(ledger, receipt, "PaymentConfirmed")
    return {"object": "payment_confirmed", "statementId": ev["statementId"], "period": ev["period"],
            **money("amount", ev["amount"]), "settlement": "confirmed", "by": ev["by"], **_tx(receipt)}


def dispute(ledger: ClearingLedger, signer: LocalAccount, statement_id: str, reason: str) -> dict:
    reason_hash = reference_hash(reason)
    receipt = ledger.send(signer, "Clearing", "answerPayment", parse_statement_id(statement_id), False,
                          bytes.fromhex(reason_hash[2:]))
    ev = _event(ledger, receipt, "PaymentDisputed")
    return {"object": "payment_disputed", "statementId": ev["statementId"], "period": ev["period"],
            "reasonHash": ev["reasonHash"], "settlement": "disputed", "by": ev["by"], **_tx(receipt)}


def _paid(ledger: ClearingLedger, receipt, pair: dict) -> dict:
    ev = _event(ledger, receipt, "PaymentRecorded")
    return {"object": "payment_recorded", "statementId": ev["statementId"], "period": ev["period"], **pair,
            **money("amount", ev["amount"]), "bankRefHash": ev["bankRefHash"], "settlement": "paid", "by": ev["by"],
            **_tx(receipt)}


def parse_statement_id(text: str) -> bytes:
    """A statement id as given on the command line (0x and 64 hex digits); `invalid_statement_id` if it is not."""
    raw = text[2:] if text.lower().startswith("0x") else text
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise usage("invalid_statement_id", f"{text!r} is not a statement id (32 bytes, 0x and 64 hex digits)")
    return value


def _event(ledger: ClearingLedger, receipt, name: str) -> dict:
    logs: list[Log] = [log for log in ledger.receipt_logs(receipt) if log.name == name]
    return logs[0].args


def _tx(receipt) -> dict:
    return {"txHash": "0x" + bytes(receipt["transactionHash"]).hex(), "block": receipt["blockNumber"]}
