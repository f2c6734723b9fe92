"""`citypoints issue` (issuer_sdk.cli) in a subprocess against the session node: summary, rejects, kill and rerun;
and, in process, the crash-safe rewrite of the rejects file on resume."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from issuer_sdk import cli
from issuer_sdk.signer import write_keystore
from isdk_helpers import SALT, SCHEME

ROOT = Path(__file__).resolve().parents[2]
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()


def write_records(path: Path, residents: list[str], n: int, bad_every: int = 0) -> tuple[int, int]:
    """n volunteer records of 1.5 hours (15 points); every `bad_every`-th has bad hours. Returns (valid, bad)."""
    bad = 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "resident", "hours", "confirmed_by", "date", "activity"])
        for i in range(n):
            hours = "1.5"
            if bad_every and i % bad_every == bad_every - 1:
                hours, bad = "lots", bad + 1
            w.writerow([f"shift-{i}", residents[i % len(residents)], hours, "organiser", YESTERDAY, "events"])
    return n - bad, bad


def cli_env(home: Path, city) -> dict:
    keystore = home / "issuer.json"
    if not keystore.exists():
        write_keystore(keystore, bytes(city.issuer.key), "pw", kdf="pbkdf2", iterations=2)
    return {**os.environ, "CITYPOINTS_HOME": str(home), "CITYPOINTS_KEYSTORE_PASSWORD": "pw",
            "CITYPOINTS_ISSUER_SALT": SALT, "PYTHONPATH": str(ROOT)}


def cli_args(home: Path, records: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "issuer_sdk.cli", "issue", "--program", "volunteer", "--file", str(records),
            "--scheme", str(SCHEME), "--keystore", str(home / "issuer.json"), *extra]


def issued_on_chain(city) -> tuple[int, int]:
    """(items issued, items skipped) over the PointsIssued events of this suite's issuer in its scheme.

    Only this issuer's: what else the suite's node holds (a fixture's or another test's issuance) is not counted."""
    ledger = city.ledger
    logs = ledger.events.PointsIssued().get_logs(
        from_block=0, argument_filters={"scheme": SCHEME, "issuer": city.issuer.address})
    issued = sum(len(log["args"]["refs"]) - len(log["args"]["skipped"]) for log in logs)
    return issued, sum(len(log["args"]["skipped"]) for log in logs)


def test_cli_issuesFileAndSummarises(city, deployment_home):
    records = deployment_home / "records.csv"
    valid, bad = write_records(records, city.residents, 120, bad_every=10)
    env = cli_env(deployment_home, city)
    out = subprocess.run(cli_args(deployment_home, records, "--json", "--batch-size", "25"), env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert (summary["issued"], summary["duplicates"], summary["rejected"]) == (valid, 0, bad)
    assert city.supply() == valid * 15
    with open(summary["rejected_file"]) as f:
        rows = list(csv.DictReader(f))
    assert [r["reason"] for r in rows] == ["bad_hours"] * bad and rows[0]["line"] == "11"
    # a second run of a completed file re-sends everything and the ledger skips it all
    again = subprocess.run(cli_args(deployment_home, records, "--json"), env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert (summary["issued"], summary["duplicates"], summary["rejected"]) == (0, valid, bad)
    assert city.supply() == valid * 15


def test_cli_killedAndRerun_issuesEachRecordOnce(city, deployment_home):
    records = deployment_home / "records.csv"
    valid, bad = write_records(records, city.residents, 4000, bad_every=97)
    env = cli_env(deployment_home, city)
    progress = records.with_name(records.name + ".progress.json")
    proc = subprocess.Popen(cli_args(deployment_home, records, "--json", "--batch-size", "8", "--max-in-flight", "2"),
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    line = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = json.loads(progress.read_text())["line"]
        except (FileNotFoundError, ValueError, KeyError):
            pass
        if line >= 400:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = city.supply()
    assert 0 < partial < valid * 15

    out = subprocess.run(cli_args(deployment_home, records, "--json", "--batch-size", "200"), env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["resumed_from_line"] >= 400
    assert summary["issued"] + summary["duplicates"] == valid  # every valid record once: issued, or found issued
    assert summary["rejected"] == bad
    assert city.supply() == valid * 15
    issued, skipped = issued_on_chain(city)
    assert issued == valid and skipped == summary["duplicates"]
    with open(summary["rejected_file"]) as f:
        assert len(list(csv.DictReader(f))) == bad  # no row rejected twice across the two runs


def test_cli_refusesMissingSignerWithExitCode2(city, deployment_home):
    records = deployment_home / "records.csv"
    write_records(records, city.residents, 3)
    env = {k: v for k, v in cli_env(deployment_home, city).items() if k != "CITYPOINTS_KEYSTORE_PASSWORD"}
    out = subprocess.run(cli_args(deployment_home, records), env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "password" in out.stderr
    assert city.supply() == 0


def test_resume_rejectedFileRewrite_isAtomic(tmp_path, monkeypatch):
    """The resume rewrite of the rejects file goes through a renamed temporary file: a crash before the rename
    leaves the old file whole; after it, the rows up to the checkpoint are kept and no temporary file remains."""
    records = tmp_path / "records.csv"
    records.write_text("record_id,resident,hours,confirmed_by,date,activity\n")
    client = SimpleNamespace(ledger="0x" + "11" * 20, chain_id=7007, signer=SimpleNamespace(address="0x" + "22" * 20))
    run = cli.IssueRun(records, "volunteer", SCHEME, client, adapter=None, restart=False)
    run.state["line"] = 5  # as loaded from a progress file: confirmed up to line 5
    before = "line,reason,detail,record\r\n3,bad_hours,lots,{}\r\n9,bad_hours,lots,{}\r\n"
    with open(run.rejected_path, "w", newline="") as f:
        f.write(before)

    def power_cut(*_):
        raise OSError("power cut")

    monkeypatch.setattr(cli.os, "replace", power_cut)
    with pytest.raises(OSError):
        run._open_rejects()
    with open(run.rejected_path, newline="") as f:
        assert f.read() == before
    monkeypatch.undo()

    writer = run._open_rejects()
    writer.writerow([12, "bad_hours", "lots", "{}"])
    run._rejects_file.close()
    with open(run.rejected_path, newline="") as f:
        assert list(csv.reader(f)) == [cli.REJECTED_HEADER, ["3", "bad_hours", "lots", "{}"],
                                       ["12", "bad_hours", "lots", "{}"]]
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
