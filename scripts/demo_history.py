"""The demo city's governance history, made as its members make it: every change through the functions behind
`citypoints gov` (a named action, its arguments checked against the chain, proposed by one member, approved by
others with signed approvals as `gov sign` writes them and `gov submit` sends them, executed by a member once its
notice has passed), so the console, `gov list` and the auditor's report show a city that has been governed, not
only set up.

1. An issuer joins (issuer onboarding): the volunteer programme's district office becomes a second issuer
   account of scheme 1 (`add-issuer`) and issues its first points through the SDK.
2. A shop joins: the last demo shop is registered by proposal (`register-merchant`), not at set-up.
3. Green points are paused for an inquiry (`pause-scheme 4`) and resumed (`resume-scheme 4`).
4. A rate change ahead: traffic points' rate (`set-rate 2`), approved and queued: Rates' week of notice runs, so
   it stays queued (the console and `gov list` count it down; the wallet can warn about it).

Each proposal is found again by its description, so a loading cut off anywhere resumes where it stopped.
"""
from __future__ import annotations

import hashlib

from ledger_node.governance.actions import proposal_calls
from ledger_node.governance.city import City, open_city
from ledger_node.governance.proposals import STATE_NAMES, descriptions
from ledger_node.governance.signed import sign_approval, submit_approvals
from ledger_node.governance.transactions import propose, step

APPROVAL_VALID_S = 86_400
NEW_TRAFFIC_RATE = 6_000_000  # 0.06 credit a point, from 0.05
DISTRICT_OFFICE_ITEMS = 40


def history_proposals(demo: dict) -> list[tuple[str, str, list[str], str, bool]]:
    """(description, action, arguments, proposer's name, execute) of the history, in order; the resume of green
    points is proposed once their pause has been executed (its arguments are checked against a paused scheme)."""
    office = demo["districtIssuers"][0]["address"]
    shop = demo["merchants"][-1]["address"]
    return [
        ("volunteer programme: the district office issues too", "add-issuer", ["1", office], "volunteer-org", True),
        (f"{demo['merchants'][-1]['name']} joins the network", "register-merchant", [shop], "merchant-association",
         True),
        ("green points paused while their issuer's records are checked", "pause-scheme", ["4"], "green-org", True),
        ("green points resumed: the records check out", "resume-scheme", ["4"], "green-org", True),
        ("traffic points worth 0.06 credit from next week", "set-rate", ["2", str(NEW_TRAFFIC_RATE)], "traffic-org",
         False),
    ]


class GovernanceHistory:
    def __init__(self, rpc_url: str, demo: dict, members: dict, district_office):
        self.city: City = open_city(rpc_url)
        self.demo = demo
        self.members = members  # name -> LocalAccount
        self.district_office = district_office

    def run(self) -> None:
        made = descriptions(self.city)  # what a cut-off loading proposed already (read once: ours are new)
        for description, action, args, proposer, execute in history_proposals(self.demo):
            self._carry(made, description, action, args, proposer, execute)
        self._district_office_issues()

    def _carry(self, made: dict[int, str], description: str, action: str, args: list[str], proposer: str,
               execute: bool) -> None:
        """Propose (unless `made`, {id: description}, holds it), approve to the threshold with signed approvals,
        execute if asked."""
        city = self.city
        found = [pid for pid, text in made.items() if text == description]
        if found:
            proposal_id = max(found)
        else:
            calls = proposal_calls(city, action, args)
            proposal_id, _ = propose(city, self.members[proposer], calls, description)
        c = city["Consortium"].functions
        if STATE_NAMES[c.proposalState(proposal_id).call()] == "open":
            missing = c.requiredApprovals(proposal_id).call() - c.approvalCount(proposal_id).call()
            others = [m for name, m in self.members.items()
                      if name != proposer and not c.hasApproved(proposal_id, m.address).call()][:max(missing, 0)]
            signed = [sign_approval(city, m, proposal_id, APPROVAL_VALID_S) for m in others]
            submit_approvals(city, self.members["city-authority"], signed)
        if execute and STATE_NAMES[c.proposalState(proposal_id).call()] == "executable":
            step(city, self.members[proposer], "execute", proposal_id)

    def _district_office_issues(self) -> None:
        """The new issuer account's first points: volunteer hours of the district's first residents."""
        from issuer_sdk import IssuerClient, LocalSigner
        from issuer_sdk.adapters import adapter_for

        ledger = self.city["PointsLedger"]
        client = IssuerClient(self.city.w3.provider.endpoint_uri, ledger.address, LocalSigner(self.district_office.key),
                              1, salt=hashlib.sha256(b"demo-salt-district-office").digest(),
                              chain_id=self.city.w3.eth.chain_id)
        residents = [r["address"] for r in self.demo["residents"][:DISTRICT_OFFICE_ITEMS]]
        # care work (reason 1) of half an hour to an hour and a half, under the programme's published rules
        cited = adapter_for("volunteer").citation(client)
        client.issue_many([(r, 5 + k % 3 * 5, f"district-office:2026-11:{k}", 1) for k, r in enumerate(residents)],
                          rules_version=cited)
