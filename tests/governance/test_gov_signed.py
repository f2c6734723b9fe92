"""`citypoints gov sign` and `gov submit`: a member signs an approval apart (a small JSON file, no transaction),
another key submits it (another member, or the operator key that is no member at all), `gov show` says whose
approval came by signature. Refusals carry the shared codes and send nothing: a file edited to approve another
proposal, an expired signature, a file for another chain, a malformed file, a signer who is not a member.

In-process (typer's CliRunner, the console command's own app) but for one end-to-end run of the installed command,
on the `town` fixture: 2 of 3 members.
"""
from __future__ import annotations

import json

from eth_account import Account
from typer.testing import CliRunner

from scripts.cli import app

from ledger_node.deploy.system import call
from ledger_node.governance.transactions import propose
from tests.governance.gov_helpers import advance_past, write_home
from tests.governance.test_gov_cli import gov, gov_in_process, light_keystore


def _home(tmp_path, town):
    home = write_home(tmp_path, town.city, {2: "traffic"})
    keys = home / "var" / "keys" / "members"
    keys.mkdir(parents=True, exist_ok=True)
    for name, account in zip(("office", "bank", "audit"), town.members):
        light_keystore(keys / f"{name}.json", account)
    light_keystore(keys / "stranger.json", Account.create())
    return home


def _proposal(town, cap: int = 55) -> int:
    """A proposal by the first member (office): its approval counts, one more is needed."""
    pid, _ = propose(town.city, town.members[0], [call(town.city["PointsLedger"], "setResidentDailyCap", 2, cap)],
                     f"cap {cap}")
    return pid


def test_govSign_thenSubmitByAnotherMember_approvesAndShowSaysBySignature(tmp_path, town):
    home = _home(tmp_path, town)
    pid = _proposal(town)
    signed_file = tmp_path / "bank.json"
    made = gov_in_process(home, "sign", str(pid), "--as", "bank", "--out", str(signed_file))
    approval = json.loads(signed_file.read_text())
    assert approval == made["approval"]
    assert (approval["proposalId"], approval["member"], approval["consortium"]) == (
        pid, town.members[1].address, town.city["Consortium"].address)
    assert approval["deadline"] >= town.city.now() + 7 * 86400 - 5
    again = gov_in_process(home, "sign", str(pid), "--as", "bank", "--out", str(signed_file), ok=False)
    assert again["error"]["code"] == "file_exists" and json.loads(signed_file.read_text()) == approval
    # signing sent nothing: still 1 of 2
    assert town.city["Consortium"].functions.approvalCount(pid).call() == 1

    done = gov_in_process(home, "submit", str(signed_file), "--as", "audit")
    assert done["submitted"][0]["member"] == town.members[1].address and "txHash" in done["submitted"][0]
    shown = done["proposals"][0]
    assert (shown["state"], shown["approvals"], shown["required"]) == ("executable", 2, 2)  # no notice for a cap
    assert shown["approvedHow"] == {town.members[0].address: "transaction", town.members[1].address: "signature"}
    shown_text = CliRunner().invoke(app, ["gov", "show", str(pid)], env={"CITYPOINTS_HOME": str(home)}).stdout
    assert f"{town.members[1].address} by signature" in shown_text, shown_text
    listed = gov_in_process(home, "list", "--state", "executable")["proposals"]
    assert listed[0]["approvedHow"][town.members[1].address] == "signature"

    again = gov_in_process(home, "submit", str(signed_file), "--as", "audit")
    assert again["submitted"][0]["already"] is True
    assert town.city["Consortium"].functions.approvalCount(pid).call() == 2


def test_govSubmit_byTheOperatorKey_whichIsNoMember(tmp_path, town):
    home = _home(tmp_path, town)
    pid = _proposal(town)
    signed = gov_in_process(home, "sign", str(pid), "--as", "audit")["approval"]
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(signed))
    done = gov_in_process(home, "submit", str(path), "--operator")
    assert done["proposals"][0]["approvedHow"][town.members[2].address] == "signature"


