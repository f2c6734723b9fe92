"""A sixth programme joins as data, end to end through `citypoints gov`'s own functions and no code change: the
consortium adds the scheme, describes it in the registry, gives it an issuer, a first rate and its rules v1 (the
rules document of the programme's mapping file); its issuer issues its export through that mapping file; the proposal
reads in words with the registry's name, and the auditor's report names the programme, its kind and rules version,
and lists its issuer with the proposal that allowed it."""
from __future__ import annotations

import hashlib

from eth_account import Account
from web3 import Web3

from issuer_sdk.adapters import load_adapter
from issuer_sdk.adapters.mapping import canonical_json
from ledger_node.audit.run import AuditOptions, audit
from ledger_node.deploy.system import call
from ledger_node.governance.actions import proposal_calls
from ledger_node.governance.proposals import read_proposal
from tests.governance.gov_helpers import carry_through

SIXTH = 6
MAPPING = """\
format: citypoints-adapter/1
program: community-help
scheme: 6
rules_version: community-2027.1
resident: {column: resident}
fields:
  kind: {type: choice, required: true, values: [meal, repair]}
  servings: {type: integer, min: 1, max: 50, default: 1}
rules:
  meal: {when: {kind: meal}, reason: 1, points_per_unit: 3, unit: servings}
  repair: {when: {kind: repair}, reason: 2, points: 10}
ref: "community:{record_id}"
"""


def test_aSixthProgramme_joinsThroughGovernance_issues_andAuditsNamed(town, node, session_system, tmp_path):
    city = town.city
    issuer, resident, office = Account.create(), Account.create(), Account.create()
    membership = city["Membership"]
    town.govern([call(membership, "grantRole", membership.functions.ONBOARDING_ROLE().call(), office.address)])
    from ledger_node import chain
    chain.fund(city.w3, town.members[0], [issuer.address, office.address], 10**18)
    chain.transact(city.w3, office, membership.functions.registerResident(
        resident.address, Web3.keccak(text=f"sixth:{resident.address}")))

    carry_through(town, proposal_calls(city, "add-scheme", [str(SIXTH), "1000000", "1000"]), "a sixth programme")
    mapping = tmp_path / "community.yaml"
    mapping.write_text(MAPPING)
    adapter = load_adapter(mapping)
    rules = tmp_path / "rules-v1.json"  # the rules the programme's adapter applies, as the document governance hashes
    rules.write_bytes(canonical_json(adapter.spec.rules_document()))
    calls = (proposal_calls(city, "describe-scheme", [str(SIXTH), "社区互助积分", "Community help", "分", "points",
                                                       "Community Office", "#8d6e63", "valued"])
             + proposal_calls(city, "add-issuer", [str(SIXTH), issuer.address])
             + proposal_calls(city, "set-initial-rate", [str(SIXTH), "3000000"]))
    pid = carry_through(town, calls, "community help joins")
    words = [c["words"] for c in read_proposal(city, pid)["calls"]]
    assert words[0].startswith("describe scheme 6 as 社区互助积分 / Community help") and "valued" in words[0]
    assert words[2] == "give scheme 6 its first rate: 1 point = 0.03 credits"
    # its rules: once described (the check reads the chain), the document's sha256 from the file
    published = carry_through(town, proposal_calls(city, "publish-rules", [str(SIXTH), str(rules),
                                                                           "https://rules.example/6/v1.json"]))
    assert "sha256 0x" + hashlib.sha256(rules.read_bytes()).hexdigest() in \
        read_proposal(city, published)["calls"][0]["words"]
    assert city["SchemeRegistry"].functions.rules(SIXTH, 1).call()[0].hex() == adapter.rules_sha256

    from issuer_sdk import IssuerClient, LocalSigner
    client = IssuerClient(node.url, city["PointsLedger"].address, LocalSigner(issuer.key), adapter.default_scheme,
                          salt=b"\x06" * 32, chain_id=city.w3.eth.chain_id)
    export = [{"record_id": "meal-1", "resident": resident.address, "kind": "meal", "servings": "3"},
              {"record_id": "fix-1", "resident": resident.address, "kind": "repair"},
              {"record_id": "meal-2", "resident": resident.address, "kind": "banquet"}]
    summary, rejected = adapter.push_many(client, export)
    assert (summary.issued, [(o.line, o.reason) for o in rejected]) == (2, [(3, "unknown_kind")])
    assert city["PointsLedger"].functions.balanceOf(resident.address, SIXTH).call() == 19

    # its batches cited its published rules v1: the auditor checks them against the document governance published,
    # which it must be given (the shipped documents are the demo programmes'); without it they are unverifiable
    lacking = audit(AuditOptions(node.url, dict(session_system))).report["problems"]
    assert [p["code"] for p in lacking] == ["rules-document-unknown"]
    report = audit(AuditOptions(node.url, dict(session_system), rules_dirs=(tmp_path,))).report
    assert report["problems"] == [], report["problems"]
    (sixth,) = [s for s in report["schemes"] if s["scheme"] == SIXTH]
    assert sixth["rulesCited"] == {"1": 2}
    assert (sixth["nameEn"], sixth["kind"], sixth["rulesVersion"], sixth["totalSupply"]) == (
        "Community help", "valued", 1, 19)
    (grant,) = [i for i in report["issuers"] if i["scheme"] == SIXTH]
    assert (grant["account"], grant["proposal"], grant["description"]) == (
        issuer.address.lower(), pid, "community help joins")
