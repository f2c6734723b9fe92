"""Merchants' API keys (and the onboarding authority's, auditors' and issuers'; an issuer key names the issuer's
chain account, the actor of its resident lookups on the identity-use trail): created by the operator, shown once,
stored as SHA-256 hashes (keys are 192-bit random, so a fast hash is enough and lookups stay O(1)), revocable.

A merchant key has a staff scope (`SCOPES`): a manager's does everything a merchant may, a cashier's takes sales
(deps.py says which endpoints need which). A merchant's managers make staff keys, rotate and revoke them through
the API (services/merchant_keys.py); the operator's command makes managers' keys.

Used by `citypoints merchant create-key|revoke-key|list` and by the demo:

    from exchange_api.merchant_keys import import_key
    with store.session() as session:
        import_key(session, merchant_address, "merchant-01", api_key)   # a key the demo generated ("cpk_...")
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from eth_utils import is_address, to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange_api.store.models import ApiKey, Merchant, utcnow

KEY_PREFIX = "cpk_"
ROLES = ("merchant", "onboarding", "auditor", "issuer")
SCOPES = ("cashier", "manager")  # a merchant key's staff scope; a manager may do all a cashier may


@dataclass
class CreatedKey:
    id: str
    api_key: str  # shown once
    role: str
    merchant: str | None
    name: str
    account: str | None = None  # an issuer key's chain account
    scope: str | None = None  # a merchant key's staff scope


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def ensure_merchant(session: Session, address: str, name: str) -> Merchant:
    if not is_address(address):
        raise ValueError(f"not an address: {address!r}")
    address = to_checksum_address(address)
    merchant = session.scalar(select(Merchant).where(Merchant.address == address))
    if merchant is None:
        merchant = Merchant(address=address, name=name)
        session.add(merchant)
        session.flush()
    return merchant


def create_key(session: Session, *, name: str, merchant_address: str | None = None, role: str = "merchant",
               api_key: str | None = None, account: str | None = None, scope: str = "manager") -> CreatedKey:
    """A new key (or register `api_key` as given); merchants need `merchant_address` (and have a `scope`, a
    manager's unless told), issuers `account` (their issuer account on chain)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "merchant" and scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    if role == "issuer":
        if not account or not is_address(account):
            raise ValueError("an issuer key needs the issuer's chain account (an address)")
        account = to_checksum_address(account)
    else:
        account = None
    merchant = None
    if role == "merchant":
        if not merchant_address:
            raise ValueError("a merchant key needs the merchant's address")
        merchant = ensure_merchant(session, merchant_address, name)
    api_key = api_key or new_api_key()
    if len(api_key) < 20:
        raise ValueError("an API key must be at least 20 characters")
    key_hash = hash_key(api_key)
    existing = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
    if existing is not None:  # importing the same key again is a no-op
        return CreatedKey(existing.id, api_key, existing.role, merchant.address if merchant else None, existing.name,
                          existing.account, existing.scope)
    row = ApiKey(id="key_" + secrets.token_hex(8), merchant_id=merchant.id if merchant else None, role=role,
                 name=name, prefix=api_key[:12], key_hash=key_hash, account=account,
                 scope=scope if role == "merchant" else None)
    session.add(row)
    session.flush()
    return CreatedKey(row.id, api_key, role, merchant.address if merchant else None, name, account, row.scope)


def import_key(session: Session, merchant_address: str, name: str, api_key: str) -> CreatedKey:
    """Register a merchant's key generated elsewhere (the demo's var/demo.json `apiKey`); idempotent."""
    return create_key(session, name=name, merchant_address=merchant_address, role="merchant", api_key=api_key)


def revoke_key(session: Session, key_id_or_prefix: str) -> bool:
    row = session.get(ApiKey, key_id_or_prefix) or session.scalar(
        select(ApiKey).where(ApiKey.prefix == key_id_or_prefix[:12]))
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return True


def list_keys(session: Session) -> list[dict]:
    rows = session.execute(select(ApiKey, Merchant).outerjoin(Merchant, ApiKey.merchant_id == Merchant.id)
                           .order_by(ApiKey.created_at)).all()
    return [{"id": k.id, "role": k.role, "scope": k.scope, "name": k.name, "prefix": k.prefix,
             "merchant": m.address if m else None, "createdAt": k.created_at.isoformat() + "Z",
             "lastUsedAt": k.last_used_at.isoformat() + "Z" if k.last_used_at else None,
             "revoked": not in_force(k)} for k, m in rows]


def in_force(key: ApiKey, at: dt.datetime | None = None) -> bool:
    """Not revoked, and not past the end a rotation gave it."""
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > (at or utcnow()))


def import_demo_keys(session: Session, demo: dict) -> int:
    """Register every demo merchant's `apiKey` (var/demo.json); returns how many merchants."""
    n = 0
    for m in demo.get("merchants", []):
        if m.get("apiKey"):
            import_key(session, m["address"], m.get("name", m["address"]), m["apiKey"])
            n += 1
    return n
