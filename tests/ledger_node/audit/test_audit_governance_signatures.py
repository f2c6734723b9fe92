"""The audit takes a member's signed approval (Consortium.approveBySig, submitted by someone else) as that member's
approval, judged against the members in force then, and checks the signature itself."""
from __future__ import annotations

import time

from eth_account import Account

from ledger_node.audit.signatures import check_call, decode_call
from ledger_node.deploy.system import call
from ledger_node.typed_data import sign, typed_data

S1 = 1


def _two_of_two(city):
    """A second member and M = 2, through governance (so the audit sees every step)."""
    member = Account.create()
    consortium = city["Consortium"]
    city.govern([call(consortium, "addMember", member.address), call(consortium, "setThresholds", 2, 1)])
    return member


def _signed_approval(city, member, pid, deadline):
    consortium = city["Consortium"]
    doc = typed_data("ProposalApproval", city.w3.eth.chain_id, consortium.address,
                     {"proposalId": pid, "callsHash": consortium.functions.proposalCallsHash(pid).call(),
                      "deadline": deadline})
    return sign(member, doc)


def test_audit_signedApprovalByASecondMember_auditsClean(audit_city, run_audit):
    member = _two_of_two(audit_city)
    consortium, ledger = audit_city["Consortium"], audit_city["PointsLedger"]
    receipt = audit_city.send(audit_city.operator, consortium.functions.propose(
        [call(ledger, "setResidentDailyCap", S1, 77)], "cap by signature"))
    pid = consortium.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]
    deadline = int(time.time()) + 3600
    sig = _signed_approval(audit_city, member, pid, deadline)
    # the relayer submits it: neither a member nor the signer
    audit_city.send(audit_city.relayer, consortium.functions.approveBySig(pid, member.address, deadline, sig))
    audit_city.send(audit_city.operator, consortium.functions.execute(pid))
    assert ledger.functions.schemeInfo(S1).call()[2] == 77
    result = run_audit()
    assert result.report["problems"] == [], result.report["problems"]
    assert result.report["counts"]["intentsChecked"] == 6  # the city's five, and this approval


def test_audit_signatureCheck_catchesAnApprovalTheMemberNeverSigned(audit_city):
    """What the auditor does when a node or a changed contract let an approval in that the member did not sign:
    the digest rebuilt from the proposal's calls recovers someone else."""
    member = _two_of_two(audit_city)
    consortium = audit_city["Consortium"]
    receipt = audit_city.send(audit_city.operator, consortium.functions.propose(
        [call(audit_city["PointsLedger"], "setResidentDailyCap", S1, 78)], "x"))
    pid = consortium.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]
    deadline = int(time.time()) + 3600
    forged = _signed_approval(audit_city, Account.create(), pid, deadline)
    data = consortium.functions.approveBySig(pid, member.address, deadline, forged)._encode_transaction_data()
    intent = {"type": "ProposalApproval", "contract": consortium.address.lower(), "tx": "0x" + "00" * 32, "block": 1,
              "resident": member.address.lower(), "nonce": pid, "deadline": deadline, "timestamp": deadline - 10,
              "callsHash": "0x" + consortium.functions.proposalCallsHash(pid).call().hex()}
    m = decode_call("ProposalApproval", data)
    problems = check_call(_NoTrace(), audit_city.w3.eth.chain_id, intent, m, audit_city.relayer.address.lower())
    assert [p.code for p in problems] == ["signer-mismatch"]
    genuine = _signed_approval(audit_city, member, pid, deadline)
    m = decode_call("ProposalApproval", consortium.functions.approveBySig(pid, member.address, deadline, genuine)
                    ._encode_transaction_data())
    assert check_call(_NoTrace(), audit_city.w3.eth.chain_id, intent, m, None) == []


class _NoTrace:
    """An RPC that neither traces nor answers eth_call: only the ECDSA recovery decides."""

    def call(self, method, params):
        from ledger_node.audit.rpc import RpcError
        raise RpcError(method, {"message": "not served"})
