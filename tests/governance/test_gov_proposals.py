"""Reading proposals as members see them: each state of IConsortium.ProposalState under its plain name, approvals n
of m, the earliest execution time; `queue` for a proposal whose approvals became enough without a new one; cancel."""
from __future__ import annotations

import pytest

from ledger_node.deploy.system import call
from ledger_node.governance.actions import proposal_calls
from ledger_node.governance.errors import GovError
from ledger_node.governance.proposals import list_proposals, read_proposal
from ledger_node.governance.transactions import propose, step
from tests.governance.gov_helpers import advance_past

WEEK = 7 * 24 * 3600


def test_govProposal_setRate_movesOpenQueuedExecutableExecuted(town):
    city, (first, second, _) = town.city, town.members
    pid, _ = propose(city, first, proposal_calls(city, "set-rate", ["2", "500000000"]), "traffic 2027")
    shown = read_proposal(city, pid)
    assert (shown["state"], shown["approvals"], shown["required"], shown["executableFrom"]) == ("open", 1, 2, None)
    assert (shown["description"], shown["noticeDelay"], shown["approvedBy"]) == ("traffic 2027", WEEK, [first.address])
    step(city, second, "approve", pid)
    shown = read_proposal(city, pid)
    assert shown["state"] == "queued" and shown["executableFrom"] >= city.now() + WEEK - 5
    assert [p["id"] for p in list_proposals(city, "queued")] == [pid]
    advance_past(city.w3, shown["executableFrom"])
    assert read_proposal(city, pid)["state"] == "executable"
    step(city, second, "execute", pid)
    shown = read_proposal(city, pid)
    assert shown["state"] == "executed"
    # decided: the words no longer show the value in force, which is now the proposal's own
    assert shown["calls"][0]["words"] == "set rate of scheme 2 (traffic): 1 point = 5.00 credits"


def test_govQueue_afterTheThresholdIsLowered_queuesWithoutANewApproval(town):
    city, first = town.city, town.members[0]
    pid, _ = propose(city, first, proposal_calls(city, "set-refund-window", ["3600"]), "")
    with pytest.raises(GovError) as refused:
        step(city, first, "queue", pid)
    assert refused.value.code == "insufficient_approvals"
    town.govern([call(city["Consortium"], "setThresholds", 1, 1)])
    assert read_proposal(city, pid)["state"] == "open"
    step(city, first, "queue", pid)
    assert read_proposal(city, pid)["state"] == "executable"  # no notice on this function


def test_govCancel_byTheProposer_cancels_byAnother_isRefused(town):
    city, (first, second, _) = town.city, town.members
    pid, _ = propose(city, first, proposal_calls(city, "pause-scheme", ["2"]), "")
    with pytest.raises(GovError) as refused:
        step(city, second, "cancel", pid)
    assert refused.value.code == "not_proposer"
    step(city, first, "cancel", pid)
    assert read_proposal(city, pid)["state"] == "cancelled"
    with pytest.raises(GovError) as refused:
        step(city, first, "execute", pid)
    assert refused.value.code == "proposal_not_open" and "cancelled" in refused.value.message


def test_govShow_unknownProposal_isProposalNotFound(town):
    with pytest.raises(GovError) as refused:
        read_proposal(town.city, 999)
    assert refused.value.code == "proposal_not_found"
