"""The generic adapter's HTTP source (`citypoints issue --listen`): a programme POSTs its records, signed; they are
checked as a file's lines are, issued citing the published rules, and a POST repeated is skipped by the ledger;
an unsigned, stale, oversized or malformed request is refused whole with nothing sent."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import date, timedelta

import httpx
import pytest

from issuer_sdk.adapters import adapter_for
from issuer_sdk.listen import RecordSource, serve
from ledger_node.signed_payload import sign
from test_issuer_cli import ROOT, cli_env
from test_issuer_rules_citation import citations, publish

SECRET = "programme-secret"
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()


@pytest.fixture
def source(city):
    """The HTTP source of the volunteer file on a free port, serving from a thread."""
    def start(cited=None, **limits):
        adapter = adapter_for("volunteer")
        server = serve(RecordSource(adapter, city.client(), SECRET, cited, **limits), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"
    servers: list = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def post(url: str, payload, *, secret: str = SECRET, timestamp: int | None = None, headers=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sig = {"CityPoints-Signature": sign(secret, body, timestamp)} if secret else {}
    return httpx.post(url + "/records", content=body, headers={**sig, **(headers or {})}, timeout=30)


def record(city, i: int, **over) -> dict:
    return {"record_id": f"web-{i}", "resident": city.residents[i], "hours": "1.5", "confirmed_by": "org",
            "date": YESTERDAY, "activity": "care", **over}


def test_signedRecords_areIssuedCitingTheRules_andARepeatIsSkipped(w3, city, session_operator, source):
    publish(w3, city, session_operator, bytes.fromhex(adapter_for("volunteer").rules_sha256))
    url = source(cited=1)
    batch = {"records": [record(city, 0), record(city, 1), record(city, 2, activity="partying"),
                         record(city, 3, hours="99")]}
    first = post(url, batch)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["issued"], answer["issuedPoints"], answer["duplicates"], answer["rulesCited"]) == (2, 30, 0, 1)
    # the file's checks: an activity no rule takes, hours above the field's maximum
    assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [(2, "unknown_activity"),
                                                                       (3, "hours_out_of_range")]
    assert citations(city) == [(1, bytes.fromhex(adapter_for("volunteer").rules_sha256))]
    again = post(url, record(city, 0)).json()  # one record alone, sent again (a retry after a lost answer)
    assert (again["issued"], again["duplicates"]) == (0, 1)
    assert city.balance(city.residents[0]) == 15 and city.supply() == 30


def test_requestsRefusedWhole_sendNothing(city, source):
    url = source(max_body=2_000, max_records=2)
    nonce = city.ledger.w3.eth.get_transaction_count(city.issuer.address)
    cases = [
        (post(url, record(city, 0), secret=""), 401, "invalid_signature"),
        (post(url, record(city, 0), secret="another"), 401, "invalid_signature"),
        (post(url, record(city, 0), timestamp=int(time.time()) - 3600), 401, "invalid_signature"),
        (post(url, b"{not json"), 400, "invalid_json"),
        (post(url, [1, 2]), 422, "invalid_batch"),
        (post(url, [record(city, i) for i in range(3)]), 422, "invalid_batch"),
        (post(url, {"records": [record(city, 0, confirmed_by="x" * 3000)]}), 413, "body_too_large"),
        (httpx.get(url + "/records"), 405, "method_not_allowed"),
        (httpx.post(url + "/elsewhere", content=b"{}"), 404, "not_found"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
    assert city.ledger.w3.eth.get_transaction_count(city.issuer.address) == nonce and city.supply() == 0


def test_cli_listen_servesUntilStopped(city, deployment_home):
    env = {**cli_env(deployment_home, city), "CITYPOINTS_SOURCE_SECRET": SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "issuer_sdk.cli", "issue", "--program", "volunteer", "--scheme",
                             str(city.client().scheme), "--keystore", str(deployment_home / "issuer.json"),
                             "--listen", "127.0.0.1:0"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line and "not citing" in line, line + proc.stderr.read()
        url = line.split()[2].rstrip("/")
        answer = post(url, record(city, 4)).json()
        assert answer["issued"] == 1 and city.balance(city.residents[4]) == 15
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    missing = subprocess.run([sys.executable, "-m", "issuer_sdk.cli", "issue", "--program", "volunteer",
                              "--keystore", str(deployment_home / "issuer.json"), "--listen", "127.0.0.1:0"],
                             env={k: v for k, v in env.items() if k != "CITYPOINTS_SOURCE_SECRET"}, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "CITYPOINTS_SOURCE_SECRET" in missing.stdout + missing.stderr
