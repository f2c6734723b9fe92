"""The demo city's own history audits clean, and one forged step in it is caught.

`citypoints deploy` and `citypoints demo` (scripts/demo.py's load_demo, every step: the consortium's hand-over
from the bootstrap operator to the 4-of-7 members, rules, residents, a month of issuance, exchanges,
redemptions, refunds, a settled period), with few residents, on a chain of this module's own. The forged steps
are made with the engine's state-rewriting methods and the chain is reverted after each.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass

import pytest
from eth_abi import encode
from eth_account import Account
from rich.console import Console
from web3 import Web3

from ledger_node import chain, paths
from ledger_node.node.anvil import AnvilProcess, free_port, write_genesis
from ledger_node.config import NodeConfig
from ledger_node.deploy.system import call

RESIDENTS, MERCHANTS = 24, 3


@dataclass
class DemoChain:
    url: str
    w3: Web3
    home: object
    deployment: dict
    demo: dict
    operator: object

    @property
    def addresses(self) -> dict[str, str]:
        return self.deployment["contracts"]

    def contract(self, name: str):
        return chain.bind(self.w3, name, self.addresses[name])

    def members(self):
        return [Account.from_key(m["privateKey"]) for m in self.demo["members"]]


@pytest.fixture(scope="module")
def demo_chain(tmp_path_factory, artifacts):
    """A bare anvil with `citypoints deploy` and `citypoints demo` run against it, in a home of its own."""
    from ledger_node.deploy.command import deploy
    from scripts.demo import load_demo

    home = tmp_path_factory.mktemp("demo-city")
    operator = Account.create()
    (home / "var" / "keys").mkdir(parents=True)
    (home / "var" / "keys" / "operator.key").write_text(operator.key.hex())
    cfg = NodeConfig(port=free_port())
    write_genesis(home / "genesis.json", cfg, {operator.address: 10**24})
    proc = AnvilProcess(cfg, home / "genesis.json", home / "anvil.log")
    proc.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("CITYPOINTS_HOME", str(home))
            deployment = deploy(proc.url).deployment
            load_demo(residents=RESIDENTS, merchants=MERCHANTS, console=Console(file=io.StringIO()))
            demo = json.loads(paths.demo_file().read_text())
        yield DemoChain(proc.url, chain.connect(proc.url), home, deployment, demo, operator)
    finally:
        proc.stop()


@pytest.fixture
def demo(demo_chain):
    """The demo chain, reverted after the test."""
    snapshot = demo_chain.w3.provider.make_request("evm_snapshot", [])["result"]
    yield demo_chain
    assert demo_chain.w3.provider.make_request("evm_revert", [snapshot])["result"]


def run_audit(demo: DemoChain):
    from ledger_node.audit.run import AuditOptions, audit

    return audit(AuditOptions(demo.url, dict(demo.addresses)))


def run_cli(demo: DemoChain, tmp_path) -> subprocess.CompletedProcess:
    """`citypoints audit` as a user runs it, its output going into a pipe (not a terminal)."""
    deployment = tmp_path / "deployment.json"
    deployment.write_text(json.dumps(demo.deployment))
    return subprocess.run([sys.executable, "-m", "scripts.cli", "audit", "--rpc", demo.url, "--deployment",
                           str(deployment), "--out", str(tmp_path / "report.json")],
                          cwd=paths.ROOT, capture_output=True, text=True, timeout=300)


def test_demoCity_auditsCleanThroughTheGovernanceHandOver(demo, tmp_path):
    result = run_audit(demo)
    report = result.report
    assert report["problems"] == [], report["problems"]
    assert report["ok"] and report["status"] in ("clean", "warnings")  # findings are warnings, never failures
    # the whole demo was replayed, the hand-over included: the operator proposed, approved alone (1 of 1) and
    # executed the proposal that made the consortium 4 of 7 and removed the operator itself
    by_name = report["counts"]["eventsByName"]
    assert by_name["MemberRemoved"] == 1 and by_name["MemberAdded"] == 1 + 7
    assert by_name["Redeemed"] == RESIDENTS and by_name["Refunded"] == 2 and by_name["Exchanged"] == RESIDENTS
    assert by_name["PaymentConfirmed"] >= 1
    state = report["state"]["ledger"]
    assert state["members"] == sorted(m.address.lower() for m in demo.members())
    assert (state["threshold"], state["emergencyThreshold"]) == (4, 2)
    consortium = demo.contract("Consortium")
    (removed,) = consortium.events.MemberRemoved().get_logs(from_block=0)
    assert removed["args"]["member"] == demo.operator.address
    (executed,) = [e for e in consortium.events.ProposalExecuted().get_logs(from_block=0)
                   if e["transactionHash"] == removed["transactionHash"]]
    assert executed["args"]["executor"] == demo.operator.address
    # the command a user runs says the same, through a pipe, with exit status 0 and whole values in its tables
    out = run_cli(demo, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "problems                     │ 0 " in out.stdout
    assert "10,000,000" in out.stdout  # scheme 1's rate, cut to "10,…" at 80 columns before
    assert json.loads((tmp_path / "report.json").read_text())["problems"] == []


def _hide_member(tamper, account: str, present: bool) -> None:
    """Put `account` into (or take it out of) Consortium's member set by writing its storage: no event, no
    proposal. EnumerableSet.AddressSet: the values array at the slot, positions (index + 1) at slot + 1."""
    base = tamper.slot("Consortium", "_members")
    length = tamper.read("Consortium", base)
    if present:
        index = length
        length += 1
    else:
        length -= 1
        index = length
    element = int.from_bytes(Web3.keccak(base.to_bytes(32, "big")), "big") + index
    position = int.from_bytes(Web3.keccak(encode(["address", "uint256"], [account, base + 1])), "big")
    tamper.write("Consortium", element, int(account, 16) if present else 0)
    tamper.write("Consortium", position, index + 1 if present else 0)
    tamper.write("Consortium", base, length)


def _approved_proposal(demo: DemoChain, approvers: int) -> int:
    """A harmless proposal by the first member, approved by the first `approvers` members (its state: Ready when
    they reach the 4 of 7)."""
    consortium, exchange = demo.contract("Consortium"), demo.contract("Exchange")
    members = demo.members()
    (target, data) = call(exchange, "setDailyLimit", 123_456)
    receipt = chain.transact(demo.w3, members[0], consortium.functions.propose([(target, data)], "forged step"))
    pid = consortium.events.ProposalCreated().process_receipt(receipt)[0]["args"]["proposalId"]
    for member in members[1:approvers]:
        chain.transact(demo.w3, member, consortium.functions.approve(pid))
    return pid


def test_forgedExecutionByNonMember_isCaught(demo, tamper_on, tmp_path):
    """A stranger slipped into the member set behind governance's back executes an approved proposal and is taken
    out again: the chain's end state shows nothing, the audit names the execution."""
    consortium = demo.contract("Consortium")
    pid = _approved_proposal(demo, 4)
    stranger = Account.create()
    chain.fund(demo.w3, demo.operator, [stranger.address], 10**20)
    tamper = tamper_on(demo.w3, demo.addresses)
    _hide_member(tamper, stranger.address, True)
    assert consortium.functions.isMember(stranger.address).call()
    receipt = chain.transact(demo.w3, stranger, consortium.functions.execute(pid))
    _hide_member(tamper, stranger.address, False)
    assert not consortium.functions.isMember(stranger.address).call()
    assert len(consortium.functions.members().call()) == 7

    result = run_audit(demo)
    assert [(p.kind, p.code, p.block, p.tx) for p in result.problems] == [
        ("violation", "executed-by-non-member", receipt["blockNumber"], receipt["transactionHash"].to_0x_hex())]
    assert result.problems[0].evidence["executor"] == stranger.address.lower()
    out = run_cli(demo, tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    # whole values through a pipe: the executor's address and the message on one line of the problems table
    assert f"{stranger.address.lower()} executed proposal {pid} without being a member" in out.stdout


def test_forgedApprovals_areCaught(demo, tamper_on):
    """Approvals written into storage (no ProposalApproved) let a member queue and execute a proposal that only its
    proposer approved: the audit counts the approvals it saw given by members."""
    consortium = demo.contract("Consortium")
    members = demo.members()
    pid = _approved_proposal(demo, 1)
    tamper = tamper_on(demo.w3, demo.addresses)
    for member in members[1:4]:
        tamper.write("Consortium", tamper.slot("Consortium", "_approved", pid, member.address), 1)
    assert consortium.functions.approvalCount(pid).call() == 4
    queued = chain.transact(demo.w3, members[1], consortium.functions.queue(pid))
    executed = chain.transact(demo.w3, members[1], consortium.functions.execute(pid))

    result = run_audit(demo)
    assert sorted((p.code, p.block) for p in result.problems) == [
        ("executed-without-approvals", executed["blockNumber"]), ("queued-without-approvals", queued["blockNumber"])]
    (p,) = [p for p in result.problems if p.code == "executed-without-approvals"]
    assert p.evidence["approvals"] == [members[0].address.lower()] and p.evidence["required"] == 4


def test_demoCity_hasAGovernanceHistory_madeThroughTheCommands_andTheReportListsEachIssuersProposal(demo, tmp_path,
                                                                                                  monkeypatch):
    """The demo's history since set-up came through `citypoints gov`'s functions: an issuer onboarded, a shop
    registered, green points paused and resumed (each executed, approved by signed approvals), a rate change
    queued behind its week of notice; the auditor lists every issuer account with the proposal that allowed it,
    and the new issuer's points are on chain."""
    from ledger_node.governance.city import open_city
    from ledger_node.governance.proposals import list_proposals
    from scripts.demo_history import NEW_TRAFFIC_RATE, history_proposals

    monkeypatch.setenv("CITYPOINTS_HOME", str(demo.home))  # the demo's names for schemes and accounts
    deployment = tmp_path / "deployment.json"
    deployment.write_text(json.dumps(demo.deployment))
    city = open_city(demo.url, deployment)
    shown = {p["description"]: p for p in list_proposals(city)}
    history = history_proposals(demo.demo)
    states = [shown[description]["state"] for description, *_ in history]
    assert states == ["executed"] * 4 + ["queued"]
    for description, *_ in history:
        p = shown[description]
        assert p["approvals"] >= p["required"] and "signature" in p["approvedHow"].values(), p
    # a scheme is named by its registry description
    assert "set rate of scheme 2 (Traffic civility): 1 point = 0.06 credits" in \
        shown[history[-1][0]]["calls"][0]["words"]
    assert demo.contract("Rates").functions.rateOf(2).call() != NEW_TRAFFIC_RATE  # still behind its notice
    office = demo.demo["districtIssuers"][0]["address"]
    shop = demo.demo["merchants"][-1]["address"]
    membership = demo.contract("Membership").functions
    assert membership.isIssuer(1, office).call() and membership.isMerchantActive(shop).call()
    assert demo.contract("PointsLedger").functions.schemeInfo(4).call()[0] == 1  # active again after the pause

    report = run_audit(demo).report
    assert report["problems"] == []
    issuers = {(i["scheme"], i["account"]): i for i in report["issuers"]}
    assert len(issuers) == 6  # five programmes' issuers and the district office
    onboarded = issuers[1, office.lower()]
    assert onboarded["proposal"] == shown[history[0][0]]["id"] and onboarded["description"] == history[0][0]
    founding = {i["proposal"] for key, i in issuers.items() if key != (1, office.lower())}
    assert len(founding) == 1 and None not in founding  # the set-up proposal that made the four programmes
    assert report["counts"]["eventsByName"]["PointsIssued"] >= 5  # the district office issued too
    issued_by = {e["args"]["issuer"] for e in demo.contract("PointsLedger").events.PointsIssued().get_logs(
        from_block=0, argument_filters={"scheme": 1})}
    assert office in issued_by
    # the demo's period is closed and every statement of it (merchants' and issuers') confirmed
    state = report["state"]["ledger"]
    assert state["closedAt"]["1"] > 0 and state["statements"]
    confirmed = 2  # IClearing.SettlementState.Confirmed
    owed = [s for s in state["statements"].values() if s["amount"] != 0]
    assert {s["kind"] for s in owed} == {1, 2} and {s["state"] for s in owed} == {confirmed}, owed


def test_demoCity_hasFiveProgrammes_describedInTheRegistry_withResidencePointsEligibilityOnly(demo):
    """The five programmes are data: described on chain (names, organisation, colour, kind) with their rules v1,
    residence-permit points eligibility-only (no rate, so neither spent nor exchanged) and held by residents; the
    auditor's report names each programme and its rules version."""
    from scripts.demo_city import PROFILES, RESIDENCE, rules_document

    registry, rates = demo.contract("SchemeRegistry"), demo.contract("Rates")
    assert sorted(demo.contract("PointsLedger").functions.schemeIds().call()) == [1, 2, 3, 4, 5]
    for scheme, profile in PROFILES.items():
        on_chain = registry.functions.profileOf(scheme).call()
        assert (on_chain[0], on_chain[1], on_chain[6]) == (profile[0], profile[1], profile[6])
        assert registry.functions.rulesVersion(scheme).call() == 1
        assert registry.functions.rules(scheme, 1).call()[0] == __import__("hashlib").sha256(
            rules_document(scheme)).digest()
    from issuer_sdk.adapters import PROGRAMS, adapter_for

    for adapter in map(adapter_for, PROGRAMS):  # the rules a programme's adapter runs cite are those published
        assert registry.functions.rules(adapter.default_scheme, 1).call()[0].hex() == adapter.rules_sha256
    assert registry.functions.isEligibilityOnly(RESIDENCE).call() and rates.functions.rateOf(RESIDENCE).call() == 0
    resident = demo.demo["residents"][0]["address"]
    assert demo.contract("PointsLedger").functions.balanceOf(resident, RESIDENCE).call() > 0
    report = run_audit(demo).report
    assert report["problems"] == []
    # every programme's issuance cited its published rules (v1), checked entry by entry against the document
    assert [f for f in report["findings"] if f["pattern"] == "uncited-issuance"] == []
    cited = {s["scheme"]: s["rulesCited"] for s in report["schemes"]}
    assert all(cited[s].get("1") for s in (1, 2, 3, 4, RESIDENCE)), cited
    named = {s["scheme"]: (s["nameEn"], s["kind"], s["rulesVersion"]) for s in report["schemes"]}
    assert named[RESIDENCE] == ("Residence-permit points", "eligibility-only", 1)
    assert named[2] == ("Traffic civility", "valued", 1)
    assert report["counts"]["eventsByName"].get("Redeemed") and not any(
        s["redeemed"] for s in report["schemes"] if s["scheme"] == RESIDENCE)
