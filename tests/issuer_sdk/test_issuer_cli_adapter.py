"""`citypoints issue --adapter FILE SOURCE`: a mapping file drives a real run on the session node. The dry run
shows what the real run then issues, and what the ledger would skip; a rerun issues nothing twice; a malformed mapping file is refused with its
lines and nothing is sent; bad rows are rejected with their lines while good rows are issued; and a sixth
programme, registered through governance in the test, joins with a mapping file alone."""
from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from eth_account import Account

from issuer_sdk.adapters import MAPPINGS_DIR
from issuer_sdk.refs import RefHasher
from ledger_node.issuance_refs import event_id_of
from issuer_sdk.signer import write_keystore
from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from isdk_helpers import SALT, SCHEME
from test_issuer_cli import ROOT, cli_env, issued_on_chain, write_records

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()
TOMORROW = (date.today() + timedelta(days=2)).isoformat()  # still ahead if the run crosses midnight after collection


def issue(home: Path, mapping: Path, source: Path, *extra: str, keystore: str = "issuer.json", env=None,
          scheme: int | None = SCHEME) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "issuer_sdk.cli", "issue", "--adapter", str(mapping), str(source),
            "--keystore", str(home / keystore), *(["--scheme", str(scheme)] if scheme else []), *extra]
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def json_lines(out: subprocess.CompletedProcess) -> list[dict]:
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def issued_items(city, scheme: int, issuer: str) -> list[tuple[bytes, int]]:
    """(on-chain ref, reason code) of every item the issuer's PointsIssued events issued (skipped ones left out)."""
    out = []
    for log in city.ledger.events.PointsIssued().get_logs(from_block=0, argument_filters={"scheme": scheme,
                                                                                         "issuer": issuer}):
        skipped = set(log["args"]["skipped"])
        out += [(bytes(r), c) for i, (r, c) in enumerate(zip(log["args"]["refs"], log["args"]["reasonCodes"]))
                if i not in skipped]
    return out


