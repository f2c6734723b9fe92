"""Role matrix: every state-changing function of Consortium, Membership and PointsLedger x every role.

The rows are checked against the ABIs: a non-view function without a row fails the test. Each cell is an
eth_call from the role's address: permitted roles must pass the access check (succeed, or fail only with a
listed state error), every other role must revert with the row's named custom error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest
from eth_account import Account

from ledger_node import chain
from ledger_node.compiler import load_artifact
from ledger_node.deploy.system import call
from ledger_node.typed_data import sign, typed_data

from .conftest import OTHER_SCHEME, SCHEME
from .helpers import identity, ref, simulate_error

ROLES = ["consortium", "member", "issuer", "other_issuer", "merchant", "resident", "auditor", "onboarding",
         "relayer", "ops", "ledger_operator", "stranger"]


@dataclass
class Row:
    args: Callable  # (ctx) -> list of call arguments
    permitted: set[str]
    error: str  # custom error every other role gets
    ok_errors: set[str] = field(default_factory=set)  # state errors a permitted role may still get


@dataclass
class Ctx:
    env: object
    w3: object
    open_proposal: int
    operator_proposal: int
    fresh: str
    recovering: object  # resident with a pending recovery (the "resident" role)
    recovery_target: str
    objection_sig: bytes
    objection_deadline: int
    objection_nonce: int
    approval_sig: bytes
    approval_deadline: int


def _addr(env, role: str) -> str:
    if role == "consortium":
        return env.consortium.address
    if role == "member":
        return env.member.address
    if role == "resident":
        return env.residents[0].address
    return getattr(env, role).address


GOV = {"consortium"}
MEMBERS = {"member"}  # env.operator is also a member; "member" is the second one

CONSORTIUM_ROWS = {
    "propose": Row(lambda c: [[(c.env.consortium.address, call(c.env.consortium, "setProposalLifetime", 86400)[1])], "x"],
                   MEMBERS, "ConsortiumNotMember"),
    "approve": Row(lambda c: [c.operator_proposal], MEMBERS, "ConsortiumNotMember"),
    # anyone may submit a member's signed approval: the signature is the authority
    "approveBySig": Row(lambda c: [c.operator_proposal, c.env.member.address, c.approval_deadline, c.approval_sig],
                        set(ROLES), ""),
    "queue": Row(lambda c: [c.open_proposal], MEMBERS, "ConsortiumNotMember", {"ConsortiumAlreadyQueued"}),
    "execute": Row(lambda c: [c.open_proposal], MEMBERS, "ConsortiumNotMember"),
    "cancel": Row(lambda c: [c.open_proposal], MEMBERS, "ConsortiumNotMember"),
    "cancelByGovernance": Row(lambda c: [c.open_proposal], GOV, "ConsortiumOnlySelf"),
    "addMember": Row(lambda c: [c.fresh], GOV, "ConsortiumOnlySelf"),
    "removeMember": Row(lambda c: [c.env.member.address], GOV, "ConsortiumOnlySelf"),
    "setThresholds": Row(lambda c: [1, 1], GOV, "ConsortiumOnlySelf"),
    "setCallPolicy": Row(lambda c: [c.env.ledger.address, b"\x12\x34\x56\x78", 60, False], GOV, "ConsortiumOnlySelf"),
    "setProposalLifetime": Row(lambda c: [3600], GOV, "ConsortiumOnlySelf"),
}

G = "ConsortiumGovernedUnauthorized"
MEMBERSHIP_ROWS = {
    "registerResident": Row(lambda c: [c.fresh, identity("matrix-new")], {"onboarding"}, "MembershipUnauthorized"),
    "registerResidents": Row(lambda c: [[c.fresh], [identity("matrix-new")]], {"onboarding"}, "MembershipUnauthorized"),
    "requestRecovery": Row(lambda c: [c.env.residents[1].address, c.fresh], {"onboarding"}, "MembershipUnauthorized"),
    "objectToRecovery": Row(lambda c: [], {"resident"}, "MembershipNoRecovery"),
    "objectToRecoveryBySig": Row(lambda c: [c.recovering.address, c.recovery_target, c.objection_nonce,
                                            c.objection_deadline, c.objection_sig], set(ROLES), ""),
    "completeRecovery": Row(lambda c: [c.recovering.address], {"onboarding"}, "MembershipUnauthorized",
                            {"MembershipRecoveryNoticePending"}),
    "approveRecovery": Row(lambda c: [c.recovering.address], GOV, G),
    "cancelRecovery": Row(lambda c: [c.recovering.address], GOV | {"onboarding"}, "MembershipUnauthorized"),
    "registerMerchant": Row(lambda c: [c.fresh], GOV, G),
    "setMerchantSuspended": Row(lambda c: [c.env.merchant.address, True], GOV, G),
    "removeMerchant": Row(lambda c: [c.env.merchant.address], GOV, G),
    "setIssuerAccounts": Row(lambda c: [3, [c.fresh]], GOV, G),
    "setRecoveryNotice": Row(lambda c: [60], GOV, G),
    "setPointsLedger": Row(lambda c: [c.fresh], GOV, G, {"MembershipLedgerAlreadySet"}),
    "grantRole": Row(lambda c: [c.env.membership.functions.AUDITOR_ROLE().call(), c.fresh], GOV, G),
    "revokeRole": Row(lambda c: [c.env.membership.functions.AUDITOR_ROLE().call(), c.env.auditor.address], GOV, G),
    "renounceRole": Row(lambda c: [c.env.membership.functions.AUDITOR_ROLE().call(), c.env.auditor.address], set(),
                        "MembershipRenounceDisabled"),
}

ISSUER = {"issuer"}
LEDGER_ROWS = {
    "issue": Row(lambda c: [SCHEME, c.env.residents[2].address, 5, ref("m1")], ISSUER, "PointsLedgerNotIssuer"),
    "issueWithReason": Row(lambda c: [SCHEME, c.env.residents[2].address, 5, ref("m2"), 7], ISSUER,
                           "PointsLedgerNotIssuer"),
    "issueBatch": Row(lambda c: [SCHEME, [c.env.residents[2].address], [5], [ref("m3")]], ISSUER,
                      "PointsLedgerNotIssuer"),
    "issueBatchWithReason": Row(lambda c: [SCHEME, [c.env.residents[2].address], [5], [ref("m4")], [7]], ISSUER,
                                "PointsLedgerNotIssuer"),
    # the contract city publishes no rules: the issuer passes the role check and meets the citation check
    "issueBatchCitingRules": Row(lambda c: [SCHEME, 1, [c.env.residents[2].address], [5], [ref("m9")], [7]], ISSUER,
                                 "PointsLedgerNotIssuer", {"PointsLedgerRulesNotPublished"}),
    "revoke": Row(lambda c: [SCHEME, c.env.residents[2].address, 5, ref("m5"), 9], ISSUER, "PointsLedgerNotIssuer"),
    "issueToIdentities": Row(lambda c: [SCHEME, 0, [identity("not-joined")], [5], [ref("m9")], []], ISSUER,
                             "PointsLedgerNotIssuer"),
    # the value contracts' operator functions (value units, a rate of 10 cents a point x 1e6)
    "mintValue": Row(lambda c: [SCHEME, c.env.residents[2].address, 5 * 10**7, 10**7, ref("m6")],
                     {"ledger_operator"}, "PointsLedgerNotLedgerOperator"),
    "restoreValue": Row(lambda c: [SCHEME, c.env.residents[2].address, 5 * 10**7 + 3, 10**7, ref("m8")],
                        {"ledger_operator"}, "PointsLedgerNotLedgerOperator"),
    "spend": Row(lambda c: [SCHEME, c.env.residents[2].address, 5, 10**7, 45 * 10**6, ref("m7")],
                 {"ledger_operator"}, "PointsLedgerNotLedgerOperator"),
    "moveAccount": Row(lambda c: [c.env.residents[2].address, c.fresh], set(), "PointsLedgerNotMembership"),
    "claimHolding": Row(lambda c: [identity("not-joined"), c.fresh], set(), "PointsLedgerNotMembership"),
    "addScheme": Row(lambda c: [9, 10, 10], GOV, G),
    "pauseScheme": Row(lambda c: [SCHEME], GOV, G),
    "unpauseScheme": Row(lambda c: [SCHEME], GOV, G, {"PointsLedgerInvalidTransition"}),
    "retireScheme": Row(lambda c: [OTHER_SCHEME], GOV, G),
    "setIssuerDailyQuota": Row(lambda c: [SCHEME, 10], GOV, G),
    "setResidentDailyCap": Row(lambda c: [SCHEME, 10], GOV, G),
    # the session's schemes hold points: setting an expiry is refused for that, after the access check
    "setExpiry": Row(lambda c: [SCHEME, 12], GOV, G, {"PointsLedgerExpiryNeedsEmptyScheme"}),
    "pauseAll": Row(lambda c: [], GOV, G),
    "unpauseAll": Row(lambda c: [], GOV, G, {"PointsLedgerPauseUnchanged"}),
    "setDayOffset": Row(lambda c: [3600], GOV, G),
    "setURI": Row(lambda c: ["https://x/{id}"], GOV, G),
    "setSchemeRegistry": Row(lambda c: [c.fresh], GOV, G),
    "safeTransferFrom": Row(lambda c: [c.env.residents[2].address, c.fresh, SCHEME, 1, b""], set(),
                            "PointsLedgerNonTransferable"),
    "safeBatchTransferFrom": Row(lambda c: [c.env.residents[2].address, c.fresh, [SCHEME], [1], b""], set(),
                                 "PointsLedgerNonTransferable"),
    "setApprovalForAll": Row(lambda c: [c.fresh, True], set(), "PointsLedgerNonTransferable"),
}

TABLES = {"Consortium": CONSORTIUM_ROWS, "Membership": MEMBERSHIP_ROWS, "PointsLedger": LEDGER_ROWS}


def _state_changing(name: str) -> set[str]:
    abi = load_artifact(name)["abi"]
    return {i["name"] for i in abi if i["type"] == "function" and i["stateMutability"] not in ("view", "pure")} | {
        i["name"] for i in abi if i["type"] == "function" and i["stateMutability"] == "pure"
        and not i["outputs"]}  # pure functions without outputs exist only to revert (disabled transfers)


@pytest.fixture
def ctx(w3, env) -> Ctx:
    # an open proposal by the second member (so "member" is its proposer), ready to execute
    receipt = chain.transact(w3, env.member, env.consortium.functions.propose(
        [call(env.consortium, "setProposalLifetime", 86400)], "matrix"))
    proposal = env.consortium.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]
    receipt = chain.transact(w3, env.operator, env.consortium.functions.propose(
        [call(env.consortium, "setProposalLifetime", 7200)], "matrix 2"))
    operator_proposal = env.consortium.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]
    chain.transact(w3, env.issuer, env.ledger.functions.issue(SCHEME, env.residents[2].address, 50, ref("seed")))
    recovering, target = env.residents[0], Account.create()
    chain.transact(w3, env.onboarding, env.membership.functions.requestRecovery(recovering.address, target.address))
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600
    nonce = env.membership.functions.pendingRecovery(recovering.address).call()[2]
    sig = sign(recovering, typed_data("RecoveryObjection", w3.eth.chain_id, env.membership.address,
                                      {"account": recovering.address, "newAccount": target.address, "nonce": nonce,
                                       "deadline": deadline}))
    approval = sign(env.member, typed_data("ProposalApproval", w3.eth.chain_id, env.consortium.address,
                                           {"proposalId": operator_proposal, "deadline": deadline, "callsHash":
                                            env.consortium.functions.proposalCallsHash(operator_proposal).call()}))
    return Ctx(env, w3, proposal, operator_proposal, Account.create().address, recovering, target.address, sig,
               deadline, nonce, approval, deadline)


@pytest.mark.parametrize("contract", sorted(TABLES))
def test_roleMatrix_onlyPermittedRolesPass(ctx, contract):
    rows = TABLES[contract]
    functions = _state_changing(contract)
    assert functions == set(rows), f"rows missing: {functions - set(rows)}, stale rows: {set(rows) - functions}"
    bound = {"Consortium": ctx.env.consortium, "Membership": ctx.env.membership, "PointsLedger": ctx.env.ledger}[contract]
    problems = matrix_problems(ctx.w3, ctx.env, bound, rows, ctx)
    assert not problems, "\n".join(problems)


def matrix_problems(w3, env, bound, rows: dict[str, Row], ctx) -> list[str]:
    """Every cell of a contract's rows: an eth_call of each function as each role, checked against its row."""
    problems = []
    for fn_name, row in sorted(rows.items()):
        fn = getattr(bound.functions, fn_name)(*row.args(ctx))
        for role in ROLES:
            error, args = simulate_error(w3, _addr(env, role), fn)
            if role in row.permitted:
                if error is not None and error not in row.ok_errors:
                    problems.append(f"{fn_name} as {role}: permitted but got {error}{args}")
            elif error != row.error:
                problems.append(f"{fn_name} as {role}: expected {row.error}, got {error}{args}")
    return problems
