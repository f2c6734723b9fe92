"""Consortium and Membership unit tests: proposals, thresholds, delays, emergency quorum, residents, recovery."""
from __future__ import annotations

from eth_account import Account

from ledger_node import chain
from ledger_node.deploy.system import call, selector
from ledger_node.typed_data import sign, typed_data

from .conftest import SCHEME
from .helpers import advance_time, expect_revert, identity, ref, send, send_impersonated


def _propose(w3, env, member, calls):
    receipt = send(w3, member, env.consortium.functions.propose(calls, "t"))
    return env.consortium.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]


def _two_of_two(w3, env):
    send_impersonated(w3, env.consortium.address, env.consortium.functions.setThresholds(2, 1))


def test_execute_revertsBelowThreshold(w3, env):
    _two_of_two(w3, env)
    pid = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 5)])
    expect_revert(w3, env.operator, env.consortium.functions.execute(pid), "ConsortiumInsufficientApprovals",
                  (pid, 1, 2))
    send(w3, env.member, env.consortium.functions.approve(pid))
    send(w3, env.operator, env.consortium.functions.execute(pid))
    assert env.ledger.functions.schemeInfo(SCHEME).call()[2] == 5


def test_execute_revertsDuringNoticeDelay(w3, env):
    send_impersonated(w3, env.consortium.address, env.consortium.functions.setCallPolicy(
        env.ledger.address, selector(env.ledger, "setResidentDailyCap"), 3600, False))
    pid = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 5)])
    expect_revert(w3, env.operator, env.consortium.functions.execute(pid), "ConsortiumNoticePending")
    advance_time(w3, 3600)
    send(w3, env.operator, env.consortium.functions.execute(pid))


def test_propose_setCallPolicyWaitsForTheDelayItChanges(w3, env):
    sel = selector(env.ledger, "setResidentDailyCap")
    send_impersonated(w3, env.consortium.address, env.consortium.functions.setCallPolicy(
        env.ledger.address, sel, 3600, False))
    pid = _propose(w3, env, env.operator, [call(env.consortium, "setCallPolicy", env.ledger.address, sel, 0, False)])
    assert env.consortium.functions.noticeDelay(pid).call() == 3600


def test_execute_emergencyPauseNeedsSmallerQuorumButUnpauseFullRule(w3, env):
    _two_of_two(w3, env)  # emergency quorum stays 1
    pid = _propose(w3, env, env.operator, [call(env.ledger, "pauseScheme", SCHEME)])
    send(w3, env.operator, env.consortium.functions.execute(pid))
    assert env.ledger.functions.schemeInfo(SCHEME).call()[0] == 2
    pid = _propose(w3, env, env.operator, [call(env.ledger, "unpauseScheme", SCHEME)])
    expect_revert(w3, env.operator, env.consortium.functions.execute(pid), "ConsortiumInsufficientApprovals")


def test_execute_revertsWithFailingCallAndAppliesNothing(w3, env):
    pid = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 5),
                                           call(env.ledger, "addScheme", SCHEME, 1, 1)])
    expect_revert(w3, env.operator, env.consortium.functions.execute(pid), "ConsortiumCallFailed")
    assert env.ledger.functions.schemeInfo(SCHEME).call()[2] != 5


def test_cancel_byProposerStopsExecution(w3, env):
    _two_of_two(w3, env)
    pid = _propose(w3, env, env.member, [call(env.ledger, "pauseAll")])
    expect_revert(w3, env.operator, env.consortium.functions.cancel(pid), "ConsortiumNotProposer")
    send(w3, env.member, env.consortium.functions.cancel(pid))
    expect_revert(w3, env.operator, env.consortium.functions.execute(pid), "ConsortiumProposalNotOpen", (pid, 5))