def test_dryRunShowsWhatTheRealRunIssues_andARerunIssuesNothingTwice(city, deployment_home):
    records = deployment_home / "records.csv"
    valid, bad = write_records(records, city.residents, 90, bad_every=9)
    with open(records, "a", newline="") as f:  # one of each activity, and rows the rules refuse
        w = csv.writer(f)
        for i, activity in enumerate(("care", "teaching", "environment", "other")):
            w.writerow([f"extra-{i}", city.residents[i], f"{i + 1}.75", "organiser", YESTERDAY, activity])
        w.writerow(["late", city.residents[0], "2", "organiser", TOMORROW, "care"])
        w.writerow(["unknown", city.residents[0], "2", "organiser", YESTERDAY, "partying"])
    env = cli_env(deployment_home, city)
    mapping = MAPPINGS_DIR / "volunteer.yaml"

    dry = json_lines(issue(deployment_home, mapping, records, "--dry-run", "--json", env=env))
    assert city.supply() == 0  # the dry run sent nothing
    summary = dry[-1]
    would = [d for d in dry[:-1] if d["status"] == "would_issue"]
    refused = [(d["line"], d["reason"]) for d in dry[:-1] if d["status"] == "rejected"]
    assert summary["dry_run"] and summary["would_issue"] == len(would) == valid + 4
    assert refused == [(9 * k + 1, "bad_hours") for k in range(1, bad + 1)] + [(96, "future_date"),
                                                                             (97, "unknown_activity")]
    assert {d["rule"] for d in would} == {"events", "care", "teaching", "environment", "other"}
    assert summary["rules_version"] == "volunteer-2026.1" and len(summary["rules_sha256"]) == 64

    real = json_lines(issue(deployment_home, mapping, records, "--json", "--batch-size", "16", env=env))[-1]
    assert (real["issued"], real["duplicates"], real["rejected"]) == (len(would), 0, len(refused))
    assert real["issued_points"] == summary["would_issue_points"] == city.supply()
    assert (real["rules_version"], real["rules_sha256"]) == (summary["rules_version"], summary["rules_sha256"])
    # item by item: the refs and reason codes on chain are the dry run's, and so is every resident's balance
    hashed = RefHasher(SALT)
    # (the chain's ref is the issuer's sequence number, then the event id's salted hash cut to 24 bytes)
    assert [(event_id_of(r), c) for r, c in issued_items(city, SCHEME, city.issuer.address)] == \
        [(hashed(d["ref"])[-24:], d["reason"]) for d in would]
    per_resident = Counter()
    for d in would:
        per_resident[d["resident"]] += d["amount"]
    assert {r: city.balance(r) for r in per_resident} == dict(per_resident)
    with open(real["rejected_file"]) as f:
        assert [(int(r["line"]), r["reason"]) for r in csv.DictReader(f)] == refused
    progress = json.loads(records.with_name(records.name + ".progress.json").read_text())
    assert progress["identity"]["rules_sha256"] == summary["rules_sha256"]

    # after the run, the dry run finds every ref on the ledger, as the rerun then does
    dry_again = json_lines(issue(deployment_home, mapping, records, "--dry-run", "--json", env=env))
    assert dry_again[-1]["checked_against_ledger"] and (dry_again[-1]["would_issue"],
                                                         dry_again[-1]["duplicates"]) == (0, len(would))
    assert {d["detail"] for d in dry_again[:-1] if d["status"] == "duplicate"} == {"already on the ledger"}
    again = json_lines(issue(deployment_home, mapping, records, "--json", env=env))[-1]
    assert (again["issued"], again["duplicates"]) == (0, len(would))
    assert city.supply() == summary["would_issue_points"] and issued_on_chain(city) == (len(would), len(would))
    # without the salt the dry run cannot ask the ledger, and says so
    offline = {k: v for k, v in env.items() if k != "CITYPOINTS_ISSUER_SALT"}
    unchecked = json_lines(issue(deployment_home, mapping, records, "--dry-run", "--json", env=offline))[-1]
    assert not unchecked["checked_against_ledger"] and unchecked["would_issue"] == len(would)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def broken(kind: str) -> tuple[str, list[tuple[int, str]]]:
    """The culture mapping file broken one way, and the (line, code) of each problem it must be refused with."""
    text = (MAPPINGS_DIR / "culture.yaml").read_text()
    if kind == "syntax":
        cut = line_of(text, "fields:")
        text = "".join(text.splitlines(keepends=True)[:cut]) + "  kind: {type: choice, values: [a, b\n"
        return text, [(cut + 2, "mapping_syntax")]  # YAML sees the list unclosed where the file ends
    if kind == "unknown key, float amount, no format":
        first = line_of(text, "program: culture")
        text = text.replace("format: citypoints-adapter/1\n", "")
        text = text.replace("program: culture\n", "program: culture\nprogramme: culture\n")
        text = text.replace("reason: 2, points: 2}", "reason: 2, points: 2.5}")
        return text, [(first - 1, "missing_key"), (line_of(text, "programme:"), "unknown_key"),
                      (line_of(text, "points: 2.5"), "bad_value")]
    text = text.replace("unit: price", "unit: ticket_price")
    return text, [(line_of(text, "unit: ticket_price"), "unknown_field")]


@pytest.mark.parametrize("kind", ["syntax", "unknown key, float amount, no format", "a unit naming no field"])
def test_malformedMappingFile_isRefusedWithItsLines_andNothingIsSent(city, deployment_home, kind):
    records = deployment_home / "records.csv"
    write_records(records, city.residents, 5)
    mapping = deployment_home / "culture.yaml"
    text, expected = broken(kind)
    mapping.write_text(text)
    nonce = city.ledger.w3.eth.get_transaction_count(city.issuer.address)
    for extra in ((), ("--dry-run",)):
        out = issue(deployment_home, mapping, records, *extra, env=cli_env(deployment_home, city))
        assert out.returncode == 2, out.stdout + out.stderr
        text = " ".join(out.stderr.split())
        for line, code in expected:
            assert f"line {line}: {code}" in text, text
        assert f"{len(expected)} problem(s)" in text
        assert out.stdout == ""  # not a line of "would issue"
    assert city.supply() == 0 and city.ledger.w3.eth.get_transaction_count(city.issuer.address) == nonce
    assert not records.with_name(records.name + ".progress.json").exists()


LIBRARY = textwrap.dedent("""\
    # A sixth programme: the city libraries' reading points, joined by this file alone.
    format: citypoints-adapter/1
    program: library
    scheme: {scheme}
    rules_version: library-2027.1
    source: {{format: jsonl}}
    record_id: {{column: loan_no}}
    resident: {{column: reader}}
    fields:
      branch: {{type: text, required: true, max_length: 64}}
      kind: {{type: choice, column: type, required: true, values: [loan, reading_club, late_return]}}
      day: {{type: date, required: true}}
      pages: {{type: integer, min: 1, max: 2000}}
      staff: {{type: text}}
    conditions:
      - {{check: not_future, field: day}}
    rules:
      loan:
        when: {{kind: loan}}
        reason: 1
        points_per_unit: 0.05
        unit: pages
        min_points: 1
        max_points: 40
      reading_club:
        when: {{kind: reading_club}}
        reason: 2
        points: 15
        conditions:
          - {{check: non_empty, field: staff, code: unconfirmed, message: no librarian confirmed the session}}
        ref: "library:club:{{resident}}:{{day}}"
    ref: "library:{{branch}}:{{record_id}}"
    """)


