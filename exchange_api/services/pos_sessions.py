"""Point-of-sale sessions (the /pos page, issue 22): a merchant's API key, typed once into the page, is exchanged
for an opaque random token the browser keeps in an HttpOnly, SameSite=Strict cookie (routers/pos.py); the page
never holds the key. The token is stored only as its SHA-256 (256 random bits: a fast hash is enough, as for API
keys), acts for its key and its staff scope (a revoked key, or one past the end its rotation gave it, ends its
sessions at once) and lives `POS_SESSION_TTL_S` (8 h) unless
signed out earlier."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_, select

from exchange_api.merchant_keys import hash_key
from exchange_api.services.common import Principal
from exchange_api.services.offers import merchant_public
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import ApiKey, Merchant, MerchantProfile, PosSession, utcnow

TOKEN_BYTES = 32


@dataclass
class PosSessions:
    store: Store
    settings: Settings

    async def sign_in(self, principal: Principal) -> tuple[str, dict]:
        """A new session for a merchant's key: (the token for the cookie, what the page shows)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        created = utcnow()
        expires = created + dt.timedelta(seconds=self.settings.pos_session_ttl_s)

        def add(s):
            # sessions past their expiry are of no use to anyone: dropped as new ones come
            s.execute(delete(PosSession).where(PosSession.expires_at <= created))
            s.add(PosSession(token_hash=hash_key(token), key_id=principal.key_id, created_at=created,
                             expires_at=expires))
        await self.store.write(add)
        return token, await self._public(principal, expires)

    async def principal(self, token: str) -> Principal | None:
        """The caller a live session acts for, or None (unknown, expired, signed out, or its key revoked)."""
        found = await self._load(token)
        return found[0] if found else None

    async def current(self, token: str) -> dict | None:
        found = await self._load(token)
        return await self._public(found[0], found[1]) if found else None

    async def sign_out(self, token: str) -> None:
        await self.store.write(lambda s: s.execute(delete(PosSession).where(PosSession.token_hash == hash_key(token))))

    async def _load(self, token: str) -> tuple[Principal, dt.datetime] | None:
        if not token or len(token) > 100:
            return None
        digest = hash_key(token)

        def load(s):
            return s.execute(select(PosSession.expires_at, ApiKey, Merchant)
                             .join(ApiKey, ApiKey.id == PosSession.key_id)
                             .join(Merchant, Merchant.id == ApiKey.merchant_id)
                             .where(PosSession.token_hash == digest, PosSession.expires_at > utcnow(),
                                    ApiKey.revoked_at.is_(None), ApiKey.role == "merchant",
                                    or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()))).first()
        row = await self.store.run(load)
        if row is None:
            return None
        expires, k, m = row
        return Principal(k.id, k.role, m.id, m.address, m.name, scope=k.scope), expires

    async def _public(self, principal: Principal, expires: dt.datetime) -> dict:
        def load(s):
            return s.get(Merchant, principal.merchant_id), s.get(MerchantProfile, principal.merchant_id)
        merchant, profile = await self.store.run(load)
        return {"object": "pos_session", "merchant": merchant_public(merchant, profile),
                "key": {"id": principal.key_id, "scope": principal.scope},
                "expiresAt": expires.replace(microsecond=0).isoformat() + "Z"}