def test_execute_revertsWhenExpired(w3, env):
    _two_of_two(w3, env)
    pid = _propose(w3, env, env.operator, [call(env.ledger, "setResidentDailyCap", SCHEME, 5)])
    advance_time(w3, 31 * 86400)
    expect_revert(w3, env.member, env.consortium.functions.approve(pid), "ConsortiumProposalNotOpen", (pid, 6))


def test_removeMember_dropsTheirApprovals(w3, env):
    _two_of_two(w3, env)
    pid = _propose(w3, env, env.member, [call(env.ledger, "setResidentDailyCap", SCHEME, 5)])
    send(w3, env.operator, env.consortium.functions.approve(pid))
    assert env.consortium.functions.approvalCount(pid).call() == 2
    send_impersonated(w3, env.consortium.address, env.consortium.functions.setThresholds(1, 1))
    send_impersonated(w3, env.consortium.address, env.consortium.functions.removeMember(env.member.address))
    assert env.consortium.functions.approvalCount(pid).call() == 1


def test_removeMember_revertsWhenThresholdUnreachable(w3, env):
    _two_of_two(w3, env)
    expect_revert(w3, env.consortium.address, env.consortium.functions.removeMember(env.member.address),
                  "ConsortiumInvalidThreshold")


def test_registerResident_revertsWhenIdentityTaken(w3, env):
    taken = identity(env.residents[0].address)
    expect_revert(w3, env.onboarding, env.membership.functions.registerResident(Account.create().address, taken),
                  "MembershipIdentityTaken", (taken, env.residents[0].address))


def test_registerResident_revertsForRoleHolder(w3, env):
    expect_revert(w3, env.onboarding, env.membership.functions.registerResident(env.merchant.address, identity("m")),
                  "MembershipAccountHoldsRole")


def test_completeRecovery_movesRegistrationAndBalancesAfterNotice(w3, env):
    old, new = env.residents[0].address, Account.create().address
    send(w3, env.issuer, env.ledger.functions.issue(SCHEME, old, 70, ref(1)))
    send(w3, env.onboarding, env.membership.functions.requestRecovery(old, new))
    expect_revert(w3, env.onboarding, env.membership.functions.completeRecovery(old), "MembershipRecoveryNoticePending")
    advance_time(w3, 3 * 86400)
    receipt = send(w3, env.onboarding, env.membership.functions.completeRecovery(old))
    moved = env.ledger.events.AccountMoved().process_receipt(receipt)
    assert [(e["args"]["scheme"], e["args"]["balance"]) for e in moved] == [(SCHEME, 70)]
    m = env.membership.functions
    assert (m.isResident(old).call(), m.isResident(new).call()) == (False, True)
    assert env.ledger.functions.balanceOf(new, SCHEME).call() == 70
    assert env.ledger.functions.balanceOf(old, SCHEME).call() == 0
    expect_revert(w3, env.issuer, env.ledger.functions.issue(SCHEME, old, 1, ref(2)), "PointsLedgerNotResident")


def test_objectToRecovery_byOldKeyDropsIt(w3, env):
    old = env.residents[0]
    send(w3, env.onboarding, env.membership.functions.requestRecovery(old.address, Account.create().address))
    chain.fund(w3, env.operator, [old.address], 10**18)
    send(w3, old, env.membership.functions.objectToRecovery())
    advance_time(w3, 3 * 86400)
    expect_revert(w3, env.onboarding, env.membership.functions.completeRecovery(old.address), "MembershipNoRecovery")


def test_transactingAccounts_listsEveryNonResidentSender(w3, env):
    listed = set(env.membership.functions.transactingAccounts().call())
    expected = {a.address for a in (env.operator, env.member, env.issuer, env.issuer_b, env.other_issuer,
                                    env.merchant, env.auditor, env.onboarding, env.relayer, env.ops)}
    assert listed == expected
    send_impersonated(w3, env.consortium.address, env.membership.functions.setMerchantSuspended(
        env.merchant.address, True))
    assert env.merchant.address not in env.membership.functions.transactingAccounts().call()
    assert not env.membership.functions.isMerchantActive(env.merchant.address).call()