def test_sixthProgramme_joinsWithAMappingFileAlone(city, w3, session_operator, deployment_home):
    scheme = 66
    issuer = Account.create()
    chain.fund(w3, session_operator, [issuer.address], 10**20)
    c = city.contracts
    propose_and_execute(w3, c["Consortium"], [session_operator], [
        call(c["PointsLedger"], "addScheme", scheme, 10**9, 10**6),
        call(c["Membership"], "setIssuerAccounts", scheme, [issuer.address]),
    ], "the libraries join", advance_time=True)
    write_keystore(deployment_home / "library-issuer.json", bytes(issuer.key), "pw", kdf="pbkdf2", iterations=2)
    mapping = deployment_home / "library.yaml"
    mapping.write_text(LIBRARY.format(scheme=scheme))
    a, b = city.residents[:2]
    rows = [
        {"loan_no": "L-1", "reader": a, "branch": "jinjiang", "type": "loan", "day": YESTERDAY, "pages": 320},
        {"loan_no": "L-2", "reader": b, "branch": "jinjiang", "type": "loan", "day": YESTERDAY, "pages": 10},
        {"loan_no": "L-3", "reader": a, "branch": "wuhou", "type": "loan", "day": YESTERDAY, "pages": 1900},
        {"loan_no": "C-1", "reader": b, "branch": "wuhou", "type": "reading_club", "day": YESTERDAY,
         "staff": "Librarian Wang"},
        {"loan_no": "C-2", "reader": b, "branch": "qingyang", "type": "reading_club", "day": YESTERDAY,
         "staff": "Librarian Li"},  # the same resident and day: one club award, whichever branch
        {"loan_no": "C-3", "reader": a, "branch": "wuhou", "type": "reading_club", "day": YESTERDAY, "staff": ""},
        {"loan_no": "L-4", "reader": a, "branch": "wuhou", "type": "late_return", "day": YESTERDAY},
        {"loan_no": "L-5", "reader": a, "branch": "wuhou", "type": "loan", "day": YESTERDAY, "pages": 2.5},  # JSON 2.5
        {"loan_no": "L-6", "reader": "nobody", "branch": "wuhou", "type": "loan", "day": YESTERDAY, "pages": 5},
    ]
    source = deployment_home / "loans.export"  # the format comes from the mapping file, not the name
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = cli_env(deployment_home, city)

    dry = json_lines(issue(deployment_home, mapping, source, "--dry-run", "--json", env=env, scheme=None))
    assert [(d["line"], d.get("amount"), d.get("rule"), d.get("reason")) for d in dry[:-1]] == [
        (1, 16, "loan", 1), (2, 1, "loan", 1), (3, 40, "loan", 1), (4, 15, "reading_club", 2),
        (5, 15, "reading_club", 2), (6, None, None, "unconfirmed"), (7, None, None, "no_rule"),
        (8, None, None, "bad_pages"), (9, None, None, "bad_resident")]
    assert dry[1]["ref"] == "library:jinjiang:L-2" and dry[3]["ref"] == f"library:club:{b.lower()}:{YESTERDAY}"
    assert [d["status"] for d in dry[3:5]] == ["would_issue", "duplicate"]  # C-2 repeats C-1's club day
    assert (dry[-1]["would_issue"], dry[-1]["would_issue_points"], dry[-1]["duplicates"]) == (4, 72, 1)

    written = issue(deployment_home, mapping, source, "--write-rules",
                    str(deployment_home / "rules-v1.json"), env=env, scheme=None)
    assert written.returncode == 0, written.stderr
    assert hashlib.sha256((deployment_home / "rules-v1.json").read_bytes()).hexdigest() == dry[-1]["rules_sha256"]

    out = json_lines(issue(deployment_home, mapping, source, "--json", keystore="library-issuer.json", env=env,
                           scheme=None))[-1]
    assert (out["issued"], out["duplicates"], out["rejected"]) == (4, 1, 4)  # C-2 is C-1's club day again
    assert (city.balance(a, scheme), city.balance(b, scheme)) == (56, 16)
    assert out["program"] == "library" and out["rules_version"] == "library-2027.1"
