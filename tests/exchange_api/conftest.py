"""Fixtures for the Exchange API: a small city on the session's node (schemes 71 and 72, so the contract
suites' schemes 1-4 never collide), one live uvicorn server per database backend (SQLite and PostgreSQL), and
an httpx client that validates every documented response against /openapi.json.

Each test runs between the root conftest's evm_snapshot / evm_revert: the indexer sees the reverted chain as
reorganised and rebuilds; the relayer's nonce counters are reset before each test.
"""
from __future__ import annotations

import base64
import json
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import jsonschema
import pytest
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from exchange_api.app import create_app
from exchange_api.merchant_keys import create_key
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from ledger_node.redemption_plan import NotEnoughValue, plan_on_chain
from ledger_node.typed_data import sign, typed_data

from tests.exchange_api.store_reset import StoreBaseline  # absolute: the wallet tests load this file as a plain module

S1, S2 = 71, 72
RATE_1, RATE_2 = 10_000_000, 33_333_333  # 10 and 33.333333 credit cents a point
START = 500
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class ApiCity:
    contracts: dict
    operator: LocalAccount
    merchant: LocalAccount
    merchant2: LocalAccount
    relayers: list[LocalAccount]
    onboarding: LocalAccount
    issuer1: LocalAccount
    issuer2: LocalAccount
    residents: list[LocalAccount] = field(default_factory=list)

    def consent(self, w3, resident, credits, *, merchant=None, nonce=None, deadline=None, signer=None,
                order_ref=b"\x01" * 32, parts=None) -> dict:
        """A signed RedemptionConsent as a wallet makes it: the plan from the resident's holdings on chain now
        (or `parts` as given: (scheme, points, credits) tuples)."""
        if parts is None:
            c = self.contracts
            try:
                parts = [p.as_tuple() for p in plan_on_chain(c["PointsLedger"], c["Rates"], c["Redemption"],
                                                              resident.address, credits)]
            except NotEnoughValue:  # what the resident holds, all of it: the chain refuses it
                parts = [(1, c["PointsLedger"].functions.balanceOf(resident.address, 1).call(), credits)]
        msg = {"resident": resident.address, "merchant": (merchant or self.merchant).address, "credits": credits,
               "parts": [{"scheme": sc, "points": pt, "credits": cr} for sc, pt, cr in parts],
               "orderRef": order_ref, "nonce": nonce or os.urandom(32),
               "deadline": int(time.time()) + 3600 if deadline is None else deadline}
        doc = typed_data("RedemptionConsent", w3.eth.chain_id, self.contracts["Redemption"].address, msg)
        sig = sign(signer or resident, doc)
        return {"resident": msg["resident"], "merchant": msg["merchant"], "credits": credits,
                "parts": msg["parts"], "orderRef": "0x" + msg["orderRef"].hex(), "nonce": "0x" + msg["nonce"].hex(),
                "deadline": msg["deadline"], "signature": "0x" + sig.hex()}

    @staticmethod
    def redeem_args(c: dict) -> tuple:
        """`Redemption.redeem`'s arguments for a consent dict: (the Consent tuple, the signature)."""
        return ((c["resident"], c["merchant"], c["credits"], [(p["scheme"], p["points"], p["credits"])
                                                               for p in c["parts"]],
                 bytes.fromhex(c["orderRef"][2:]), bytes.fromhex(c["nonce"][2:]), c["deadline"]),
                bytes.fromhex(c["signature"][2:]))

    def govern(self, w3, calls, **kw):
        return propose_and_execute(w3, self.contracts["Consortium"], [self.operator], calls, **kw)


