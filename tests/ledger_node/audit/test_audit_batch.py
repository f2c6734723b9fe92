"""A relayer's batch of redemptions (Redemption.redeemMany) audits as the same redemptions one by one would: each
consent's signature is found in the batch's calldata and checked (an EIP-1271 wallet's too), the submitter is the
batch's caller, and a consent the contract skipped is no redemption at all."""
from __future__ import annotations

from eth_account import Account

from ledger_node.audit.rpc import Rpc
from ledger_node.audit.signatures import check_call, check_intents, decode_calls, digest

S1, S2 = 1, 2  # the audit city's schemes (conftest)


def _batch(city, consents):
    return city.contracts["Redemption"].functions.redeemMany([
        ((c["resident"], c["merchant"], c["credits"], c["parts"], c["orderRef"], c["nonce"], c["deadline"]),
         c["signature"]) for c in consents])


def _intents(city, tx_hash: str) -> list[dict]:
    from ledger_node.audit.events import EventTable
    from ledger_node.audit.replay import Replayer

    rpc = Rpc(city.url)
    table = EventTable(city.addresses)
    replayer = Replayer(city.addresses)
    replayer.process([e for e in map(table.decode, rpc.get_logs(table.addresses, 0, rpc.block_number())) if e])
    return [i for i in replayer.intents if i["tx"] == tx_hash]


def test_aBatchOfRedemptions_auditsClean_eachSignatureCheckedFromTheBatchsCalldata(audit_city, run_audit):
    city = audit_city
    good = [city.consent(city.residents[3], 500), city.consent(city.wallet, 300, signer=city.wallet_owner)]
    forged = city.consent(city.residents[4], 400, signer=Account.create())  # skipped by the contract
    receipt = city.send(city.relayer, _batch(city, [good[0], forged, good[1]]))
    tx = receipt["transactionHash"].to_0x_hex()
    intents = _intents(city, tx)
    assert sorted(i["resident"] for i in intents) == sorted(c["resident"].lower() for c in good)
    rpc = Rpc(city.url)
    assert len(decode_calls("RedemptionConsent", rpc.call("eth_getTransactionByHash", [tx])["input"])) == 3
    assert check_intents(rpc, city.w3.eth.chain_id, intents) == []
    result = run_audit()
    assert result.problems == [], [p.code for p in result.problems]


def test_aBatchedConsentWhoseSignatureIsNotTheResidents_isASignerMismatch(audit_city):
    """The auditor reads the batch's calldata, not the event: a batch whose consent (as the event reports it) was
    signed by someone else is caught, as a single redemption's is."""
    city = audit_city
    c = city.consent(city.residents[3], 500)
    receipt = city.send(city.relayer, _batch(city, [c]))
    tx = receipt["transactionHash"].to_0x_hex()
    (intent,) = _intents(city, tx)
    rpc = Rpc(city.url)
    (m,) = decode_calls("RedemptionConsent", rpc.call("eth_getTransactionByHash", [tx])["input"])
    forger = Account.create()
    forged = dict(m, signature=forger.unsafe_sign_hash(
        digest("RedemptionConsent", city.w3.eth.chain_id, intent["contract"], m)).signature)
    (p,) = check_call(rpc, city.w3.eth.chain_id, intent, forged, receipt["from"].lower())
    assert p.code == "signer-mismatch"


def test_aBatchOfExchanges_auditsClean_eachSignatureCheckedFromTheBatchsCalldata(audit_city, run_audit):
    """Exchange.exchangeMany, as the API's relayer sends it: each intent's signature is found in the batch's calldata;
    an intent the contract skipped (signed by someone else) is no exchange at all."""
    city = audit_city
    good = [city.intent(city.residents[1], S1, S2, 10), city.intent(city.residents[2], S1, S2, 10)]
    forged = city.intent(city.residents[3], S1, S2, 10, signer=Account.create())
    receipt = city.send(city.relayer, city.contracts["Exchange"].functions.exchangeMany([good[0], forged, good[1]]))
    tx = receipt["transactionHash"].to_0x_hex()
    intents = _intents(city, tx)
    assert sorted(i["resident"] for i in intents) == sorted(g[0].lower() for g in good)
    rpc = Rpc(city.url)
    assert len(decode_calls("ExchangeIntent", rpc.call("eth_getTransactionByHash", [tx])["input"])) == 3
    assert check_intents(rpc, city.w3.eth.chain_id, intents) == []
    result = run_audit()
    assert result.problems == [], [p.code for p in result.problems]
