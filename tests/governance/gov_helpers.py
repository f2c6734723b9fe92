"""Helpers of the governance tests: the small town the fixtures build, and carrying a proposal through with
`citypoints gov`'s own functions."""
from __future__ import annotations

import json
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger_node.deploy.system import propose_and_execute
from ledger_node.governance.city import City
from ledger_node.governance.transactions import propose, step

RATE_2, RATE_3 = 400_000_000, 100_000_000   # 4.00 and 1.00 credits a point


@dataclass
class Town:
    city: City
    members: list[LocalAccount]   # [session operator, second, third]
    issuer: str
    merchant: str                 # registered, active
    other_merchant: str           # registered, active

    def govern(self, calls, description: str = "set-up") -> int:
        """Make `calls` rules now, the way deploy and the demo do (a test's own preconditions)."""
        return propose_and_execute(self.city.w3, self.city["Consortium"], self.members, calls, description,
                                   advance_time=True)


def carry_through(town: Town, calls, description: str = "") -> int:
    """Propose `calls` as the first member with `citypoints gov`'s own functions, approve with the others until
    queued, move the node's clock past the notice, execute; the proposal id."""
    city, (proposer, *others) = town.city, town.members
    proposal_id, _ = propose(city, proposer, calls, description)
    for member in others:
        if city["Consortium"].functions.proposalState(proposal_id).call() != 1:  # open
            break
        step(city, member, "approve", proposal_id)
    advance_past(city.w3, city["Consortium"].functions.getProposal(proposal_id).call()[2])
    step(city, proposer, "execute", proposal_id)
    return proposal_id


def advance_past(w3, timestamp: int) -> None:
    wait = timestamp - w3.eth.get_block("latest")["timestamp"]
    if wait > 0:
        w3.provider.make_request("evm_increaseTime", [wait])
        w3.provider.make_request("evm_mine", [])


def write_home(tmp_path, city: City, scheme_names: dict[int, str] | None = None):
    """A CITYPOINTS_HOME holding var/deployment.json for the session node (and a demo file naming schemes)."""
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "deployment.json").write_text(json.dumps(city.deployment))
    if scheme_names:
        issuers = [{"scheme": s, "name": f"{n}-issuer", "address": Account.create().address}
                   for s, n in scheme_names.items()]
        (tmp_path / "var" / "demo.json").write_text(json.dumps({"issuers": issuers}))
    return tmp_path
