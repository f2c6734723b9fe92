"""A merchant's own API keys, managed by its managers (issue 22; routers/merchant_keys.py): the list (name,
prefix, scope, created, last used, end of a rotation's grace, revoked), a staff key made (cashier or manager; shown
once), a key rotated (a new key shown once; the old one keeps working for the grace its merchant chose, 0 to
`MAX_GRACE_S`, then is refused), a key revoked at once. Keys are stored as hashes only (exchange_api/merchant_keys.py).

A key revoked or given an end here leaves this process's authentication cache at once; another process's cache
forgets it within deps.AUTH_CACHE_S (and never keeps a key past its end)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from exchange_api.errors import Conflict, NotFound
from exchange_api.merchant_keys import create_key, in_force
from exchange_api.services.common import Principal, iso
from exchange_api.services.results import Done
from exchange_api.store.db import Store
from exchange_api.store.models import ApiKey, Merchant, utcnow

MAX_GRACE_S = 7 * 24 * 3600  # the longest a rotated-out key keeps working
MAX_KEYS_IN_FORCE = 50  # per merchant: staff keys are people, not requests
LIST_LIMIT = 100  # the newest keys listed (a merchant that rotates daily keeps three months in view)


@dataclass
class MerchantKeys:
    store: Store
    auth_cache: dict  # deps.key_principal's cache: a key revoked or ended here leaves it at once

    async def list_(self, principal: Principal) -> dict:
        def load(s):
            return list(s.scalars(select(ApiKey).where(ApiKey.merchant_id == principal.merchant_id,
                                                       ApiKey.role == "merchant")
                                  .order_by(ApiKey.created_at.desc(), ApiKey.id).limit(LIST_LIMIT + 1)))
        rows = await self.store.run(load)
        at = utcnow()
        return {"object": "list", "has_more": len(rows) > LIST_LIMIT,
                "data": [key_public(k, principal, at) for k in rows[:LIST_LIMIT]]}

    async def create(self, principal: Principal, name: str, scope: str) -> Done:
        """A staff key for this merchant, shown once."""
        def add(s):
            _room_for_one(s, principal)
            merchant = s.get(Merchant, principal.merchant_id)
            made = create_key(s, name=name, merchant_address=merchant.address, scope=scope)
            return made.api_key, s.get(ApiKey, made.id)
        api_key, row = await self.store.write(add)
        return Done({**key_public(row, principal, utcnow()), "apiKey": api_key})

    async def rotate(self, principal: Principal, key_id: str, grace_s: int) -> Done:
        """A new key with the old one's name and scope, shown once; the old key works `grace_s` more seconds."""
        def rotate(s):
            old = _own_key(s, principal, key_id)
            at = utcnow()
            if not in_force(old, at):
                raise Conflict("this key is revoked or past its end: make a new key instead",
                               code="key_not_in_force")
            if old.expires_at is not None:
                raise Conflict("this key was rotated already; rotate its replacement", code="key_already_rotated")
            merchant = s.get(Merchant, principal.merchant_id)
            made = create_key(s, name=old.name, merchant_address=merchant.address, scope=old.scope)
            old.expires_at = (at + dt.timedelta(seconds=grace_s)).replace(microsecond=0)  # as it is shown
            old.replaced_by = made.id
            return made.api_key, s.get(ApiKey, made.id), old
        api_key, row, old = await self.store.write(rotate)
        self._forget(old.id)
        at = utcnow()
        return Done({**key_public(row, principal, at), "apiKey": api_key,
                     "replaces": key_public(old, principal, at)})

    async def revoke(self, principal: Principal, key_id: str) -> Done:
        """Revoked at once (its till sessions end with it). The merchant's last manager key in force stays: without
        it nobody could make keys again but the operator (409 `last_manager_key`)."""
        def revoke(s):
            row = _own_key(s, principal, key_id)
            at = utcnow()
            if row.revoked_at is None:
                if row.scope == "manager" and in_force(row, at) and _managers_in_force(s, principal, at) <= 1:
                    raise Conflict("this is the shop's last manager key: make or rotate another manager key first",
                                   code="last_manager_key")
                row.revoked_at = at
            return row
        row = await self.store.write(revoke)
        self._forget(row.id)
        return Done(key_public(row, principal, utcnow()))

    def _forget(self, key_id: str) -> None:
        for digest, (cached, _) in list(self.auth_cache.items()):
            if cached is not None and cached.key_id == key_id:
                self.auth_cache.pop(digest, None)


def key_public(k: ApiKey, principal: Principal, at: dt.datetime) -> dict:
    """A key as its merchant reads it: never the key, only its first characters."""
    if k.revoked_at is not None:
        status = "revoked"
    elif k.expires_at is not None:
        status = "expiring" if k.expires_at > at else "expired"
    else:
        status = "active"
    return {"object": "api_key", "id": k.id, "name": k.name, "prefix": k.prefix, "scope": k.scope,
            "status": status, "createdAt": _iso(k.created_at), "lastUsedAt": _iso(k.last_used_at),
            "expiresAt": _iso(k.expires_at), "revokedAt": _iso(k.revoked_at), "replacedBy": k.replaced_by,
            "current": k.id == principal.key_id}


def _iso(t: dt.datetime | None) -> str | None:
    return iso(t.replace(microsecond=0)) if t is not None else None


def _own_key(s, principal: Principal, key_id: str) -> ApiKey:
    row = s.get(ApiKey, key_id) if len(key_id) <= 40 else None
    if row is None or row.merchant_id != principal.merchant_id or row.role != "merchant":
        raise NotFound("no such key of this merchant", code="key_not_found")
    return row


def _in_force(at: dt.datetime):
    return (ApiKey.revoked_at.is_(None)) & ((ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > at))


def _managers_in_force(s, principal: Principal, at: dt.datetime) -> int:
    return s.scalar(select(func.count()).select_from(ApiKey).where(
        ApiKey.merchant_id == principal.merchant_id, ApiKey.role == "merchant", ApiKey.scope == "manager",
        _in_force(at)))


def _room_for_one(s, principal: Principal) -> None:
    n = s.scalar(select(func.count()).select_from(ApiKey).where(
        ApiKey.merchant_id == principal.merchant_id, ApiKey.role == "merchant", _in_force(utcnow())))
    if n >= MAX_KEYS_IN_FORCE:
        raise Conflict(f"a merchant has at most {MAX_KEYS_IN_FORCE} keys in force: revoke one first",
                       code="key_limit_reached")
