"""Report, proofs and attestation: the Merkle tree is OpenZeppelin's, proofs verify on chain and in node, the
report is signed, attestation needs AUDITOR_ROLE, resume equals a full replay, patterns are flagged."""
from __future__ import annotations

import json
import subprocess

import pytest
from eth_account import Account
from typer.testing import CliRunner

from ledger_node import chain, paths
from ledger_node.audit import report as rep
from ledger_node.audit.attest import attest, attested, verify_balance_on_chain
from ledger_node.audit.cli import app
from ledger_node.merkle import BalanceTree, verify

S1, S2 = 1, 2


def _oz_tree(lines: list[tuple[str, int, int]], account: str, scheme: int) -> dict:
    script = """
const {StandardMerkleTree} = require('@openzeppelin/merkle-tree');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const tree = StandardMerkleTree.of(input.values, ['address', 'uint256', 'uint256']);
let proof = null;
for (const [i, v] of tree.entries()) {
  if (v[0].toLowerCase() === input.account && v[1] === input.scheme) proof = tree.getProof(i);
}
console.log(JSON.stringify({root: tree.root, proof}));
"""
    values = [[a, str(s), str(b)] for a, s, b in lines]
    out = subprocess.run(["node", "-e", script], input=json.dumps({"values": values, "account": account,
                                                                   "scheme": str(scheme)}),
                         capture_output=True, text=True, cwd=paths.ROOT, check=True)
    return json.loads(out.stdout)


def test_merkle_sameRootAndProofsAsOpenZeppelinMerkleTree():
    lines = [(Account.create().address.lower(), s, b) for s, b in [(1, 10), (2, 5), (1, 10**20), (4, 1), (3, 77)]]
    ours = BalanceTree(lines)
    for account, scheme, balance in lines:
        oz = _oz_tree(lines, account, scheme)
        assert oz["root"] == ours.root
        assert oz["proof"] == ours.proof(account, scheme)
        assert verify(ours.root, oz["proof"], account, scheme, balance)
    assert not verify(ours.root, ours.proof(*lines[0][:2]), lines[0][0], lines[0][1], lines[0][2] + 1)


def test_attest_proofsFromTheReportVerifyOnChainAndInNode(audit_city, run_audit):
    result = run_audit()
    report = rep.sign(result.report, audit_city.auditor.key.hex())
    assert rep.verify_signature(report) == (True, f"signed by auditor {audit_city.auditor.address}")
    att = attest(audit_city.url, audit_city.addresses["AuditAttestations"], audit_city.auditor.key.hex(), report)
    on_chain = attested(audit_city.url, audit_city.addresses["AuditAttestations"], report)
    assert on_chain["id"] == att["id"] == 1 and on_chain["merkleRoot"] == report["merkle"]["root"]
    assert on_chain["auditor"] == audit_city.auditor.address
    lines = report["merkle"]["lines"]
    for line in lines[:4]:
        assert verify_balance_on_chain(audit_city.url, audit_city.addresses["AuditAttestations"], 1, line)
        assert not verify_balance_on_chain(audit_city.url, audit_city.addresses["AuditAttestations"], 1,
                                           dict(line, balance=line["balance"] + 1))
    line = lines[0]
    oz = _oz_tree([(x["account"], x["scheme"], x["balance"]) for x in lines], line["account"], line["scheme"])
    assert oz["root"] == report["merkle"]["root"] and oz["proof"] == line["proof"]


def test_attest_byNonAuditor_reverts(audit_city):
    contract = audit_city["AuditAttestations"]
    with pytest.raises(chain.TransactionFailed) as info:
        chain.transact(audit_city.w3, audit_city.relayer, contract.functions.attest(b"\x01" * 32, b"\x02" * 32, 0, 1))
    assert info.value.error == "AuditAttestationsNotAuditor"


def test_cli_attestProofVerify_endToEnd(audit_city, tmp_path):
    key = tmp_path / "auditor.key"
    key.write_text(audit_city.auditor.key.hex())
    out = tmp_path / "r.json"
    contracts = [f"--contract={k}={v}" for k, v in audit_city.addresses.items()]
    res = CliRunner().invoke(app, ["--rpc", audit_city.url, "--out", str(out), "--auditor-key", str(key),
                                   "--attest", "--html", str(tmp_path / "r.html"), *contracts])
    assert res.exit_code == 0, res.output
    assert "Merkle root" in (tmp_path / "r.html").read_text()
    resident = audit_city.residents[1].address
    res = CliRunner().invoke(app, ["proof", "--report", str(out), "--account", resident])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.output)
    assert {x["scheme"] for x in printed["lines"]} == {S1, S2} and all(x["verifies"] for x in printed["lines"])
    res = CliRunner().invoke(app, ["verify", "--report", str(out), "--rpc", audit_city.url])
    assert res.exit_code == 0, res.output
    tampered = json.loads(out.read_text())
    tampered["merkle"]["lines"][0]["balance"] += 1
    out.write_text(json.dumps(tampered))
    assert CliRunner().invoke(app, ["verify", "--report", str(out)]).exit_code == 1


def test_resume_givesTheSameResultAsAFullReplay(audit_city, run_audit):
    first = run_audit()
    assert first.report["ok"]
    audit_city.issue(audit_city.issuer1, S1, [r.address for r in audit_city.residents], 7, "later")
    audit_city.exchange(audit_city.residents[3], S2, S1, 50)
    audit_city.redeem(audit_city.consent(audit_city.residents[5], 300))
    resumed = run_audit(resume=json.loads(json.dumps(first.report)))
    full = run_audit()
    assert resumed.report["ok"] and full.report["ok"]
    assert resumed.report["fromBlock"] == full.report["fromBlock"] and resumed.report["toBlock"] == full.report["toBlock"]
    assert resumed.report["merkle"] == full.report["merkle"]
    assert resumed.report["state"] == full.report["state"]
    assert resumed.report["schemes"] == full.report["schemes"]
    assert resumed.report["counts"]["events"] == full.report["counts"]["events"]
    assert resumed.report["counts"]["eventsThisRun"] < full.report["counts"]["eventsThisRun"]


def test_patterns_capFarmingAndCircularExchange_areWarningsUnlessStrict(audit_city, tmp_path):
    residents = [r.address for r in audit_city.residents]
    audit_city.issue(audit_city.issuer1, S1, residents, 500, "fill")  # everyone to the cap of 1,000 at once
    r = audit_city.residents[1]
    audit_city.exchange(r, S2, S1, 40)  # back to the scheme it exchanged out of: a cycle
    args = ["--rpc", audit_city.url, "--out", str(tmp_path / "r.json"), "--threshold", "cap_fill_residents=3",
            *[f"--contract={k}={v}" for k, v in audit_city.addresses.items()]]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "warnings" and report["ok"]
    found = {f["pattern"]: f for f in report["findings"]}
    assert found["cap-farming"]["evidence"]["issuer"] == audit_city.issuer1.address.lower()
    assert found["cap-farming"]["evidence"]["residents"] >= 3
    assert found["circular-exchange"]["evidence"]["cycle"] == [S1, S2, S1]
    assert CliRunner().invoke(app, args + ["--strict"]).exit_code == 3
