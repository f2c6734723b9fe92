"""Refunds judged as the contracts that made them: after the resident's key was recovered (the new key is
credited), after the scheme was paused (the points are restored there), and in the event layout of contracts
deployed before `Refunded` named who was credited."""
from __future__ import annotations

from eth_account import Account
from web3 import Web3
from web3.logs import DISCARD

from ledger_node.deploy.system import call

S1 = 1


def _redemption_of(city, resident: str) -> dict:
    redemption = city["Redemption"]
    (event,) = [e for e in redemption.events.Redeemed().get_logs(from_block=0) if e["args"]["resident"] == resident]
    return event["args"]


def _refund(city, r, credits: int):
    parts = [(p["scheme"], p["points"], p["credits"]) for p in r["parts"]]
    receipt = city.send(city.merchant, city["Redemption"].functions.refund(r["redemptionId"], r["resident"],
                                                                          r["merchant"], parts, credits))
    (refunded,) = city["Redemption"].events.Refunded().process_receipt(receipt, errors=DISCARD)
    return refunded["args"]


def test_refundAfterKeyRecovery_creditsTheNewKey_auditsClean(audit_city, run_audit):
    old = audit_city.residents[2].address
    new = Account.create().address
    m = audit_city["Membership"]
    audit_city.send(audit_city.onboarding, m.functions.requestRecovery(old, new))
    audit_city.govern([call(m, "approveRecovery", old)])
    args = _refund(audit_city, _redemption_of(audit_city, old), 500)
    assert args["resident"] == old and args["creditedTo"] == new

    result = run_audit()
    assert result.report["problems"] == [], result.report["problems"]
    assert result.report["state"]["ledger"]["recoveredTo"] == {old.lower(): new.lower()}
    lines = {(x["account"], x["scheme"]) for x in result.report["merkle"]["lines"]}
    assert not any(a == old.lower() for a, _ in lines)  # everything, the refund included, is the new key's


def test_refundInPausedScheme_isRestored_auditsClean(audit_city, run_audit):
    resident = audit_city.residents[0].address
    r = _redemption_of(audit_city, resident)
    ledger = audit_city["PointsLedger"]
    audit_city.govern([call(ledger, "pauseScheme", S1)])
    before = ledger.functions.balanceOf(resident, S1).call()
    args = _refund(audit_city, r, 2_000)
    assert ledger.functions.balanceOf(resident, S1).call() > before

    result = run_audit()
    assert result.report["problems"] == [], result.report["problems"]
    assert result.report["counts"]["eventsByName"]["PointsRestored"] >= 1
    (scheme,) = [s for s in result.report["schemes"] if s["scheme"] == S1]
    assert scheme["status"] == "paused" and scheme["refunded"] > 0
    assert args["credits"] == 2_000


def test_formerRefundedLayout_isDecoded():
    """A chain keeps the contracts it was deployed with: a Refunded log without `creditedTo` still decodes."""
    from eth_abi import encode

    from ledger_node.audit.events import EventTable

    redemption = "0x" + "ab" * 20
    table = EventTable({"Redemption": redemption})
    topic = "0x" + Web3.keccak(text="Refunded(bytes32,address,address,uint256,uint256,"
                                    "(uint256,uint256,uint256)[])").hex().removeprefix("0x")
    rid, resident, merchant = "0x" + "11" * 32, "0x" + "22" * 20, "0x" + "33" * 20
    log = {"address": redemption, "topics": [topic, rid, "0x" + "00" * 12 + resident[2:],
                                             "0x" + "00" * 12 + merchant[2:]],
           "data": "0x" + encode(["uint256", "uint256", "(uint256,uint256,uint256)[]"],
                                 [40, 90, [(1, 400, 40)]]).hex(),
           "blockNumber": "0x5", "transactionHash": "0x" + "44" * 32, "transactionIndex": "0x0", "logIndex": "0x2"}
    ev = table.decode(log)
    assert ev is not None and ev.name == "Refunded"
    assert ev.args == {"redemptionId": rid, "resident": resident, "merchant": merchant, "credits": 40,
                       "refundedTotal": 90, "parts": [[1, 400, 40]]}
