"""The auditor's own signer recovery: a consent whose calldata signature is not the resident's is flagged, also
for EIP-1271 contract wallets, and the digest it rebuilds is the standard EIP-712 one."""
from __future__ import annotations

import os

from eth_account import Account
from eth_account.messages import encode_typed_data

from ledger_node.audit.rpc import Rpc
from ledger_node.audit.signatures import check_call, check_intents, decode_call, digest
from ledger_node.typed_data import typed_data


def _intent_of_last_redeem(city, run_audit, resident: str) -> dict:
    from ledger_node.audit.events import EventTable
    from ledger_node.audit.replay import Replayer

    rpc = Rpc(city.url)
    table = EventTable(city.addresses)
    replayer = Replayer(city.addresses)
    replayer.process([e for e in map(table.decode, rpc.get_logs(table.addresses, 0, rpc.block_number())) if e])
    (intent,) = [i for i in replayer.intents if i["type"] == "RedemptionConsent" and i["resident"] == resident.lower()]
    return intent


def test_digest_isTheStandardEip712Digest(audit_city):
    c = audit_city.consent(audit_city.residents[0], 123)
    message = {k: c[k] for k in ("resident", "merchant", "credits", "orderRef", "nonce", "deadline")}
    message["parts"] = [{"scheme": s, "points": p, "credits": k} for s, p, k in c["parts"]]
    doc = typed_data("RedemptionConsent", audit_city.w3.eth.chain_id, audit_city["Redemption"].address, message)
    standard = encode_typed_data(full_message=doc)
    m = {"resident": c["resident"].lower(), "merchant": c["merchant"].lower(), "credits": 123,
         "parts": [list(p) for p in c["parts"]],
         "orderRef": "0x" + c["orderRef"].hex(), "nonce": "0x" + c["nonce"].hex(), "deadline": c["deadline"]}
    ours = digest("RedemptionConsent", audit_city.w3.eth.chain_id, audit_city["Redemption"].address.lower(), m)
    assert Account.recover_message(standard, signature=c["signature"]) == c["resident"]
    assert Account._recover_hash(ours, signature=c["signature"]) == c["resident"]
    # the digest binds the plan: another split of the same price is another digest, not the resident's signature
    other = dict(m, parts=[[s, p + 1, k] for s, p, k in m["parts"]])
    forged = digest("RedemptionConsent", audit_city.w3.eth.chain_id, audit_city["Redemption"].address.lower(), other)
    assert forged != ours and Account._recover_hash(forged, signature=c["signature"]) != c["resident"]


def test_checkCall_forgedConsentOfEoa_isSignerMismatch(audit_city, run_audit):
    resident = audit_city.residents[0].address
    intent = _intent_of_last_redeem(audit_city, run_audit, resident)
    rpc = Rpc(audit_city.url)
    tx = rpc.call("eth_getTransactionByHash", [intent["tx"]])
    genuine = decode_call("RedemptionConsent", tx["input"])
    assert check_call(rpc, audit_city.w3.eth.chain_id, intent, genuine, tx["from"].lower()) == []
    # the same consent as a forger would have signed it: same fields, another key
    forger = Account.create()
    forged = dict(genuine, signature=forger.unsafe_sign_hash(
        digest("RedemptionConsent", audit_city.w3.eth.chain_id, intent["contract"], genuine)).signature)
    (p,) = check_call(rpc, audit_city.w3.eth.chain_id, intent, forged, tx["from"].lower())
    assert p.code == "signer-mismatch" and p.kind == "mismatch"
    assert p.evidence["recovered"] == forger.address.lower() and p.evidence["resident"] == resident.lower()
    # a consent for other credits than the event reports is a signed-field mismatch as well
    altered = dict(genuine, credits=genuine["credits"] + 1)
    assert {p.code for p in check_call(rpc, audit_city.w3.eth.chain_id, intent, altered, None)} >= {"signed-field"}


def test_checkCall_contractWallet_acceptsOwnerRejectsOthers(audit_city, run_audit):
    intent = _intent_of_last_redeem(audit_city, run_audit, audit_city.wallet)
    rpc = Rpc(audit_city.url)
    tx = rpc.call("eth_getTransactionByHash", [intent["tx"]])
    genuine = decode_call("RedemptionConsent", tx["input"])
    traces: dict = {}
    assert check_call(rpc, audit_city.w3.eth.chain_id, intent, genuine, tx["from"].lower(), traces=traces) == []
    assert traces[intent["tx"]] is not None  # the wallet's answer inside the transaction, read from its trace
    stranger = Account.create()
    forged = dict(genuine, signature=stranger.unsafe_sign_hash(
        digest("RedemptionConsent", audit_city.w3.eth.chain_id, intent["contract"], genuine)).signature)
    (p,) = check_call(rpc, audit_city.w3.eth.chain_id, intent, forged, tx["from"].lower())
    assert p.code == "signer-mismatch" and p.evidence["recovered"] == stranger.address.lower()


def test_checkIntents_calldataOfAnotherTransaction_isUnverifiable(audit_city, run_audit):
    """An event whose transaction carries no matching call (a replay against a mismatched history)."""
    intent = _intent_of_last_redeem(audit_city, run_audit, audit_city.residents[0].address)
    intent = dict(intent, nonce="0x" + os.urandom(32).hex())
    (p,) = check_intents(Rpc(audit_city.url), audit_city.w3.eth.chain_id, [intent])
    assert p.code == "calldata-not-found"


class _NodeWithoutTracing(Rpc):
    """A node that refuses debug_traceTransaction (as a public port may): the real node for everything else."""

    def call(self, method, params=None):
        if method == "debug_traceTransaction":
            from ledger_node.audit.rpc import RpcError

            raise RpcError(method, {"code": -32601, "message": "method not allowed"})
        return super().call(method, params)


def test_checkCall_contractWallet_withoutTracing_askedAroundTheBlock(audit_city, run_audit):
    """Where the node does not trace (no in-transaction answer to read), the wallet is asked with eth_call around the
    transaction's block: the owner's consent still passes, a stranger's is still refused."""
    intent = _intent_of_last_redeem(audit_city, run_audit, audit_city.wallet)
    untraced = _NodeWithoutTracing(audit_city.url)
    tx = untraced.call("eth_getTransactionByHash", [intent["tx"]])
    genuine = decode_call("RedemptionConsent", tx["input"])
    chain_id = audit_city.w3.eth.chain_id
    assert check_call(untraced, chain_id, intent, genuine, tx["from"].lower()) == []
    stranger = Account.create()
    forged = dict(genuine, signature=stranger.unsafe_sign_hash(
        digest("RedemptionConsent", chain_id, intent["contract"], genuine)).signature)
    (p,) = check_call(untraced, chain_id, intent, forged, tx["from"].lower())
    assert p.code == "signer-mismatch" and p.evidence["recovered"] == stranger.address.lower()
