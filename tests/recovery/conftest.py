"""The recovery tests in the browser use the wallet's fixtures (tests/wallet/conftest.py: the small city, the live
API serving the built page, Debian's chromium), and an onboarding-office API key of that API."""
from __future__ import annotations

import pytest

from exchange_api.merchant_keys import create_key
from exchange_api.store.db import Store
from tests.wallet.conftest import (browser, open_wallet, wallet_api, wallet_city, wallet_dist,  # noqa: F401
                                   wallet_live)


@pytest.fixture(scope="module")
def office_key(wallet_live) -> str:
    store = Store(wallet_live.settings.database_url)
    with store.session() as s:
        key = create_key(s, name="registration office", role="onboarding").api_key
    store.dispose()
    return key
