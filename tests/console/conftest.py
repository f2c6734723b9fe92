"""Fixtures for the console page: the wallet suite's (tests/wallet/conftest.py), shared as they are: the small city
(culture 3, green 4) in a module-wide snapshot, the live API that serves both built pages (/wallet and /console:
one build), and Debian's chromium through Playwright. `open_wallet` opens any path of that server and checks,
when the test ends, that the page made no request outside its origin and logged no error."""
from __future__ import annotations

from tests.wallet.conftest import (API, CULTURE, GREEN, ROOT, browser, open_wallet, wallet_api, wallet_city,
                                   wallet_dist, wallet_live)

# pytest finds fixtures by name in this module; the constants are for test_console.py
__all__ = ["API", "ARTIFACTS", "CULTURE", "GREEN", "browser", "open_wallet", "wallet_api", "wallet_city",
           "wallet_dist", "wallet_live"]

ARTIFACTS = ROOT / "build" / "screenshots" / "console"  # for a reviewer to look at
