"""Fixtures for the wallet page: a small city with named programs (culture 3, green 4) on the session's node, one
live API server (SQLite) serving the built page at /wallet, and Debian's chromium driven by Playwright.

The city is set up inside a module-wide evm_snapshot and reverted when the module ends, so the demo ids 3 and 4
are free again for every other suite; each test still runs between the root conftest's evm_snapshot / evm_revert.
The live server and its settings come from the Exchange API's fixtures (tests/exchange_api/conftest.py).
"""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from exchange_api.merchant_keys import create_key
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute

ROOT = Path(__file__).resolve().parents[2]
WALLET = ROOT / "exchange_api" / "wallet"
CONSOLE = ROOT / "exchange_api" / "console"
POS = ROOT / "exchange_api" / "pos"
ARTIFACTS = ROOT / "build" / "screenshots" / "wallet"  # for a reviewer to look at
CHROMIUM = Path(os.environ.get("CITYPOINTS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-gpu"]

CULTURE, GREEN = 3, 4  # the demo city's ids, so the page shows the programs' names
RATES = {CULTURE: 8_000_000, GREEN: 2_000_000}  # 0.08 and 0.02 credits a point, as in the demo city
MUSEUM_VISIT, LIBRARY_LOAN, RECYCLING_PLASTIC, BIKE_TRIP = 1, 2, 11, 21
PASSWORD = "correct horse battery"


def _api_fixtures():
    """The Exchange API's conftest as a plain module (its LiveServer and helpers), without registering its
    fixtures twice."""
    spec = importlib.util.spec_from_file_location("_citypoints_api_fixtures",
                                                  ROOT / "tests" / "exchange_api" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


API = _api_fixtures()


@dataclass
class WalletCity:
    contracts: dict
    operator: LocalAccount
    merchant: LocalAccount
    relayers: list[LocalAccount]
    onboarding: LocalAccount
    culture_issuer: LocalAccount
    green_issuer: LocalAccount
    residents: list[LocalAccount] = field(default_factory=list)

    def balance(self, resident: str, scheme: int) -> int:
        return self.contracts["PointsLedger"].functions.balanceOf(resident, scheme).call()


# --- the page, built ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def wallet_dist() -> Path:
    """exchange_api/wallet/dist, built now with the console's and the point-of-sale page's (console/dist, pos/dist:
    one build) when any is missing or older than their sources (`make wallet` does the same)."""
    dists = [WALLET / "dist" / "index.html", CONSOLE / "dist" / "index.html", POS / "dist" / "index.html"]
    sources = [WALLET / "build.mjs", *(WALLET / "src").rglob("*"), *(CONSOLE / "src").rglob("*"),
               *(POS / "src").rglob("*")]
    newest = max(p.stat().st_mtime for p in sources)
    if any(not d.exists() or d.stat().st_mtime < newest for d in dists):
        node = shutil.which("node")
        assert node, "node is needed to build the wallet page (exchange_api/wallet/build.mjs)"
        done = subprocess.run([node, str(WALLET / "build.mjs")], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"the wallet build failed:\n{done.stdout}\n{done.stderr}"
    return dists[0].parent


# --- the city -------------------------------------------------------------------------------------------------

PROFILES = {CULTURE: ("文化消费", "Culture", "分", "points", "Culture Bureau", bytes.fromhex("7b4fc9"), 1),
            GREEN: ("绿色低碳", "Green living", "分", "points", "Ecology Bureau", bytes.fromhex("2e9d5b"), 1)}


@pytest.fixture(scope="module")
def wallet_city(session_w3, session_system, session_operator):
    w3 = session_w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    contracts = {n: chain.bind(w3, n, a) for n, a in session_system.items()}
    ledger, m, rates, ex = (contracts[k] for k in ("PointsLedger", "Membership", "Rates", "Exchange"))
    acc = Account.create
    c = WalletCity(contracts, session_operator, acc(), [acc(), acc()], acc(), acc(), acc(), [acc() for _ in range(3)])
    chain.fund(w3, session_operator, [a.address for a in [c.merchant, c.onboarding, c.culture_issuer, c.green_issuer,
                                                          *c.relayers]], 10**20)
    role = lambda name: getattr(m.functions, name)().call()  # noqa: E731
    propose_and_execute(w3, contracts["Consortium"], [session_operator], [
        call(ledger, "addScheme", CULTURE, 10**9, 10**6), call(ledger, "addScheme", GREEN, 10**9, 10**6),
        call(m, "setIssuerAccounts", CULTURE, [c.culture_issuer.address]),
        call(m, "setIssuerAccounts", GREEN, [c.green_issuer.address]),
        call(m, "registerMerchant", c.merchant.address),
        *[call(m, "grantRole", role("RELAYER_ROLE"), r.address) for r in c.relayers],
        call(m, "grantRole", role("ONBOARDING_ROLE"), c.onboarding.address),
        call(rates, "setInitialRate", CULTURE, RATES[CULTURE]), call(rates, "setInitialRate", GREEN, RATES[GREEN]),
        call(ex, "setPairAllowed", GREEN, CULTURE, True), call(ex, "setPairAllowed", CULTURE, GREEN, True),
        # the pages name and colour programmes from the registry, as the consortium describes them
        *[call(contracts["SchemeRegistry"], "describeScheme", scheme, profile) for scheme, profile in PROFILES.items()],
    ], "wallet tests: culture and green")
    who = [r.address for r in c.residents]
    chain.transact(w3, c.onboarding, m.functions.registerResidents(
        who, [Web3.keccak(text=f"wallet-identity:{a}") for a in who]))
    ref = lambda text: Web3.keccak(text=text)  # noqa: E731
    n = len(who)
    chain.transact(w3, c.culture_issuer, ledger.functions.issueBatchWithReason(
        CULTURE, who, [300] * n, [ref(f"museum-{a}") for a in who], [MUSEUM_VISIT] * n))
    chain.transact(w3, c.culture_issuer, ledger.functions.issueBatchWithReason(
        CULTURE, who, [200] * n, [ref(f"library-{a}") for a in who], [LIBRARY_LOAN] * n))
    chain.transact(w3, c.green_issuer, ledger.functions.issueBatchWithReason(
        GREEN, who, [500] * n, [ref(f"plastic-{a}") for a in who], [RECYCLING_PLASTIC] * n))
    chain.transact(w3, c.green_issuer, ledger.functions.issueBatchWithReason(
        GREEN, who, [300] * n, [ref(f"bike-{a}") for a in who], [BIKE_TRIP] * n))
    yield c
    assert w3.provider.make_request("evm_revert", [snapshot])["result"], "evm_revert of the wallet city failed"


# --- the live API serving the page ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wallet_live(wallet_city, wallet_dist, node, session_w3, tmp_path_factory):
    home = tmp_path_factory.mktemp("wallet-api")
    deployment = {"chainId": session_w3.eth.chain_id, "rpcUrl": node.url, "startBlock": 0,
                  "contracts": {k: v.address for k, v in wallet_city.contracts.items()}}
    (home / "deployment.json").write_text(json.dumps(deployment))
    settings = Settings(database_url=f"sqlite:///{home / 'api.db'}", port=API._free_port(),
                        deployment_file=home / "deployment.json",
                        pii_key=base64.b64encode(os.urandom(32)).decode(),
                        identity_hmac_key=base64.b64encode(os.urandom(32)).decode(),
                        relayer_keys=",".join(r.key.hex() for r in wallet_city.relayers),
                        onboarding_key=wallet_city.onboarding.key.hex(), dev_secrets=False,
                        audit_dir=home / "audit",  # where a test publishes an auditor's report (never var/audit)
                        indexer_poll_s=0.05, confirm_timeout_s=20,
                        rate_limit_per_s=1000, rate_limit_burst=1000)
    server = API.LiveServer(settings)
    server.start()
    store = Store(settings.database_url)
    with store.session() as s:
        server.merchant_key = create_key(s, name="Museum shop", merchant_address=wallet_city.merchant.address).api_key
    store.dispose()
    yield server
    server.stop()


@pytest.fixture
def wallet_api(wallet_live, w3, wallet_city):
    """An httpx client of the live API, on a chain reverted after the test; the indexer is at the head."""
    rt = wallet_live.rt
    for account in rt.relayer.accounts + [rt.relayer.onboarding]:
        account.nonces.reset()
    rt.view.clear()
    rt.holds.clear()
    with httpx.Client(base_url=wallet_live.url, timeout=30) as client:
        client.live = wallet_live
        client.merchant_headers = {"Authorization": f"Bearer {wallet_live.merchant_key}"}
        API.wait_indexed(client, w3)
        yield client


# --- the browser ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Module-scoped on purpose: Playwright's sync API keeps an event loop running in this thread while it is
    open, which would break later suites that call asyncio.run()."""
    if not CHROMIUM.exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}: `apt-get install -y chromium` "
                    "(or set CITYPOINTS_CHROMIUM to its path). The wallet tests need a real browser.", pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """One browser tab on the wallet, recording every request it makes (to prove the page stays on its origin)."""

    def __init__(self, context, origin: str):
        self.context = context
        self.origin = origin
        self.page = context.new_page()
        self.requests: list[tuple[str, str, str | None]] = []
        self.page.on("request", lambda r: self.requests.append((r.method, r.url, r.post_data)))
        self.console_errors: list[str] = []
        # an API answering 4xx is logged by the browser as "Failed to load resource": expected, not a page error
        self.page.on("console", lambda m: m.type == "error" and "Failed to load resource" not in m.text
                     and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def __getattr__(self, name):
        return getattr(self.page, name)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def foreign_requests(self) -> list[str]:
        return [url for _, url, _ in self.requests if not url.startswith(self.origin + "/")]


@pytest.fixture
def open_wallet(browser, wallet_live):
    """Factory: a fresh browser context (empty localStorage) at a viewport size, on a wallet URL. The server's
    failed-key limiter starts empty: the pages' tests share one server, and an earlier test's deliberately wrong keys
    (10 a minute from this address) would turn this test's right key away with 429."""
    wallet_live.app.state.auth_failures.clear()
    contexts: list = []
    pages: list[Page] = []

    def make(path: str = "/wallet/", *, width: int = 390, height: int = 844, lang: str = "en",
             dark: bool = False) -> Page:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN" if lang == "zh" else
                                  "en-GB", device_scale_factor=1, is_mobile=width < 600, has_touch=width < 600,
                                  color_scheme="dark" if dark else "light")
        contexts.append(ctx)
        page = Page(ctx, wallet_live.url)
        pages.append(page)
        page.goto(wallet_live.url + path)
        return page

    yield make
    for page in pages:
        foreign = page.foreign_requests()
        assert not foreign, f"the wallet made requests outside its origin: {foreign}"
        assert not page.console_errors, f"errors in the page: {page.console_errors}"
    for ctx in contexts:
        ctx.close()


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
