"""The auditor's replay on a small city: clean when nothing is wrong; tampering caught and reported precisely."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from ledger_node.audit.cli import app
from ledger_node.domain import ROLES

S1, S2 = 1, 2


def codes(result) -> set[str]:
    return {p["code"] for p in result.report["problems"]}


def test_audit_cleanCityAuditsClean(audit_city, run_audit):
    result = run_audit()
    assert result.report["problems"] == [], result.report["problems"]
    assert result.report["ok"] and result.report["status"] == "clean"
    counts = result.report["counts"]
    assert counts["eventsByName"]["Redeemed"] == 3 and counts["eventsByName"]["Exchanged"] == 1
    assert counts["intentsChecked"] == 5  # 3 consents (one by an EIP-1271 wallet), 1 intent, 1 preferred order
    assert counts["comparisons"] > 50
    schemes = {s["scheme"]: s for s in result.report["schemes"]}
    ledger = audit_city["PointsLedger"]
    assert schemes[S1]["totalSupply"] == ledger.functions.totalSupply(S1).call()
    assert schemes[S1]["issued"] == 7 * 500 and schemes[S2]["issued"] == 4 * 500
    lines = {(x["account"], x["scheme"]): x["balance"] for x in result.report["merkle"]["lines"]}
    r0 = audit_city.residents[0].address
    assert lines[(r0.lower(), S2)] == ledger.functions.balanceOf(r0, S2).call()


def test_audit_cli_exitsZeroWhenClean(audit_city, tmp_path):
    out = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["--rpc", audit_city.url, "--out", str(out), "--json",
                                   *[f"--contract={k}={v}" for k, v in audit_city.addresses.items()]])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["status"] == "clean"


def test_audit_tamperedBalance_isMismatchAndExitsNonZero(audit_city, tamper, tmp_path):
    victim = audit_city.residents[3].address
    slot = tamper.slot("PointsLedger", "_holders", S1, victim)
    tamper.write("PointsLedger", slot, tamper.read("PointsLedger", slot) + 1_000)  # 1,000 points from nowhere
    out = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["--rpc", audit_city.url, "--out", str(out),
                                   *[f"--contract={k}={v}" for k, v in audit_city.addresses.items()]])
    assert res.exit_code == 1, res.output
    problems = json.loads(out.read_text())["problems"]
    balance = [p for p in problems if p["code"] == "balance-mismatch"]
    assert len(balance) == 1, problems
    assert balance[0]["evidence"] == {"contract": "PointsLedger", "account": victim.lower(), "scheme": S1,
                                      "chain": 1_500, "rebuilt": 500}


def test_audit_tamperedBalance_caughtAtTheNextEventThatCarriesIt(audit_city, tamper, run_audit):
    victim = audit_city.residents[3].address
    slot = tamper.slot("PointsLedger", "_holders", S1, victim)
    tamper.write("PointsLedger", slot, tamper.read("PointsLedger", slot) + 1_000)
    receipt = audit_city.issue(audit_city.issuer1, S1, [victim], 10, "after-tamper")
    result = run_audit()
    at_point = [p for p in result.problems if p.code == "balance-after"]
    assert at_point and at_point[0].block == receipt["blockNumber"]
    assert at_point[0].evidence["event"] == 1_510 and at_point[0].evidence["rebuilt"] == 510
    assert "total-supply-after" not in codes(result)  # the supply slot was not touched: only the holder's word


def test_audit_tamperedPosition_isMismatch(audit_city, tamper, run_audit):
    merchant = audit_city.merchant.address
    # period 1's positions of schemes 1-4 share a word, 64 bits each: scheme S1's lane
    slot = tamper.slot("Clearing", "_merchantPos", 1, merchant, (S1 - 1) // 4)
    tamper.write("Clearing", slot, tamper.read("Clearing", slot) + (777 << 64 * ((S1 - 1) % 4)))
    result = run_audit()
    assert not result.report["ok"]
    (p,) = [p for p in result.problems if p.evidence.get("call") == "merchantPosition(uint256,uint256,address)"]
    assert p.evidence["chain"] - p.evidence["rebuilt"] == 777


def test_audit_clearedNonceFlag_isMismatch(audit_city, tamper, run_audit):
    """A redemption's record reset on chain (the word that also marks its nonce used) would let the merchant replay
    the resident's consent."""
    from ledger_node.domain import redemption_id

    resident = audit_city.residents[0].address
    rid = redemption_id(resident, audit_city.redemption_nonce)
    slot = tamper.slot("Redemption", "_intents", bytes.fromhex(rid[2:]))
    assert tamper.read("Redemption", slot) != 0
    tamper.write("Redemption", slot, 0)
    result = run_audit()
    (p,) = [p for p in result.problems if p.evidence.get("call") == "nonceUsed(address,bytes32)"]
    assert p.evidence["chain"] is False and p.evidence["rebuilt"] is True
    assert p.evidence["args"][0] == resident.lower()
    (p,) = [p for p in result.problems if p.evidence.get("call") == "redemption(bytes32)"]
    assert p.evidence["args"][0] == rid


