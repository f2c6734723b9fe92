"""`citypoints gov` against the session node: a member's key made by `gov key new`, a rate change from proposal to
execution (list, show in words, approve, execute), and the refusals with their codes: a non-member proposing,
approving twice, executing before the approvals and before the notice, executing an expired proposal, a threshold
above the member count, a bad argument. Nothing is sent on a refusal.

The rate change runs the installed `citypoints` in subprocesses, end to end as a member would; the other tests run
the same typer app in-process (typer's CliRunner: same exit codes, same stdout), which saves a process start per
call.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from scripts.cli import app

from ledger_node.deploy.system import call, propose_and_execute
from tests.governance.gov_helpers import RATE_2, advance_past, write_home

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / ".venv" / "bin" / "citypoints"
PASSWORD = "correct horse"
WEEK, MONTH = 7 * 24 * 3600, 30 * 24 * 3600


@pytest.fixture
def home(tmp_path, city):
    return write_home(tmp_path, city, {2: "traffic"})


def gov(home: Path, *args: str, ok: bool = True) -> dict:
    """Run `citypoints gov ARGS --json` in a subprocess; its one JSON object (an error's when ok=False)."""
    env = {**os.environ, "CITYPOINTS_HOME": str(home), "CITYPOINTS_KEYSTORE_PASSWORD": PASSWORD}
    done = subprocess.run([str(CLI), "gov", *args, "--json"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode == 0) == ok, (done.returncode, done.stdout, done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def gov_text(home: Path, *args: str) -> str:
    env = {**os.environ, "CITYPOINTS_HOME": str(home), "CITYPOINTS_KEYSTORE_PASSWORD": PASSWORD}
    done = subprocess.run([str(CLI), "gov", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def gov_in_process(home: Path, *args: str, ok: bool = True, stdin: str | None = None) -> dict:
    """`citypoints gov ARGS --json` through the console command's own typer app, in this process; its one JSON
    object (an error's when ok=False)."""
    env = {"CITYPOINTS_HOME": str(home), "CITYPOINTS_KEYSTORE_PASSWORD": PASSWORD}
    done = CliRunner().invoke(app, ["gov", *args, "--json"], env=env, input=stdin)
    assert (done.exit_code == 0) == ok, (done.exit_code, done.stdout, done.stderr, done.exception)
    return json.loads(done.stdout.strip().splitlines()[-1])


def light_keystore(path: Path, account) -> Path:
    """A keystore of a test account with a cheap KDF (the command reads any eth-account keystore)."""
    path.write_text(json.dumps(Account.encrypt(account.key, PASSWORD, kdf="pbkdf2", iterations=2)))
    return path


def test_govKeyNew_writesAnEncryptedKeystore_0600In0700(home):
    made = gov_in_process(home, "key", "new", "city-office")
    path = home / "var" / "keys" / "members" / "city-office.json"
    assert made["keystore"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert Account.from_key(Account.decrypt(json.loads(path.read_text()), PASSWORD)).address == made["address"]
    again = gov_in_process(home, "key", "new", "city-office", ok=False)
    assert again["error"]["code"] == "key_exists"


def test_govCli_setRate_fromProposalToExecution(home, city, session_operator):
    office = gov(home, "key", "new", "office")["address"]
    c, rates = city["Consortium"], city["Rates"]
    propose_and_execute(city.w3, c, [session_operator], [
        call(city["PointsLedger"], "addScheme", 2, 1_000_000, 1_000), call(rates, "setInitialRate", 2, RATE_2),
        call(c, "addMember", office), call(c, "setThresholds", 2, 1)], "set-up", advance_time=True)
    operator = str(light_keystore(home / "operator.json", session_operator))

    made = gov(home, "propose", "set-rate", "2", "500000000", "--as", "office", "--description", "traffic 2027")
    pid = made["proposalId"]
    assert made["proposal"]["calls"][0]["words"] == "set rate of scheme 2 (traffic): 1 point = 5.00 credits (now 4.00)"
    assert (made["proposal"]["state"], made["proposal"]["approvals"], made["proposal"]["required"]) == ("open", 1, 2)
    assert pid in [p["id"] for p in gov(home, "list", "--state", "open")["proposals"]]
    shown = gov_text(home, "show", str(pid))
    assert "proposal %d: open - traffic 2027" % pid in shown
    assert "1. set rate of scheme 2 (traffic): 1 point = 5.00 credits (now 4.00)" in shown

    early = gov(home, "execute", str(pid), "--keystore", operator, ok=False)
    assert early["error"]["code"] == "insufficient_approvals"
    twice = gov(home, "approve", str(pid), "--as", "office", ok=False)
    assert twice["error"]["code"] == "proposal_already_approved"
    approved = gov(home, "approve", str(pid), "--keystore", operator)["proposal"]
    assert (approved["state"], approved["approvals"]) == ("queued", 2)
    assert approved["executableFrom"] >= city.now() + WEEK - 5
    notice = gov(home, "execute", str(pid), "--keystore", operator, ok=False)
    assert notice["error"]["code"] == "notice_pending"
    assert rates.functions.rateOf(2).call() == RATE_2

    advance_past(city.w3, approved["executableFrom"])
    assert gov(home, "show", str(pid))["proposal"]["state"] == "executable"
    done = gov(home, "execute", str(pid), "--as", "office")
    assert done["proposal"]["state"] == "executed"
    assert rates.functions.rateOf(2).call() == 500_000_000


def test_govPropose_byANonMember_isRefusedAndNothingIsProposed(home, city):
    stranger = str(light_keystore(home / "stranger.json", Account.create()))
    before = city["Consortium"].functions.proposalCount().call()
    refused = gov_in_process(home, "propose", "pause-all", "--keystore", stranger, ok=False)
    assert refused["error"]["code"] == "not_consortium_member"
    assert city["Consortium"].functions.proposalCount().call() == before


def test_govExecute_expiredProposal_isRefusedAsNotOpen(home, city, session_operator):
    operator = str(light_keystore(home / "operator.json", session_operator))
    # 1 of 1 members: queued at once
    pid = gov_in_process(home, "propose", "set-refund-window", "3600", "--keystore", operator)["proposalId"]
    expires = city["Consortium"].functions.getProposal(pid).call()[3]
    advance_past(city.w3, expires + 1)
    assert gov_in_process(home, "list", "--state", "expired")["proposals"][0]["id"] == pid
    refused = gov_in_process(home, "execute", str(pid), "--keystore", operator, ok=False)
    assert refused["error"]["code"] == "proposal_not_open"
    assert "expired" in refused["error"]["message"]
    assert city["Redemption"].functions.refundWindow().call() != 3600


def test_govPropose_thresholdAboveMembers_isRefusedBeforeSending(home, city, session_operator):
    operator = str(light_keystore(home / "operator.json", session_operator))
    before = city["Consortium"].functions.proposalCount().call()
    refused = gov_in_process(home, "propose", "set-threshold", "2", "--keystore", operator, ok=False)
    assert refused["error"]["code"] == "invalid_threshold"
    bad = gov_in_process(home, "propose", "set-refund-window", "five", "--keystore", operator, ok=False)
    assert bad["error"]["code"] == "invalid_integer"
    assert city["Consortium"].functions.proposalCount().call() == before


def test_govExecute_callThatReverts_reportsTheInnerErrorsCode(home, city, session_operator):
    """A threshold above the member count that passes the early check (a member leaves in between) is refused by
    the contract at execution: all or nothing, with the inner error's code."""
    operator = str(light_keystore(home / "operator.json", session_operator))
    second = Account.create()
    c = city["Consortium"]
    propose_and_execute(city.w3, c, [session_operator], [call(c, "addMember", second.address)], advance_time=True)
    pid = gov_in_process(home, "propose", "set-threshold", "2", "1", "--keystore", operator)["proposalId"]  # queued
    propose_and_execute(city.w3, c, [session_operator], [call(c, "removeMember", second.address)], advance_time=True)
    refused = gov_in_process(home, "execute", str(pid), "--keystore", operator, ok=False)
    assert (refused["error"]["code"], refused["error"]["outerError"]) == ("invalid_threshold", "ConsortiumCallFailed")
    assert c.functions.threshold().call() == 1


def test_govKeyImport_keyFromStdin_becomesAnEncryptedKeystore(home):
    account = Account.create()
    made = gov_in_process(home, "key", "import", "demo-member", stdin=account.key.hex() + "\n")
    assert made["address"] == account.address
    path = Path(made["keystore"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert account.key.hex() not in path.read_text().lower()
    assert Account.from_key(Account.decrypt(json.loads(path.read_text()), PASSWORD)).address == account.address
