"""A mapping-file run cites the published version of the rules its file applies: the SDK finds the version whose
hash on chain is the file's `rules_sha256` before sending anything, a file governance did not publish is refused
with nothing issued, and every batch carries the citation on chain (IssuanceRulesCited)."""
from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest

from issuer_sdk import errors
from issuer_sdk.adapters import MAPPINGS_DIR, adapter_for
from ledger_node.deploy.system import call, propose_and_execute
from isdk_helpers import SCHEME
from test_issuer_cli_adapter import issue, json_lines
from test_issuer_cli import cli_env

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
PROFILE = ("志愿服务积分", "Volunteer points", "分", "points", "Volunteer office", bytes.fromhex("2e7d32"), 1)


def publish(w3, city, operator, *hashes: bytes) -> None:
    """Describe the suite's scheme and publish `hashes` as its rules versions 1, 2, ..."""
    registry = city.contracts["SchemeRegistry"]
    calls = [call(registry, "describeScheme", SCHEME, PROFILE)]
    calls += [call(registry, "publishRules", SCHEME, h, f"https://rules.example/{SCHEME}/v{k}.json")
              for k, h in enumerate(hashes, start=1)]
    propose_and_execute(w3, city.contracts["Consortium"], [operator], calls, advance_time=True)


def records(city, n: int = 3, activity: str = "care") -> list[dict]:
    return [{"record_id": f"cite-{activity}-{i}", "resident": city.residents[i], "hours": "2", "confirmed_by": "org",
             "date": YESTERDAY, "activity": activity} for i in range(n)]


def citations(city) -> list[tuple[int, bytes]]:
    return [(e["args"]["rulesVersion"], bytes(e["args"]["rulesHash"])) for e in
            city.ledger.events.IssuanceRulesCited().get_logs(from_block=0, argument_filters={"scheme": SCHEME})]


def test_pushMany_citesThePublishedVersionWhoseHashIsTheFiles(w3, city, session_operator):
    adapter = adapter_for("volunteer")
    mine = bytes.fromhex(adapter.rules_sha256)
    publish(w3, city, session_operator, mine, b"\x07" * 32)  # v1 is this file; v2 a later document
    client = city.client()
    assert client.rules_citation(adapter.rules_sha256) == 1
    summary, rejected = adapter.push_many(client, records(city))
    assert (summary.issued, rejected) == (3, [])
    assert citations(city) == [(1, mine)]
    assert city.balance(city.residents[0]) == 20  # 2 hours of care


def test_aFileGovernanceDidNotPublish_isRefused_andNothingIsIssued(w3, city, session_operator):
    adapter = adapter_for("volunteer")
    publish(w3, city, session_operator, b"\x07" * 32)
    client = city.client()
    with pytest.raises(errors.RulesNotPublished) as info:
        adapter.push_many(client, records(city))
    assert info.value.code == "rules_not_published" and adapter.rules_sha256 in str(info.value)
    assert city.supply() == 0 and citations(city) == []
    # asking for a version checks that version's hash
    with pytest.raises(errors.RulesNotPublished, match="version 1 .* is the document with sha256 0707"):
        client.rules_citation(adapter.rules_sha256, 1)


def test_aSchemeWithoutPublishedRules_issuesUncitedAsBefore(city):
    summary, _ = adapter_for("volunteer").push_many(city.client(), records(city))
    assert summary.issued == 3 and citations(city) == []


def test_issueMany_citing_needsAReasonForEveryItem_andAPositiveVersion(w3, city, session_operator):
    publish(w3, city, session_operator, b"\x07" * 32)
    client = city.client()
    with pytest.raises(errors.InvalidIssuance, match="no reason code"):
        client.issue_many([(city.residents[0], 5, "no-reason")], rules_version=1)
    with pytest.raises(errors.InvalidIssuance, match="rules version"):
        client.issue_many([(city.residents[0], 5, "zero", 1)], rules_version=0)
    summary = client.issue_many([(city.residents[0], 5, "cited", 1)], rules_version=1)
    assert summary.issued == 1 and citations(city) == [(1, b"\x07" * 32)]
    assert city.supply() == 5


def test_cli_dryRunShowsTheVersionEachLineCites_andTheRunCitesIt(w3, city, session_operator, deployment_home):
    adapter = adapter_for("volunteer")
    publish(w3, city, session_operator, bytes.fromhex(adapter.rules_sha256))
    source = deployment_home / "records.csv"
    rows = records(city, 2, "teaching")
    with open(source, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    env = cli_env(deployment_home, city)
    mapping = MAPPINGS_DIR / "volunteer.yaml"
    dry = issue(deployment_home, mapping, source, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "rule teaching v1 (reason 2)" in dry.stdout and "cited as published version 1" in dry.stdout
    lines = json_lines(issue(deployment_home, mapping, source, "--dry-run", "--json", env=env))
    assert {(d["rule"], d["rules_cited"]) for d in lines[:-1]} == {("teaching", 1)} and lines[-1]["rules_cited"] == 1
    real = json_lines(issue(deployment_home, mapping, source, "--json", env=env))[-1]
    assert (real["issued"], real["rules_cited"]) == (2, 1) and citations(city) == [(1, bytes.fromhex(
        adapter.rules_sha256))]


def test_cli_refusesToRunAFileThatIsNotThePublishedRules(w3, city, session_operator, deployment_home):
    publish(w3, city, session_operator, b"\x07" * 32)
    source = deployment_home / "records.csv"
    rows = records(city, 1)
    with open(source, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    env = cli_env(deployment_home, city)
    out = issue(deployment_home, MAPPINGS_DIR / "volunteer.yaml", source, env=env)
    assert out.returncode == 2 and "no published version" in out.stdout + out.stderr
    assert city.supply() == 0
    dry = issue(deployment_home, MAPPINGS_DIR / "volunteer.yaml", source, "--dry-run", env=env)
    assert dry.returncode == 0 and "the run would stop" in dry.stdout
