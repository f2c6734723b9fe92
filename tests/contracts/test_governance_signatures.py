"""Consortium.approveBySig: a member's EIP-712 ProposalApproval, submitted by anyone, counts as their approval of
that proposal's calls and nothing else."""
from __future__ import annotations

from eth_account import Account

from ledger_node.deploy.system import call
from ledger_node.typed_data import calls_hash, sign, typed_data

from .conftest import SCHEME
from .helpers import advance_time, expect_revert, now, send, send_impersonated


def _propose(w3, env, member, calls, description="t"):
    receipt = send(w3, member, env.consortium.functions.propose(calls, description))
    return env.consortium.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]


def _two_of_two(w3, env):
    send_impersonated(w3, env.consortium.address, env.consortium.functions.setThresholds(2, 1))


def _signed(w3, env, signer, pid, deadline=None, hash_=None):
    deadline = deadline if deadline is not None else now(w3) + 3600
    hash_ = hash_ if hash_ is not None else env.consortium.functions.proposalCallsHash(pid).call()
    doc = typed_data("ProposalApproval", w3.eth.chain_id, env.consortium.address,
                     {"proposalId": pid, "callsHash": hash_, "deadline": deadline})
    return deadline, sign(signer, doc)


def test_approveBySig_countsTheMembersApprovalSubmittedByAStranger(w3, env):
    _two_of_two(w3, env)
    calls = [call(env.ledger, "setResidentDailyCap", SCHEME, 5)]
    pid = _propose(w3, env, env.operator, calls)
    assert env.consortium.functions.proposalCallsHash(pid).call() == calls_hash(calls)
    deadline, sig = _signed(w3, env, env.member, pid)
    receipt = send(w3, env.stranger, env.consortium.functions.approveBySig(pid, env.member.address, deadline, sig))
    (by_sig,) = env.consortium.events.ProposalApprovedBySig().process_receipt(receipt)
    assert (by_sig["args"]["member"], by_sig["args"]["submitter"], by_sig["args"]["deadline"]) == (
        env.member.address, env.stranger.address, deadline)
    (approved,) = env.consortium.events.ProposalApproved().process_receipt(receipt)
    assert (approved["args"]["member"], approved["args"]["approvals"], approved["args"]["required"]) == (
        env.member.address, 2, 2)
    assert env.consortium.events.ProposalQueued().process_receipt(receipt)  # the second approval queued it
    assert env.consortium.functions.hasApproved(pid, env.member.address).call()
    send(w3, env.operator, env.consortium.functions.execute(pid))
    assert env.ledger.functions.schemeInfo(SCHEME).call()[2] == 5


def test_approveBySig_replayIsRefusedAndCountsOnce(w3, env):
    _two_of_two(w3, env)
    send_impersonated(w3, env.consortium.address, env.consortium.functions.addMember(env.auditor.address))
    send_impersonated(w3, env.consortium.address, env.consortium.functions.setThresholds(3, 1))
    pid = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 5)])
    deadline, sig = _signed(w3, env, env.member, pid)
    fn = env.consortium.functions.approveBySig(pid, env.member.address, deadline, sig)
    send(w3, env.stranger, fn)
    expect_revert(w3, env.relayer, fn, "ConsortiumAlreadyApproved", (pid, env.member.address))
    expect_revert(w3, env.member, env.consortium.functions.approve(pid), "ConsortiumAlreadyApproved")
    assert env.consortium.functions.approvalCount(pid).call() == 2
    assert env.consortium.functions.proposalState(pid).call() == 1  # still pending: 2 of 3


def test_approveBySig_cannotBeMovedToAnotherProposal(w3, env):
    _two_of_two(w3, env)
    first = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 5)])
    second = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 500)])
    deadline, sig = _signed(w3, env, env.member, first)
    expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(second, env.member.address, deadline, sig),
                  "ConsortiumInvalidSignature", (second, env.member.address))
    # same number, other calls (a city deployed afresh at the same address): the signed calls hash differs
    _, stale = _signed(w3, env, env.member, second, deadline, calls_hash([call(env.ledger, "pauseAll")]))
    expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(second, env.member.address, deadline, stale),
                  "ConsortiumInvalidSignature")
    # another deadline than the one signed
    expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(first, env.member.address, deadline + 1,
                                                                          sig), "ConsortiumInvalidSignature")
    assert env.consortium.functions.approvalCount(second).call() == 1
    assert env.consortium.functions.approvalCount(first).call() == 1


def test_approveBySig_refusesExpiredForgedAndNonMember(w3, env):
    _two_of_two(w3, env)
    pid = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 5)])
    deadline, sig = _signed(w3, env, env.member, pid, deadline=now(w3) + 60)
    advance_time(w3, 120)
    args = expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(pid, env.member.address, deadline,
                                                                                 sig), "ConsortiumSignatureExpired")
    assert args[0] == deadline and args[1] > deadline
    deadline, forged = _signed(w3, env, Account.create(), pid)  # someone else's key claims to be the member
    expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(pid, env.member.address, deadline, forged),
                  "ConsortiumInvalidSignature", (pid, env.member.address))
    expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(pid, env.member.address, deadline, b"\x01"),
                  "ConsortiumInvalidSignature")
    outsider = Account.create()
    deadline, own = _signed(w3, env, outsider, pid)  # a valid signature, but not of a member
    expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(pid, outsider.address, deadline, own),
                  "ConsortiumSignerNotMember", (outsider.address,))
    assert env.consortium.functions.approvalCount(pid).call() == 1


def test_approveBySig_refusesClosedOrUnknownProposals(w3, env):
    _two_of_two(w3, env)
    pid = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 5)])
    deadline, sig = _signed(w3, env, env.member, pid)
    send(w3, env.operator, env.consortium.functions.cancel(pid))
    expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(pid, env.member.address, deadline, sig),
                  "ConsortiumProposalNotOpen", (pid, 5))
    expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(pid + 1, env.member.address, deadline, sig),
                  "ConsortiumUnknownProposal", (pid + 1,))


def test_approveBySig_fromARemovedMemberStopsCounting(w3, env):
    _two_of_two(w3, env)
    pid = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 5)])
    deadline, sig = _signed(w3, env, env.member, pid)
    send_impersonated(w3, env.consortium.address, env.consortium.functions.setThresholds(1, 1))
    send_impersonated(w3, env.consortium.address, env.consortium.functions.removeMember(env.member.address))
    expect_revert(w3, env.stranger, env.consortium.functions.approveBySig(pid, env.member.address, deadline, sig),
                  "ConsortiumSignerNotMember")


def test_approvalDigest_isTheEip712HashWalletsSign(w3, env):
    pid = _propose(w3, env, env.operator, [call(env.ledger, "pauseAll")])
    from eth_account.messages import encode_typed_data
    from eth_utils import keccak
    deadline = now(w3) + 10
    doc = typed_data("ProposalApproval", w3.eth.chain_id, env.consortium.address,
                     {"proposalId": pid, "callsHash": env.consortium.functions.proposalCallsHash(pid).call(),
                      "deadline": deadline})
    signable = encode_typed_data(full_message=doc)
    expected = keccak(b"\x19\x01" + signable.header + signable.body)
    assert env.consortium.functions.approvalDigest(pid, deadline).call() == expected