def _objection(w3, env, old, new: str, nonce: int, deadline: int | None = None):
    """The old key's signed RecoveryObjection for request `nonce`, as a wallet signs it, ready to submit."""
    deadline = deadline if deadline is not None else w3.eth.get_block("latest")["timestamp"] + 86400
    message = {"account": old.address, "newAccount": new, "nonce": nonce, "deadline": deadline}
    signature = sign(old, typed_data("RecoveryObjection", w3.eth.chain_id, env.membership.address, message))
    return env.membership.functions.objectToRecoveryBySig(old.address, new, nonce, deadline, signature)


def test_objectToRecoveryBySig_cannotBeReplayedAgainstALaterRecovery(w3, env):
    m = env.membership.functions
    old, new = env.residents[0], Account.create().address
    receipt = send(w3, env.onboarding, m.requestRecovery(old.address, new))
    (requested,) = env.membership.events.RecoveryRequested().process_receipt(receipt)
    first = requested["args"]["nonce"]
    assert m.pendingRecovery(old.address).call()[2] == first
    objection = _objection(w3, env, old, new, first)
    receipt = send(w3, env.stranger, objection)  # anyone may submit the old key's signature
    assert env.membership.events.RecoveryObjected().process_receipt(receipt)[0]["args"]["account"] == old.address
    # the same request again (same old key, same new key): a new nonce, and the old signature is refused
    send(w3, env.onboarding, m.requestRecovery(old.address, new))
    second = m.pendingRecovery(old.address).call()[2]
    assert second > first
    expect_revert(w3, env.stranger, objection, "MembershipRecoveryNonceMismatch", (old.address, second, first))
    assert m.pendingRecovery(old.address).call()[0] == new  # still pending
    advance_time(w3, 3 * 86400)
    send(w3, env.onboarding, m.completeRecovery(old.address))
    assert m.isResident(new).call() and not m.isResident(old.address).call()


def test_objectToRecoveryBySig_refusesAForgedOrExpiredObjection(w3, env):
    m = env.membership.functions
    old, new = env.residents[1], Account.create().address
    send(w3, env.onboarding, m.requestRecovery(old.address, new))
    nonce = m.pendingRecovery(old.address).call()[2]
    deadline = w3.eth.get_block("latest")["timestamp"] + 60
    message = {"account": old.address, "newAccount": new, "nonce": nonce, "deadline": deadline}
    forged = sign(Account.create(), typed_data("RecoveryObjection", w3.eth.chain_id, env.membership.address, message))
    expect_revert(w3, env.stranger, m.objectToRecoveryBySig(old.address, new, nonce, deadline, forged),
                  "MembershipInvalidSignature")
    expired = _objection(w3, env, old, new, nonce, deadline)
    advance_time(w3, 120)
    expect_revert(w3, env.stranger, expired, "MembershipSignatureExpired")
    assert m.pendingRecovery(old.address).call()[0] == new


def test_recoveredKey_isRetiredAndMapsToTheCurrentKey(w3, env):
    m = env.membership.functions
    old, mid, new = env.residents[2].address, Account.create().address, Account.create().address
    for a, b in ((old, mid), (mid, new)):
        send(w3, env.onboarding, m.requestRecovery(a, b))
        advance_time(w3, 3 * 86400)
        send(w3, env.onboarding, m.completeRecovery(a))
    assert (m.currentAccountOf(old).call(), m.currentAccountOf(mid).call(), m.currentAccountOf(new).call()) == (
        new, new, new)
    stranger = Account.create().address
    assert m.currentAccountOf(stranger).call() == stranger
    expect_revert(w3, env.onboarding, m.registerResident(old, identity("reuse")), "MembershipAccountRecovered", (old,))
    expect_revert(w3, env.onboarding, m.requestRecovery(new, mid), "MembershipAccountRecovered", (mid,))
