"""One HMAC signature for a payload sent over HTTP, `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`
(Stripe's scheme): the API signs its webhooks with it, and the SDK's HTTP source (`citypoints issue --listen`)
checks a programme's POSTs with it. The timestamp is inside the MAC, so a captured request is refused once it is
older than the tolerance."""
from __future__ import annotations

import hashlib
import hmac
import time

from ledger_node.errors import LedgerNodeError


class SignatureError(LedgerNodeError):
    """The header is malformed, the MAC is not the secret's, or the timestamp is outside the tolerance."""


def sign(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def check(payload: bytes, header: str, secret: str, *, tolerance: int = 300, now: float | None = None) -> int:
    """The signed timestamp of a payload whose header is the secret's MAC of it; raises SignatureError."""
    try:
        pairs = [item.split("=", 1) for item in header.split(",")]
        t = int(dict(pairs)["t"])
    except (ValueError, KeyError):
        raise SignatureError("malformed signature header") from None
    expected = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    if not any(k == "v1" and hmac.compare_digest(expected, v) for k, v in pairs):
        raise SignatureError("signature mismatch")
    if abs((time.time() if now is None else now) - t) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    return t
