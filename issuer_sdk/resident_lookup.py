"""An issuer finds a resident's address by identity number (issue 23): its members are known to it by identity
number, the ledger knows addresses. The exchange API answers with an issuer key (`citypoints merchant create-key
<issuer account> --role issuer`) and records each lookup on the identity-use trail first (purpose issuance-lookup,
the issuer's account as the actor, `request_ref` as the reference); the resident sees it in their wallet.

    from issuer_sdk.resident_lookup import lookup_resident
    found = lookup_resident("https://api.city.example", api_key, "510104199001011234", ref)
    found.address, found.trail_entry
"""
from __future__ import annotations

from dataclasses import dataclass

import httpx

from issuer_sdk.errors import IssuerError


class ResidentLookupError(IssuerError):
    """The API refused or could not answer the lookup; `code` is the API's error code (resident_not_found,
    trail_unavailable, wrong_key_role, not_an_issuer, ...), `status` its HTTP status (0: no answer)."""

    code = "lookup_failed"

    def __init__(self, message: str, *, code: str, status: int, attempted: dict | None = None):
        super().__init__(message, attempted=attempted)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ResidentFound:
    address: str | None  # None: the person has not joined (hold_if_not_joined)
    trail_entry: int  # the IdentityTrail entry that records this lookup
    identity_hash: str = ""  # the keyed identity hash: `IssuerClient.issue_to_identity` takes it
    held_account: str | None = None  # where their points wait until they join


def lookup_resident(api_url: str, api_key: str, identity_number: str, request_ref: bytes | str, *,
                    hold_if_not_joined: bool = False, timeout: float = 30.0) -> ResidentFound:
    """The address of the resident with `identity_number` (POST /v1/residents/lookup). `request_ref`: your
    reference of this lookup, 32 bytes (or 0x-hex), kept on the trail; never personal data. With
    `hold_if_not_joined`, a person who has not joined is answered too (address None): issue to their
    `identity_hash` with `IssuerClient.issue_to_identity`, and the points wait on chain until they join."""
    ref = request_ref if isinstance(request_ref, str) else "0x" + bytes(request_ref).hex()
    attempted = {"operation": "lookup_resident", "requestRef": ref}  # never the identity number
    try:
        resp = httpx.post(api_url.rstrip("/") + "/v1/residents/lookup", timeout=timeout,
                          headers={"Authorization": f"Bearer {api_key}"},
                          json={"identityNumber": identity_number, "purpose": "issuance-lookup", "requestRef": ref,
                                "holdIfNotJoined": hold_if_not_joined})
    except httpx.HTTPError as exc:
        raise ResidentLookupError(f"the API did not answer: {type(exc).__name__}", code="network", status=0,
                                  attempted=attempted) from exc
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise ResidentLookupError(error.get("message") or f"HTTP {resp.status_code}",
                                  code=error.get("code") or f"http_{resp.status_code}", status=resp.status_code,
                                  attempted=attempted)
    return ResidentFound(body["address"], int(body["trailEntry"]), body["identityHash"], body.get("heldAccount"))