def test_audit_nonceSpentAgainAfterItsRecordWasCleared_isNonceReused(audit_city, tamper, run_audit):
    """With the record (the word that marks the nonce used) cleared, the chain takes a consent with the same nonce
    again: no NonceUsed is emitted any more, the audit sees the second Redeemed spend the nonce a second time."""
    from ledger_node.domain import redemption_id

    resident = audit_city.residents[0]
    rid = redemption_id(resident.address, audit_city.redemption_nonce)
    tamper.write("Redemption", tamper.slot("Redemption", "_intents", bytes.fromhex(rid[2:])), 0)
    receipt = audit_city.redeem(audit_city.consent(resident, 500, nonce=audit_city.redemption_nonce))
    result = run_audit()
    reused = [p for p in result.problems if p.code == "nonce-reused"]
    assert reused and reused[0].block == receipt["blockNumber"]
    assert "redemption-twice" in codes(result)


def test_audit_exchangeNonceBelowItsWindow_takenAfterTheUsageWordWasWrittenBack_isCaught(audit_city, tamper,
                                                                                          run_audit):
    """Exchange takes a nonce at most 64 below the highest its resident used. With the resident's usage word written
    back (highest and window cleared), the chain takes a nonce far below one used: the replay, which holds the
    highest, reports it, and the state check finds the chain's nextNonce behind the one rebuilt."""
    resident = audit_city.residents[1]  # its exchange of the city took nonce 1
    audit_city.exchange(resident, S1, S2, 10, nonce=70)
    tamper.write("Exchange", tamper.slot("Exchange", "_usage", resident.address), 0)
    receipt = audit_city.exchange(resident, S1, S2, 10, nonce=2)
    result = run_audit()
    (below,) = [p for p in result.problems if p.code == "nonce-below-window"]
    assert below.block == receipt["blockNumber"] and below.evidence["highest"] == 70
    (p,) = [p for p in result.problems if p.evidence.get("call") == "nextNonce(address)"]
    assert (p.evidence["chain"], p.evidence["rebuilt"]) == (3, 71)


def test_audit_exchangeNoncesOfTheCity_inTheirWindow_auditClean(audit_city, run_audit):
    """Nonces used out of order within the window are the rule, not a problem; nextNonce is compared."""
    resident = audit_city.residents[1]
    for n in (40, 9, 39):
        audit_city.exchange(resident, S1, S2, 10, nonce=n)
    result = run_audit()
    assert result.report["ok"] and result.report["status"] == "clean", codes(result)


def test_audit_roleWrittenBehindGovernance_caughtWhenUsed(audit_city, tamper, run_audit):
    """A relayer role written into storage (no RoleGranted, no proposal) is invisible to the events; the moment
    the account uses it, the audit sees a redemption submitted by neither the merchant nor a relayer."""
    from eth_abi import encode
    from eth_account import Account
    from web3 import Web3

    from ledger_node import chain

    stranger = Account.create()
    chain.fund(audit_city.w3, audit_city.operator, [stranger.address], 10**20)
    role = bytes.fromhex(ROLES["RELAYER"][2:])
    base = tamper.slot("Membership", "_roles", role)  # RoleData: hasRole mapping first
    slot = int.from_bytes(Web3.keccak(encode(["address", "uint256"], [stranger.address, base])), "big")
    tamper.write("Membership", slot, 1)
    assert audit_city["Membership"].functions.hasRole(role, stranger.address).call()
    c = audit_city.consent(audit_city.residents[4], 100)
    consent = (c["resident"], c["merchant"], c["credits"], c["parts"], c["orderRef"], c["nonce"], c["deadline"])
    receipt = chain.transact(audit_city.w3, stranger, audit_city["Redemption"].functions.redeem(consent,
                                                                                               c["signature"]))
    result = run_audit()
    (p,) = [p for p in result.problems if p.code == "redeem-submitter"]
    assert p.kind == "violation" and p.block == receipt["blockNumber"] and stranger.address.lower() in p.message
