"""A proposal as a member reads it: its state in plain names, approvals n of m and by whom, when it can be executed
at the earliest and until when, and its calls in words.

States map IConsortium.ProposalState: Pending -> open (awaiting approvals), Queued -> queued (approved, notice
running), Ready -> executable (queued and the notice has passed), Executed, Cancelled, Expired. The description is
not stored by the contract; it is read from the proposal's ProposalCreated event.
"""
from __future__ import annotations

from ledger_node.governance.city import City
from ledger_node.governance.errors import argument_error, from_call_error
from ledger_node.governance.formats import PROPOSAL_STATES, duration, utc
from ledger_node.governance.words import describe_call

STATE_NAMES = PROPOSAL_STATES
STATES = tuple(STATE_NAMES.values())


def descriptions(city: City, proposal_id: int | None = None) -> dict[int, str]:
    """{proposal id: description} from the ProposalCreated events since the deployment's first block."""
    filters = {"proposalId": proposal_id} if proposal_id is not None else {}
    logs = city["Consortium"].events.ProposalCreated().get_logs(
        from_block=int(city.deployment.get("startBlock", 0)), argument_filters=filters)
    return {log["args"]["proposalId"]: log["args"]["description"] for log in logs}


def read_proposal(city: City, proposal_id: int, *, described: dict[int, str] | None = None,
                  signed: dict[int, set[str]] | None = None) -> dict:
    """Everything `gov show` prints about proposal `proposal_id`; GovError proposal_not_found if there is none.
    `approvedBy` lists the members whose approval counts, `approvedHow` says for each whether it came as a
    transaction of theirs or as their signature (`gov sign` / the console, submitted by someone else)."""
    from ledger_node.governance.signed import signed_approvers

    from web3.exceptions import ContractLogicError

    c = city["Consortium"].functions
    try:
        state = c.proposalState(proposal_id).call()
    except ContractLogicError as exc:  # ConsortiumUnknownProposal
        raise from_call_error(exc) from None
    proposer, created_at, ready_at, expires_at, queued, emergency, _, _ = c.getProposal(proposal_id).call()
    members = c.members().call()
    if described is None:
        described = descriptions(city, proposal_id)
    notice = c.noticeDelay(proposal_id).call()
    if signed is None:
        signed = signed_approvers(city, proposal_id)
    approved_by = [m for m in members if c.hasApproved(proposal_id, m).call()]
    by_signature = signed.get(proposal_id, set())
    return {
        "id": proposal_id,
        "state": STATE_NAMES[state],
        "description": described.get(proposal_id, ""),
        "proposer": proposer,
        "proposerName": city.account_names.get(proposer.lower()),
        "emergency": emergency,
        "approvals": c.approvalCount(proposal_id).call(),
        "required": c.requiredApprovals(proposal_id).call(),
        "members": len(members),
        "approvedBy": approved_by,
        "approvedHow": {m: "signature" if m in by_signature else "transaction" for m in approved_by},
        "noticeDelay": notice,
        "createdAt": created_at,
        # queued: the time the notice ends; open: not before the last approval plus the notice
        "executableFrom": ready_at if queued else None,
        "expiresAt": expires_at,
        "calls": [describe_call(city, target, data, current=STATE_NAMES[state] in ("open", "queued", "executable"))
                  for target, data in c.getCalls(proposal_id).call()],
    }


def list_proposals(city: City, state: str | None = None) -> list[dict]:
    """Every proposal (newest first), or those in `state` (one of STATES)."""
    if state is not None and state not in STATES:
        raise argument_error("unknown_state", f"{state!r}; one of {', '.join(STATES)}")
    from ledger_node.governance.signed import signed_approvers

    count = city["Consortium"].functions.proposalCount().call()
    described = descriptions(city)
    signed = signed_approvers(city)
    out = []
    for proposal_id in range(count, 0, -1):
        if state is not None and STATE_NAMES[city["Consortium"].functions.proposalState(proposal_id).call()] != state:
            continue
        out.append(read_proposal(city, proposal_id, described=described, signed=signed))
    return out


def summary_lines(p: dict, now: int) -> list[str]:
    """The proposal for people, a few lines."""
    head = f"proposal {p['id']}: {p['state']}"
    if p["description"]:
        head += f" - {p['description']}"
    lines = [head, f"  approvals {p['approvals']} of {p['required']} required ({p['members']} members)"
                   + (" [emergency quorum]" if p["emergency"] else "")]
    if p["state"] == "open":
        when = (f"{duration(p['noticeDelay'])} after the last approval (notice)" if p["noticeDelay"]
                else "as soon as approved (no notice)")
        lines.append(f"  executable {when}; expires {utc(p['expiresAt'])}")
    elif p["state"] in ("queued", "executable"):
        wait = p["executableFrom"] - now
        when = f"in {duration(wait)}" if wait > 0 else "now"
        lines.append(f"  executable from {utc(p['executableFrom'])} ({when}) until {utc(p['expiresAt'])}")
    lines += [f"  {k + 1}. {call['words']}" for k, call in enumerate(p["calls"])]
    return lines