@pytest.fixture(scope="session")
def api_city(session_w3, session_system, session_operator) -> ApiCity:
    w3 = session_w3
    contracts = {n: chain.bind(w3, n, a) for n, a in session_system.items()}
    acc = lambda: Account.create()  # noqa: E731
    c = ApiCity(contracts, session_operator, acc(), acc(), [acc(), acc()], acc(), acc(), acc(),
                [acc() for _ in range(6)])
    chain.fund(w3, session_operator, [a.address for a in [c.merchant, c.merchant2, c.onboarding, c.issuer1,
                                                          c.issuer2, *c.relayers]], 10**20)
    m, ledger, rates, ex = (contracts[k] for k in ("Membership", "PointsLedger", "Rates", "Exchange"))
    role = lambda name: getattr(m.functions, name)().call()  # noqa: E731
    c.govern(w3, [
        call(ledger, "addScheme", S1, 10**9, 10**6), call(ledger, "addScheme", S2, 10**9, 10**6),
        call(m, "setIssuerAccounts", S1, [c.issuer1.address]), call(m, "setIssuerAccounts", S2, [c.issuer2.address]),
        call(m, "registerMerchant", c.merchant.address), call(m, "registerMerchant", c.merchant2.address),
        *[call(m, "grantRole", role("RELAYER_ROLE"), r.address) for r in c.relayers],
        call(m, "grantRole", role("ONBOARDING_ROLE"), c.onboarding.address),
        call(rates, "setInitialRate", S1, RATE_1), call(rates, "setInitialRate", S2, RATE_2),
        call(ex, "setPairAllowed", S1, S2, True), call(ex, "setPairAllowed", S2, S1, True),
    ])
    ids = [Web3.keccak(text=f"api-identity:{r.address}") for r in c.residents]
    chain.transact(w3, c.onboarding, m.functions.registerResidents([r.address for r in c.residents], ids))
    who = [r.address for r in c.residents]
    chain.transact(w3, c.issuer1, ledger.functions.issueBatchWithReason(
        S1, who, [START] * len(who), [Web3.keccak(text=f"api1-{i}") for i in range(len(who))], [7] * len(who)))
    chain.transact(w3, c.issuer2, ledger.functions.issueBatch(
        S2, who, [START] * len(who), [Web3.keccak(text=f"api2-{i}") for i in range(len(who))]))
    return c


# --- databases -----------------------------------------------------------------------------------------------

def _database_url(kind: str, sqlite_dir, prefix: str):
    """A URL of a new database (SQLite under `sqlite_dir`, or a PostgreSQL database dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{sqlite_dir / 'api.db'}"
        return
    from sqlalchemy import create_engine, text
    name = f"citypoints_{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - the store must be tested on PostgreSQL too: never skipped quietly
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 (trust auth) is needed by the store's tests and is unavailable: "
                    f"{type(exc).__name__}: {exc}; start it (.ci/run shows how)", pytrace=False)
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# package scope: the live server (indexer, relayer, webhooks) stops when the API tests end, so it
# does not poll the node through the suites that follow
@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    yield from _database_url(request.param, tmp_path_factory.mktemp("api-db"), "test")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    """A database of its own, with nothing in it."""
    yield from _database_url(request.param, tmp_path, "empty")


# --- the live service ----------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def api_settings(database_url, api_city, node, session_w3, tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("api-home")
    deployment = {"chainId": session_w3.eth.chain_id, "rpcUrl": node.url, "startBlock": 0,
                  "contracts": {k: v.address for k, v in api_city.contracts.items()}}
    (home / "deployment.json").write_text(json.dumps(deployment))
    return Settings(database_url=database_url, port=_free_port(), deployment_file=home / "deployment.json",
                    pii_key=base64.b64encode(os.urandom(32)).decode(),
                    identity_hmac_key=base64.b64encode(os.urandom(32)).decode(),
                    relayer_keys=",".join(r.key.hex() for r in api_city.relayers),
                    onboarding_key=api_city.onboarding.key.hex(), dev_secrets=False,
                    audit_dir=home / "audit",  # where a test publishes an auditor's report (never var/audit)
                    indexer_poll_s=0.05, webhook_backoff_s=0.2, confirm_timeout_s=20, rate_limit_per_s=1000,
                    rate_limit_burst=1000)


class LiveServer:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=settings.port,
                                                    log_level="warning", access_log=False, lifespan="on",
                                                    proxy_headers=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{settings.port}"

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.02)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(15)

    @property
    def rt(self):
        return self.app.state.rt


@pytest.fixture(scope="package")
def live(api_settings):
    server = LiveServer(api_settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def keys(live, api_city) -> dict[str, str]:
    store = Store(live.settings.database_url)
    with store.session() as s:
        out = {"merchant": create_key(s, name="shop-1", merchant_address=api_city.merchant.address).api_key,
               "merchant2": create_key(s, name="shop-2", merchant_address=api_city.merchant2.address).api_key,
               "onboarding": create_key(s, name="office", role="onboarding").api_key,
               "auditor": create_key(s, name="auditor", role="auditor").api_key}
    store.dispose()
    return out


# --- OpenAPI validation of every response ---------------------------------------------------------------------

class OpenApiChecker:
    def __init__(self, spec: dict):
        self.spec = spec
        self.routes = []
        for path, ops in spec["paths"].items():
            regex = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            self.routes.append((regex, ops))
        self.checked = 0

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        path = response.request.url.path
        for regex, ops in self.routes:
            if regex.match(path):
                op = ops.get(response.request.method.lower())
                if op is None:
                    return
                doc = op.get("responses", {}).get(str(response.status_code))
                assert doc is not None or response.status_code >= 500, \
                    f"{response.request.method} {path}: status {response.status_code} is not documented"
                schema = ((doc or {}).get("content", {}).get("application/json", {}).get("schema"))
                if schema:
                    root = {**schema, "components": self.spec.get("components", {})}
                    jsonschema.Draft202012Validator(root).validate(response.json())
                    self.checked += 1
                return


@pytest.fixture(scope="package")
def openapi_checker(live) -> OpenApiChecker:
    return OpenApiChecker(httpx.get(live.url + "/openapi.json").json())


@pytest.fixture(scope="package")
def store_baseline(live, keys) -> StoreBaseline:
    """The store as the package's fixtures leave it (the merchants and keys of `keys`): each test goes back to it."""
    return StoreBaseline(live.rt.store)


