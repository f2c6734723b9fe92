"""The service as `citypoints serve` runs it: the front on the public port, the API process and the read process
behind it (exchange_api/service.py). A wallet's reads (balances, history, caps, schemes, rates, ...) are answered
by the read process, fed by the API process's indexer, by the API's own rules (keys, limits, errors, headers);
everything else by the API process. Each test starts from the session chain's fresh city (`w3` reverts it)."""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from exchange_api.app import read_routes
from exchange_api.front import Backend, Front
from exchange_api.merchant_keys import create_key
from exchange_api.request_limits import client_address
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import IdxCursor

from .conftest import S1, _database_url, _free_port, auth

ROOT = Path(__file__).resolve().parents[2]
AUTH_FAILURES = 3  # the service's CITYPOINTS_AUTH_FAILURES_PER_MIN here: a few wrong keys reach the limit


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service_database(request, tmp_path_factory):
    yield from _database_url(request.param, tmp_path_factory.mktemp("serve-db"), "serve")


@pytest.fixture(scope="module")
def service(service_database, tmp_path_factory, node, session_w3, api_city):
    """`citypoints serve --detach` on a store of its own over the session chain, stopped by `serve --stop`: its URL,
    a merchant key, and its processes' ids."""
    home = tmp_path_factory.mktemp("serve-home")
    deployment = {"chainId": session_w3.eth.chain_id, "rpcUrl": node.url, "startBlock": 0,
                  "contracts": {k: v.address for k, v in api_city.contracts.items()}}
    (home / "deployment.json").write_text(json.dumps(deployment))
    database = service_database
    store = Store(Settings(database_url=database).database_url)
    store.migrate()
    with store.session() as s:
        key = create_key(s, name="shop-1", merchant_address=api_city.merchant.address).api_key
    store.dispose()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYPOINTS_")}
    env.update(CITYPOINTS_HOME=str(home), CITYPOINTS_DATABASE_URL=database, CITYPOINTS_PORT=str(port),
               CITYPOINTS_DEPLOYMENT_FILE=str(home / "deployment.json"), CITYPOINTS_DEV_SECRETS="false",
               CITYPOINTS_PII_KEY=base64.b64encode(os.urandom(32)).decode(),
               CITYPOINTS_IDENTITY_HMAC_KEY=base64.b64encode(os.urandom(32)).decode(),
               CITYPOINTS_RELAYER_KEYS=",".join(r.key.hex() for r in api_city.relayers),
               CITYPOINTS_AUDIT_DIR=str(home / "audit"), CITYPOINTS_INDEXER_POLL_S="0.05",
               CITYPOINTS_AUTH_FAILURES_PER_MIN=str(AUTH_FAILURES))
    cli = [sys.executable, "-m", "scripts.cli", "serve"]
    started = subprocess.run([*cli, "--detach"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr + _log(home)
    front = int((home / "var" / "api" / "api.pid").read_text())
    try:
        yield {"url": f"http://127.0.0.1:{port}", "key": key, "pids": _processes(front), "home": home,
               "database": database}
    finally:
        stopped = subprocess.run([*cli, "--stop"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not _alive(front), "serve --stop left the front running"


def _log(home: Path) -> str:
    log = home / "var" / "api" / "api.log"
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def _processes(front: int) -> dict[str, int]:
    children = subprocess.run(["pgrep", "-P", str(front)], capture_output=True, text=True).stdout.split()
    pids = {"front": front}
    for pid in map(int, children):
        pids["reads" if b"create_read_app" in Path(f"/proc/{pid}/cmdline").read_bytes() else "api"] = pid
    assert set(pids) == {"front", "api", "reads"}, pids
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _count(metrics: str, route: str) -> float:
    """Requests to `route` a process counted (all statuses)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("citypoints_api_requests_total{") and f'route="{route}"' in line)


def _followed(client: httpx.Client, w3, service: dict, timeout: float = 20.0) -> None:
    """Until the service's indexer has the chain's head block, by its hash (a cursor left from before the `w3`
    fixture's evm_revert names a block number the chain has, on another chain: the indexer rebuilds from it), and
    the read process has followed that cursor (it reads the cursor every `read_replica_poll_s`; a cursor it has
    not seen yet may have the same number as the one it holds)."""
    store = Store(Settings(database_url=service["database"]).database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            head = w3.eth.block_number
            cursor = store.call(lambda s: s.get(IdxCursor, 1), writer=False)
            if cursor is not None and head <= cursor.block_number <= w3.eth.block_number \
                    and w3.eth.get_block(cursor.block_number)["hash"].to_0x_hex() == cursor.block_hash:
                time.sleep(3 * Settings().read_replica_poll_s)  # the read process's next look at the cursor
                if client.get("/health/reads").json()["indexer"]["block"] >= cursor.block_number:
                    return
            assert time.monotonic() < deadline, "the read process did not follow the indexer to the head"
            time.sleep(0.05)
    finally:
        store.dispose()


BALANCES = "/v1/residents/{address}/balances"


def test_walletReads_areAnsweredByTheReadProcess_fedByTheIndexer(service, w3, api_city):
    r0 = api_city.residents[0]
    with httpx.Client(base_url=service["url"], timeout=30) as client:
        _followed(client, w3, service)
        reads_before = _count(client.get("/metrics/reads").text, BALANCES)
        api_before = _count(client.get("/metrics").text, BALANCES)
        before = client.get(f"/v1/residents/{r0.address}/balances")
        assert before.status_code == 200, before.text
        points = {b["scheme"]: b["points"] for b in before.json()["balances"]}
        for path in (f"/v1/residents/{r0.address}/history", f"/v1/residents/{r0.address}/caps", "/v1/schemes",
                     "/v1/rates"):
            assert client.get(path).status_code == 200, path

        # a redemption goes to the API process; the read process shows it once the indexer has its block
        sale = client.post("/v1/redemptions", json=api_city.consent(w3, r0, 1234), headers=auth(service["key"]))
        assert sale.status_code == 201, sale.text
        burned = {p["scheme"]: p["points"] for p in sale.json()["parts"]}
        deadline = time.monotonic() + 20
        while (after := client.get(f"/v1/residents/{r0.address}/balances").json())["asOfBlock"] \
                < sale.json()["blockNumber"]:
            assert time.monotonic() < deadline, "the read process never showed the redemption's block"
            time.sleep(0.05)
        assert {b["scheme"]: b["points"] for b in after["balances"]} == \
            {s: n - burned.get(s, 0) for s, n in points.items()}
        history = client.get(f"/v1/residents/{r0.address}/history", params={"limit": 5}).json()["data"]
        assert history[0]["kind"] == "burned" and history[0]["blockNumber"] == sale.json()["blockNumber"]

        # the read process counted the balance reads; the API process none of them
        assert _count(client.get("/metrics/reads").text, BALANCES) >= reads_before + 2
        assert _count(client.get("/metrics").text, BALANCES) == api_before


def test_reads_areAnswered_whileTheApiProcessIsStopped(service, w3, api_city):
    """The read process does not depend on the API process's event loop: frozen (SIGSTOP), the API process answers
    nothing, and a resident still reads their balances, and browses the catalogue, at once."""
    r0 = api_city.residents[0]
    with httpx.Client(base_url=service["url"], timeout=30) as client:
        _followed(client, w3, service)
        os.kill(service["pids"]["api"], signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            got = client.get(f"/v1/residents/{r0.address}/balances", timeout=5)
            assert got.status_code == 200 and got.json()["balances"][0]["scheme"] == S1
            assert time.monotonic() - t0 < 2
            for path in ("/v1/catalogue/offers", "/v1/catalogue/merchants", "/v1/catalogue/vocabulary"):
                browse = client.get(path, timeout=5)  # residents browse the catalogue too
                assert browse.status_code == 200 and browse.json()["object"], (path, browse.text)
            with pytest.raises(httpx.TimeoutException):
                client.get("/health/ready", timeout=1)  # the API process's: it cannot answer now
        finally:
            os.kill(service["pids"]["api"], signal.SIGCONT)
        assert client.get("/health/ready").status_code == 200


def test_readProcess_keepsTheApisRules_andAClientCannotNameItsOwnAddress(service, api_city):
    r0 = api_city.residents[0]
    path = f"/v1/residents/{r0.address}/balances"
    with httpx.Client(base_url=service["url"], timeout=30) as client:
        got = client.get(path)
        assert got.headers["x-request-id"].startswith("req_")
        for header in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
            assert header in got.headers, header
        bad = client.get("/v1/residents/0x12/balances")
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
        assert client.post("/v1/redemptions", content=b"{" * (1024 * 1024 + 1), headers=auth(service["key"])) \
            .json()["error"]["code"] == "body_too_large"

        # wrong API keys on a read count against the client's address, whatever X-Forwarded-For it writes
        for i in range(AUTH_FAILURES):
            wrong = client.get(path, headers={"Authorization": f"Bearer cpk_wrong{i}"})
            assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        for forwarded in (None, "203.0.113.9", "203.0.113.9, 198.51.100.4"):
            headers = {"Authorization": "Bearer cpk_wrong", **({"X-Forwarded-For": forwarded} if forwarded else {})}
            limited = client.get(path, headers=headers)
            assert limited.status_code == 429, forwarded
            assert limited.json()["error"]["code"] == "too_many_auth_failures"
        assert client.get(path).status_code == 200  # a read without a key is not an authentication


def test_apiAnswers_passTheFrontAsSent_aSessionCookieToItsClientOnly_andEventsLive(service, api_city):
    """The point of sale through the front: the session cookie reaches the till that signed in and rides on no one
    else's request; a payment request's events arrive as they happen, not when the stream ends."""
    with httpx.Client(base_url=service["url"], timeout=30) as till, \
            httpx.Client(base_url=service["url"], timeout=30) as stranger:
        assert till.post("/v1/pos/session", json={"apiKey": service["key"]}).status_code == 201
        assert "citypoints_pos" in till.cookies
        assert till.get("/v1/pos/session").status_code == 200
        alone = stranger.get("/v1/pos/session")
        assert alone.status_code == 401 and alone.json()["error"]["code"] == "missing_session"

        made = till.post("/v1/redemption_requests", headers={"X-CityPoints-POS": "1"},
                         json={"resident": api_city.residents[1].address, "credits": 120, "orderRef": "F-1"})
        assert made.status_code == 201, made.text
        seen: list[str] = []

        def follow():
            with till.stream("GET", f"/v1/redemption_requests/{made.json()['id']}/events") as resp:
                assert resp.headers["content-type"].startswith("text/event-stream")
                for line in resp.iter_lines():
                    if line.startswith("data: "):
                        seen.append(json.loads(line[6:])["status"])
        reader = threading.Thread(target=follow)
        reader.start()
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen == ["open"]  # while the stream is still open
        cancel = till.post(f"/v1/redemption_requests/{made.json()['id']}/cancel", headers={"X-CityPoints-POS": "1"})
        assert cancel.status_code == 200
        reader.join(10)
        assert not reader.is_alive() and seen == ["open", "cancelled"]


def test_front_sendsTheWalletsReadsToTheReadProcess_andEverythingElseToTheApi():
    front = Front(api=Backend("API", "api.sock"), reads=Backend("read", "read.sock"), routes=read_routes(),
                  max_body_bytes=1024, trusted_proxies=())
    address = "/v1/residents/0x" + "ab" * 20
    for path in (f"{address}/balances", f"{address}/history", f"{address}/caps", f"{address}/balance_proof",
                 "/v1/schemes", "/v1/rates", "/v1/supply", "/v1/periods", "/health/reads", "/metrics/reads",
                 "/v1/catalogue/offers", "/v1/catalogue/merchants", "/v1/catalogue/vocabulary",
                 "/v1/offers/off_1/image"):
        assert front.backend("GET", path) is front.reads, path
    for method, path in (("POST", f"{address}/balances"), ("GET", f"{address}/login"), ("POST", f"{address}/login"),
                         ("GET", f"{address}/redemption_requests"), ("GET", f"{address}/balances/x"),
                         ("GET", "/v1/indexer"), ("POST", "/v1/redemptions"), ("GET", "/health/ready"),
                         ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/wallet/"), ("GET", "/v1/schemes/"),
                         ("PUT", "/v1/offers/off_1/image"), ("GET", "/v1/offers/off_1"), ("GET", "/v1/offers"),
                         ("POST", "/v1/offers")):
        assert front.backend(method, path) is front.api, (method, path)


def test_clientAddress_overTheProcessSocket_isTheOneTheFrontNamed():
    def scope(*forwarded):
        return {"client": None, "server": ("/tmp/citypoints-x/read.sock", None),
                "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}
    assert client_address(scope("198.51.100.9"), ()) == "198.51.100.9"
    # the front sends exactly one address; anything else did not come from it
    assert client_address(scope(), ()) == "unknown"
    assert client_address(scope("198.51.100.9", "203.0.113.1"), ()) == "unknown"
    assert client_address(scope("not-an-address"), ()) == "unknown"
    # over TCP nothing changes: the connection's address unless it is a trusted proxy
    assert client_address({"client": ("198.51.100.9", 5000), "server": ("127.0.0.1", 8000),
                           "headers": [(b"x-forwarded-for", b"203.0.113.1")]}, ()) == "198.51.100.9"
