"""The audit replay's IdentityTrail handlers (issue 23): every use of a resident's personal data and every objection.

Each entry's purpose must fit the actor's role at that moment (a VIOLATION otherwise; PURPOSE_ROLES): the chain
lets a relayer name any actor, so this is where an issuer account reading data for onboarding, or an unknown account
named as actor, is caught. Entry ids must run on from the last (the contract numbers them). The patterns (bulk
access, odd hours, a lookup for issuance with no issuance, repeated access, objections) are the Detector's findings
(patterns.py).
"""
from __future__ import annotations

from ledger_node.audit.events import Event
from ledger_node.audit.model import VIOLATION
from ledger_node.audit.replay_tx import Tx
from ledger_node.audit.state import State
from ledger_node.domain import TRAIL_PURPOSES

# purpose -> the roles whose holders may use a resident's data for it ("issuer": an issuer account of any scheme)
PURPOSE_ROLES: dict[str, tuple[str, ...]] = {
    "onboarding": ("ONBOARDING",),
    "identity-recheck": ("ONBOARDING",),
    "issuance-lookup": ("issuer",),
    "recovery-verification": ("ONBOARDING",),
    "eligibility-proof": ("ONBOARDING", "issuer"),
    "data-export": ("ONBOARDING",),
    "legal-request": ("AUDITOR", "ONBOARDING"),
}


class TrailHandlers:
    """IdentityTrail events; mixed into replay.Replayer, which supplies `state`, `problem`, `_expect` and
    `detector`."""

    state: State

    def _issuer_schemes(self, account: str) -> list[int]:
        return sorted(s for s, accounts in self.state.issuers.items() if account in accounts)

    def _fits(self, purpose: str, actor: str) -> bool:
        st = self.state
        for role in PURPOSE_ROLES.get(purpose, ()):
            if role == "issuer" and self._issuer_schemes(actor):
                return True
            if role != "issuer" and st.has_role(role, actor):
                return True
        return False

    def on_IdentityTrail__IdentityUsed(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        entry_id, purpose = a["id"], TRAIL_PURPOSES.get(a["purpose"], f"code {a['purpose']}")
        self._expect(ev, "trail-entry-id", "trail entry id", entry_id, len(st.trail) + 1)
        if not self._fits(purpose, a["actor"]):
            allowed = " or ".join(PURPOSE_ROLES.get(purpose, ("nobody",)))
            self.problem(VIOLATION, "trail-purpose-role", f"{a['actor']} used {a['resident']}'s personal data for "
                                                          f"{purpose} without the role for it ({allowed})", ev,
                         entry=entry_id, actor=a["actor"], resident=a["resident"], purpose=purpose)
        st.trail[entry_id] = [a["resident"], a["actor"], purpose, a["at"]]
        if self.detector is not None:
            self.detector.on_identity_use(entry_id, a["resident"], a["actor"], purpose,
                                          self._issuer_schemes(a["actor"]), a["at"], ev.tx, ev.block)

    def on_IdentityTrail__UseObjected(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        entry = st.trail.get(a["entryId"])
        objection = {"entryId": a["entryId"], "resident": a["resident"], "submitter": a["submitter"],
                     "block": ev.block, "tx": ev.tx, "at": ev.timestamp,
                     "entry": dict(zip(("resident", "actor", "purpose", "at"), entry)) if entry else None,
                     "byTheEntrysResident": bool(entry) and entry[0] == a["resident"]}
        st.objections.append(objection)
        if self.detector is not None:
            self.detector.on_objection(objection)
