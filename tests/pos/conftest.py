"""Fixtures for the merchants' point-of-sale page (/pos) and its session: the wallet suite's small city, live API
(SQLite) and Chromium (tests/wallet/conftest.py, loaded as a plain module and its fixtures re-used here), and a
live API per store kind (SQLite and PostgreSQL) for the session's API tests. Screenshots: build/screenshots/pos/.
"""
from __future__ import annotations

import base64
import importlib.util
import os
import sys
from pathlib import Path

import httpx
import pytest

from exchange_api.merchant_keys import create_key
from exchange_api.settings import Settings
from exchange_api.store.db import Store

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots" / "pos"


def _wallet_fixtures():
    spec = importlib.util.spec_from_file_location("_citypoints_wallet_fixtures",
                                                  ROOT / "tests" / "wallet" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


W = _wallet_fixtures()
API = W.API
# the wallet suite's fixtures, as they are: the city, the live API serving the pages, the browser
wallet_dist, wallet_city, wallet_live, wallet_api, browser, open_wallet = (
    W.wallet_dist, W.wallet_city, W.wallet_live, W.wallet_api, W.browser, W.open_wallet)
Page, wait_for, PASSWORD, CULTURE, GREEN, RATES = W.Page, W.wait_for, W.PASSWORD, W.CULTURE, W.GREEN, W.RATES


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pos_live(request, wallet_city, node, session_w3, tmp_path_factory):
    """A live API of its own on either store (the session's table lives in the store), with one merchant key
    (`merchant_key`) and an auditor key (`auditor_key`); 5 failed sign-ins a minute per address."""
    home = tmp_path_factory.mktemp("pos-api")
    urls = API._database_url(request.param, home, "pos")
    url = next(urls)
    (home / "deployment.json").write_text(__import__("json").dumps(
        {"chainId": session_w3.eth.chain_id, "rpcUrl": node.url, "startBlock": 0,
         "contracts": {k: v.address for k, v in wallet_city.contracts.items()}}))
    settings = Settings(database_url=url, port=API._free_port(), deployment_file=home / "deployment.json",
                        pii_key=base64.b64encode(os.urandom(32)).decode(),
                        identity_hmac_key=base64.b64encode(os.urandom(32)).decode(),
                        relayer_keys=",".join(r.key.hex() for r in wallet_city.relayers),
                        onboarding_key=wallet_city.onboarding.key.hex(), dev_secrets=False,
                        indexer_poll_s=0.05, confirm_timeout_s=20, rate_limit_per_s=1000, rate_limit_burst=1000,
                        auth_failures_per_min=5)
    server = API.LiveServer(settings)
    server.start()
    store = Store(settings.database_url)
    with store.session() as s:
        server.merchant_key = create_key(s, name="Museum shop", merchant_address=wallet_city.merchant.address).api_key
        server.auditor_key = create_key(s, name="Audit office", role="auditor").api_key
    store.dispose()
    server.kind = request.param
    yield server
    server.stop()
    next(urls, None)  # drops the PostgreSQL database


@pytest.fixture
def pos_client(pos_live):
    """An httpx client of that API with an empty cookie jar; the failure limiter starts empty."""
    pos_live.app.state.auth_failures.clear()
    with httpx.Client(base_url=pos_live.url, timeout=30) as client:
        client.live = pos_live
        yield client