@pytest.fixture
def api(live, w3, api_city, openapi_checker, store_baseline):
    """A client of the live service, on a chain reverted to the fresh city and a store put back as the package's
    fixtures left it after the test."""
    for account in live.rt.relayer.accounts + [live.rt.relayer.onboarding]:
        account.nonces.reset()
    live.rt.view.clear()
    live.rt.holds.clear()
    live.rt.auth_cache.clear()
    live.rt.buckets.clear()
    with httpx.Client(base_url=live.url, timeout=30, event_hooks={"response": [openapi_checker]}) as client:
        client.live = live
        wait_indexed(client, w3)
        yield client
    # before the chain is reverted: what the test sent is mined and settled, so no record of it is left `sent` for
    # a transaction the revert takes away (a later test's reconcile() would send it again)
    until_relayer_idle(live.rt)
    store_baseline.restore()


def until_relayer_idle(rt, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while rt.relayer.in_flight:
        assert time.monotonic() < deadline, "the relayer still waits for its transactions"
        time.sleep(0.05)


def wait_indexed(client, w3, timeout: float = 20.0) -> None:
    """Until the indexer's cursor is at or past the chain's head on the chain as it is now (a cursor left from
    before an evm_revert names a block hash the chain no longer has), and the service has taken in its commit
    (the cursor is committed in the writer thread a moment before the event loop updates what it answers from)."""
    from exchange_api.store.models import IdxCursor
    head = w3.eth.block_number
    deadline = time.monotonic() + timeout
    rt = client.live.rt
    while time.monotonic() < deadline:
        cursor = rt.store.call(lambda s: s.get(IdxCursor, 1))
        if cursor and cursor.block_number >= head:
            block = w3.eth.get_block(cursor.block_number) if cursor.block_number <= w3.eth.block_number else None
            if block is not None and block["hash"].to_0x_hex() == cursor.block_hash and rt.indexer.block >= head:
                return
        time.sleep(0.03)
    raise AssertionError(f"indexer did not reach block {head} (at {rt.indexer.block})")


def auth(key: str, **extra) -> dict:
    return {"Authorization": f"Bearer {key}", **extra}


def resident_token(api, resident) -> str:
    """Sign in as `resident` (the wallet's way: the API's ResidentLogin document, signed): its bearer token."""
    challenge = api.get(f"/v1/residents/{resident.address}/login").json()["typedData"]
    signature = "0x" + sign(resident, challenge).hex()
    resp = api.post(f"/v1/residents/{resident.address}/login",
                    json={"issuedAt": challenge["message"]["issuedAt"], "nonce": challenge["message"]["nonce"],
                          "signature": signature})
    assert resp.status_code == 201, resp.text
    return resp.json()["token"]


@pytest.fixture
def local_webhooks(live):
    """Webhooks to receivers on this machine (http://127.0.0.1:...): the operator's development settings
    (CITYPOINTS_WEBHOOK_ALLOW_HTTP, CITYPOINTS_WEBHOOK_ALLOW_PRIVATE_TARGETS), for this test only."""
    before = live.rt.settings
    live.rt.replace_settings(before.model_copy(update={"webhook_allow_http": True,
                                                       "webhook_allow_private_targets": True}))
    yield
    live.rt.replace_settings(before)
