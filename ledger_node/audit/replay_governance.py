"""The audit replay's governance handlers: the Consortium (members, thresholds, call policies, proposals from
creation to execution), Membership (residents, roles, merchants, issuer accounts, key recovery) and the
AuditAttestations.

ProposalExecuted comes after the proposal's calls ran, so it is judged against the council the execution began
with (`Tx.council`, kept by the first member or threshold change of the transaction).
"""
from __future__ import annotations

from eth_utils import keccak

from ledger_node.audit.events import Event
from ledger_node.audit.model import VIOLATION
from ledger_node.audit.replay_tx import Tx
from ledger_node.audit.state import ELIGIBILITY_ONLY, State
from ledger_node.domain import ROLES
from ledger_node.typed_data import calls_hash


class GovernanceHandlers:
    """Consortium, Membership and AuditAttestations events; mixed into replay.Replayer, which supplies
    `state`, `problem` and `_expect`."""

    state: State

    # ------------------------------------------------------------------------------------------------
    # Consortium
    # ------------------------------------------------------------------------------------------------

    def _council(self) -> tuple[frozenset, int, int]:
        st = self.state
        return frozenset(st.members), st.threshold, st.emergency_threshold

    def _council_changes(self, tx: Tx) -> None:
        """Called before a change of the members or thresholds: keeps the council the running execution began
        with (the first change of the transaction, or the first after its previous ProposalExecuted)."""
        if tx.council is None:
            tx.council = self._council()

    def on_Consortium__MemberAdded(self, ev: Event, tx: Tx) -> None:
        self._council_changes(tx)
        self.state.members.add(ev.args["member"])
        self._expect(ev, "member-count", "member count", ev.args["memberCount"], len(self.state.members))

    def on_Consortium__MemberRemoved(self, ev: Event, tx: Tx) -> None:
        self._council_changes(tx)
        self.state.members.discard(ev.args["member"])
        self._expect(ev, "member-count", "member count", ev.args["memberCount"], len(self.state.members))

    def on_Consortium__ThresholdsChanged(self, ev: Event, tx: Tx) -> None:
        self._council_changes(tx)
        self.state.threshold, self.state.emergency_threshold = ev.args["threshold"], ev.args["emergencyThreshold"]

    def on_Consortium__ProposalLifetimeChanged(self, ev: Event, tx: Tx) -> None:
        self.state.lifetime = ev.args["lifetime"]

    def on_Consortium__CallPolicySet(self, ev: Event, tx: Tx) -> None:
        a = ev.args
        self.state.policies[(a["target"], a["selector"][:10])] = [a["delay"], a["emergency"]]

    def on_Consortium__ProposalCreated(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        pid = a["proposalId"]
        if a["proposer"] not in st.members:
            self.problem(VIOLATION, "proposal-by-non-member", f"{a['proposer']} proposed", ev)
        self._expect(ev, "proposal-id", "proposal id", pid, len(st.proposals) + 1)
        calls = [[c[0], c[1][:10], c[1][10:]] for c in a["calls"]]
        emergency = all(st.policies.get((t, sel), [0, False])[1] for t, sel, _ in calls)
        self._expect(ev, "proposal-emergency", f"emergency flag of proposal {pid}", a["emergency"], emergency)
        st.proposals[pid] = {"calls": [[t, sel] for t, sel, _ in calls], "innerTargets": [_inner(t, sel, rest)
                                                                                           for t, sel, rest in calls],
                             "emergency": a["emergency"], "approvers": set(), "queued": False, "readyAt": 0,
                             "expiresAt": a["expiresAt"], "state": "pending", "description": a["description"],
                             "callsHash": "0x" + calls_hash(a["calls"]).hex()}

    def on_Consortium__ProposalApprovedBySig(self, ev: Event, tx: Tx) -> None:
        """A member's signed approval (its ProposalApproved follows and is judged as any approval, against the
        members then): its signature, the signed proposal's calls and its deadline are checked against the
        calldata by signatures.py like a resident's intent (the signer under `resident`, the proposal under
        `nonce`)."""
        a = ev.args
        p = self.state.proposals.get(a["proposalId"])
        if p is None or "callsHash" not in p:
            return  # unknown: the ProposalApproved that follows reports it (a checkpoint older than signatures: skip)
        self.intents.append({"type": "ProposalApproval", "contract": ev.address, "tx": ev.tx, "block": ev.block,
                             "resident": a["member"], "nonce": a["proposalId"], "deadline": a["deadline"],
                             "callsHash": p["callsHash"], "timestamp": ev.timestamp})

    def on_Consortium__ProposalApproved(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        p = st.proposals.get(a["proposalId"])
        if p is None:
            self.problem(VIOLATION, "unknown-proposal", f"approval of unknown proposal {a['proposalId']}", ev)
            return
        if a["member"] not in st.members:
            self.problem(VIOLATION, "approval-by-non-member", f"{a['member']} approved", ev)
        p["approvers"].add(a["member"])
        self._expect(ev, "approvals", f"approvals of proposal {a['proposalId']}", a["approvals"],
                     len(p["approvers"] & st.members))
        self._expect(ev, "required-approvals", f"required approvals of proposal {a['proposalId']}", a["required"],
                     self._required(p))

    def on_Consortium__ProposalQueued(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        p = st.proposals.get(a["proposalId"])
        if p is None:
            return
        if len(p["approvers"] & st.members) < self._required(p):
            self.problem(VIOLATION, "queued-without-approvals", f"proposal {a['proposalId']} queued without enough "
                                                                f"approvals", ev)
        delay = 0
        for (t, sel), inner in zip(p["calls"], p["innerTargets"]):
            delay = max(delay, st.policies.get((t, sel), [0, False])[0],
                        st.policies.get(tuple(inner), [0, False])[0] if inner else 0)
        if a["readyAt"] < ev.timestamp + delay:
            self.problem(VIOLATION, "notice-too-short", f"proposal {a['proposalId']} ready at {a['readyAt']}, before "
                                                        f"its notice delay of {delay} s", ev)
        p.update(queued=True, readyAt=a["readyAt"], expiresAt=a["expiresAt"], state="queued")

    def on_Consortium__ProposalExecuted(self, ev: Event, tx: Tx) -> None:
        """Judged against the consortium as it stood when `execute` began (the event comes after the proposal's
        calls ran, and those may have changed the members or thresholds): the executor was a member, and the
        approvals of the members then reached the threshold then."""
        st, a = self.state, ev.args
        tx.executed = True
        for scheme, account in tx.grants:
            st.issuer_grants[scheme][account]["proposal"] = a["proposalId"]
        tx.grants.clear()
        members, threshold, emergency_threshold = tx.council or self._council()
        tx.council = None  # a later execute in the same transaction begins from the state after this one
        p = st.proposals.get(a["proposalId"])
        if p is None:
            self.problem(VIOLATION, "unknown-proposal", f"execution of unknown proposal {a['proposalId']}", ev)
            return
        if a["executor"] not in members:
            self.problem(VIOLATION, "executed-by-non-member", f"{a['executor']} executed proposal {a['proposalId']} "
                                                              f"without being a member", ev,
                         executor=a["executor"], proposal=a["proposalId"], members=sorted(members))
        if not p["queued"] or ev.timestamp < p["readyAt"] or ev.timestamp >= p["expiresAt"]:
            self.problem(VIOLATION, "executed-early", f"proposal {a['proposalId']} executed outside its window "
                                                      f"[{p['readyAt']}, {p['expiresAt']})", ev)
        required = emergency_threshold if p["emergency"] else threshold
        approvals = p["approvers"] & members
        if len(approvals) < required:
            self.problem(VIOLATION, "executed-without-approvals", f"proposal {a['proposalId']} executed with "
                                                                  f"{len(approvals)} approvals of members, "
                                                                  f"{required} required", ev,
                         proposal=a["proposalId"], approvals=sorted(approvals), required=required)
        if p["state"] in ("executed", "cancelled"):
            self.problem(VIOLATION, "executed-twice", f"proposal {a['proposalId']} was {p['state']}", ev)
        p["state"] = "executed"

    def on_Consortium__ProposalCancelled(self, ev: Event, tx: Tx) -> None:
        p = self.state.proposals.get(ev.args["proposalId"])
        if p is not None:
            p["state"] = "cancelled"

    def _required(self, p: dict) -> int:
        return self.state.emergency_threshold if p["emergency"] else self.state.threshold

    # ------------------------------------------------------------------------------------------------
    # Membership
    # ------------------------------------------------------------------------------------------------

    def on_Membership__ResidentRegistered(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        if not st.has_role("ONBOARDING", a["authority"]):
            self.problem(VIOLATION, "registered-by-non-onboarding", f"{a['authority']} registered a resident", ev)
        if a["account"] in st.residents:
            self.problem(VIOLATION, "resident-twice", f"{a['account']} registered twice", ev)
        if any(a["account"] in members for members in st.roles.values()):
            self.problem(VIOLATION, "resident-holds-role", f"{a['account']} holds a role", ev)
        st.residents[a["account"]] = {"identity": a["identityHash"], "registeredAt": ev.timestamp}

    def on_Membership__RoleGranted(self, ev: Event, tx: Tx) -> None:
        self.state.roles[ev.args["role"]].add(ev.args["account"])

    def on_Membership__RoleRevoked(self, ev: Event, tx: Tx) -> None:
        a = ev.args
        self.state.roles[a["role"]].discard(a["account"])
        if a["role"] == ROLES["MERCHANT"]:
            self.state.merchants.pop(a["account"], None)

    def on_Membership__MerchantRegistered(self, ev: Event, tx: Tx) -> None:
        self.state.merchants[ev.args["merchant"]] = False

    def on_Membership__MerchantSuspensionChanged(self, ev: Event, tx: Tx) -> None:
        self.state.merchants[ev.args["merchant"]] = ev.args["suspended"]

    def on_Membership__IssuerAccountsSet(self, ev: Event, tx: Tx) -> None:
        """The scheme's issuer accounts: each new one is recorded with the proposal that made it an issuer (the
        proposal's ProposalExecuted follows its calls in the same transaction)."""
        st, scheme = self.state, ev.args["scheme"]
        accounts = set(ev.args["accounts"])
        grants = st.issuer_grants[scheme]
        for account in st.issuers[scheme] - accounts:
            grants.pop(account, None)
        for account in sorted(accounts - st.issuers[scheme]):
            grants[account] = {"block": ev.block, "tx": tx.hash, "proposal": None}
            tx.grants.append((scheme, account))
        st.issuers[scheme] = accounts

    def on_Membership__RecoveryRequested(self, ev: Event, tx: Tx) -> None:
        self.state.recoveries[ev.args["account"]] = ev.args["newAccount"]

    def on_Membership__RecoveryObjected(self, ev: Event, tx: Tx) -> None:
        self.state.recoveries.pop(ev.args["account"], None)

    on_Membership__RecoveryCancelled = on_Membership__RecoveryObjected

    def on_Membership__ResidentRecovered(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        if st.recoveries.pop(a["account"], None) != a["newAccount"]:
            self.problem(VIOLATION, "recovery-not-requested", f"{a['account']} recovered without a matching request",
                         ev)
        record = st.residents.pop(a["account"], None)
        if record is None:
            self.problem(VIOLATION, "recovery-of-non-resident", f"{a['account']} was not a resident", ev)
            record = {"identity": a["identityHash"], "registeredAt": ev.timestamp}
        st.residents[a["newAccount"]] = record
        st.recovered_to[a["account"]] = a["newAccount"]

    # ------------------------------------------------------------------------------------------------
    # SchemeRegistry
    # ------------------------------------------------------------------------------------------------

    def on_SchemeRegistry__SchemeDescribed(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        scheme = a["scheme"]
        name_zh, name_en, unit_zh, unit_en, organisation, colour, kind = a["profile"]
        if scheme not in st.schemes:
            self.problem(VIOLATION, "described-unknown-scheme", f"scheme {scheme} described but never added", ev)
        if kind == ELIGIBILITY_ONLY and st.rates.get(scheme):
            self.problem(VIOLATION, "eligibility-only-with-rate", f"scheme {scheme} described as eligibility-only "
                                                                  f"while it has a rate", ev)
        st.profiles[scheme] = {"nameZh": name_zh, "nameEn": name_en, "unitZh": unit_zh, "unitEn": unit_en,
                               "organisation": organisation, "colour": colour, "kind": kind, "block": ev.block}

    def on_SchemeRegistry__RulesPublished(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        versions = st.rules[a["scheme"]]
        self._expect(ev, "rules-version", f"rules version of scheme {a['scheme']}", a["version"], len(versions) + 1)
        versions.append({"version": a["version"], "rulesHash": a["rulesHash"], "uri": a["uri"], "block": ev.block})

    def on_SchemeRegistry__EligibilityProven(self, ev: Event, tx: Tx) -> None:
        """A service used a resident's proof: the resident must have held the points it claims at that moment."""
        st, a = self.state, ev.args
        held = st.balances.get((a["scheme"], a["resident"]), 0)
        if held < a["minPoints"]:
            self.problem(VIOLATION, "eligibility-without-points", f"{a['resident']} proven to hold at least "
                                                                  f"{a['minPoints']} of scheme {a['scheme']} while "
                                                                  f"holding {held}", ev)
        st.eligibility_proofs += 1

    # ------------------------------------------------------------------------------------------------
    # AuditAttestations
    # ------------------------------------------------------------------------------------------------

    def on_AuditAttestations__AuditAttested(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        if not st.has_role("AUDITOR", a["auditor"]):
            self.problem(VIOLATION, "attested-by-non-auditor", f"{a['auditor']} attested without AUDITOR_ROLE", ev)
        st.attestations.append({"id": a["id"], "auditor": a["auditor"], "reportHash": a["reportHash"],
                                "merkleRoot": a["merkleRoot"], "fromBlock": a["fromBlock"], "toBlock": a["toBlock"],
                                "block": ev.block})


def _inner(target: str, selector: str, rest: str) -> list | None:
    """For Consortium.setCallPolicy calls: the (target, selector) whose policy they change (its delay applies)."""
    if selector != _SET_CALL_POLICY or len(rest) < 128:
        return None
    return ["0x" + rest[24:64], "0x" + rest[64:72]]


_SET_CALL_POLICY = "0x" + keccak(text="setCallPolicy(address,bytes4,uint64,bool)")[:4].hex()