def test_govSubmit_refusesAnApprovalMovedToAnotherProposal_andSendsNothing(tmp_path, town):
    home = _home(tmp_path, town)
    first, second = _proposal(town, 55), _proposal(town, 5_000)
    signed = gov_in_process(home, "sign", str(first), "--as", "bank")["approval"]
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps({**signed, "proposalId": second}))
    refused = gov_in_process(home, "submit", str(moved), "--as", "audit", ok=False)
    assert refused["error"]["code"] == "invalid_signature"
    # the calls hash copied too: the contract's own check refuses the signature
    other_hash = "0x" + bytes(town.city["Consortium"].functions.proposalCallsHash(second).call()).hex()
    moved.write_text(json.dumps({**signed, "proposalId": second, "callsHash": other_hash}))
    refused = gov_in_process(home, "submit", str(moved), "--as", "audit", ok=False)
    assert refused["error"]["code"] == "invalid_signature"
    assert town.city["Consortium"].functions.approvalCount(second).call() == 1


def test_govSubmit_refusesExpiredWrongCityAndMalformedFiles(tmp_path, town):
    home = _home(tmp_path, town)
    pid = _proposal(town)
    signed = gov_in_process(home, "sign", str(pid), "--as", "bank", "--valid-for", "60")["approval"]
    path = tmp_path / "a.json"
    cases = {
        "wrong_city": {**signed, "chainId": signed["chainId"] + 1},
        "invalid_approval_file": {**signed, "extra": 1},
    }
    for code, body in cases.items():
        path.write_text(json.dumps(body))
        assert gov_in_process(home, "submit", str(path), "--as", "audit", ok=False)["error"]["code"] == code
    for text in ("not json", json.dumps({**signed, "signature": "0x1234"}), json.dumps({**signed, "deadline": -1}),
                 json.dumps({**signed, "member": "me"}), "x" * 5000):
        path.write_text(text)
        assert gov_in_process(home, "submit", str(path), "--as", "audit", ok=False)["error"]["code"] == \
            "invalid_approval_file", text[:40]
    path.write_text(json.dumps(signed))
    advance_past(town.city.w3, signed["deadline"] + 1)
    assert gov_in_process(home, "submit", str(path), "--as", "audit", ok=False)["error"]["code"] == "approval_expired"
    assert town.city["Consortium"].functions.approvalCount(pid).call() == 1


def test_govSign_refusesANonMemberAClosedProposalAndATwiceApproval(tmp_path, town):
    home = _home(tmp_path, town)
    pid = _proposal(town)
    assert gov_in_process(home, "sign", str(pid), "--as", "stranger", ok=False)["error"]["code"] == "signer_not_member"
    assert gov_in_process(home, "sign", str(pid), "--as", "office", ok=False)["error"]["code"] == \
        "proposal_already_approved"
    assert gov_in_process(home, "sign", str(pid + 50), "--as", "bank", ok=False)["error"]["code"] == \
        "proposal_not_found"
    gov_in_process(home, "cancel", str(pid), "--as", "office")
    assert gov_in_process(home, "sign", str(pid), "--as", "bank", ok=False)["error"]["code"] == "proposal_not_open"
    assert gov_in_process(home, "sign", str(pid), "--as", "bank", "--valid-for", "5", ok=False)["error"]["code"] == \
        "invalid_integer"


def test_govSignAndSubmit_endToEnd_installedCommand(tmp_path, town):
    """The installed `citypoints` in subprocesses, as two members on two machines would run it."""
    home = _home(tmp_path, town)
    pid = _proposal(town, 66)
    path = tmp_path / "audit.json"
    gov(home, "sign", str(pid), "--as", "audit", "--out", str(path))
    done = gov(home, "submit", str(path), "--as", "bank")
    assert done["proposals"][0]["approvedHow"][town.members[2].address] == "signature"
    assert town.city["Consortium"].functions.approvalCount(pid).call() == 2
