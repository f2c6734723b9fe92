"""Shops applying to accept points (issue 22; routers/merchant_applications.py). A shop applies from the till's
sign-in screen: its names in 中文 and English, category and district (catalogue_vocabulary.py), a contact and the
settlement account the consortium is to register. It gets an application id and a claim link shown once (its
secret stored only as a SHA-256; the contact only encrypted). The consortium's console lists the applications
with the `citypoints gov propose register-merchant` that registers each; members propose and approve it as any
proposal. Once the indexed chain has the account as an active merchant, the claim link yields the shop's first
manager key, exactly once (its catalogue profile is set from the application at the same time).

What stops a stranger from claiming a shop that is not theirs: an account that is a merchant already (on chain or
here) cannot be applied for; one open application per account; and the consortium registers an account only
after it reached the applicant through the contact the console shows (the proposal's description names the
application)."""
from __future__ import annotations

import hashlib
import json
import secrets
import shlex
from dataclasses import dataclass

from eth_utils import to_checksum_address
from sqlalchemy import or_, select

from exchange_api import crypto
from exchange_api.errors import Conflict, NotFound
from exchange_api.merchant_keys import create_key, ensure_merchant
from exchange_api.services.common import Principal, iso, new_id
from exchange_api.services.merchant_keys import key_public
from exchange_api.services.offers import check_codes
from exchange_api.services.results import Done
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import (ApiKey, IdxMerchant, Merchant, MerchantApplication, MerchantProfile,
                                       utcnow)

SECRET_BYTES = 32
LIST_LIMIT = 100
FIRST_KEY_NAME = "Manager (first key)"


@dataclass
class MerchantApplications:
    store: Store
    settings: Settings  # base_url: the claim link's origin
    pii_key: bytes      # the contact is kept sealed with it

    async def apply(self, body) -> Done:
        """A new application: its id and the claim link (shown once)."""
        check_codes(body.category, body.district)
        account = to_checksum_address(body.settlementAccount)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        app_id = new_id("app")

        def add(s):
            if s.get(IdxMerchant, account) is not None or s.scalar(select(Merchant.id).where(
                    Merchant.address == account)) is not None:
                raise Conflict("this settlement account is a merchant already: its keys come from its managers",
                               code="already_merchant", field="settlementAccount")
            if s.scalar(select(MerchantApplication.id).where(MerchantApplication.account == account,
                                                             MerchantApplication.claimed_at.is_(None))) is not None:
                raise Conflict("an application for this settlement account is open already",
                               code="application_pending", field="settlementAccount")
            row = MerchantApplication(
                id=app_id, name_zh=body.nameZh, name_en=body.nameEn, category=body.category, district=body.district,
                account=account, claim_hash=_hash(secret),
                contact=crypto.seal_bytes(self.pii_key, "application:" + app_id, body.contact.encode()))
            s.add(row)
            s.flush()
            return row
        row = await self.store.write(add)
        return Done({"object": "merchant_application", "id": row.id, "status": "received",
                     "settlementAccount": account, "claimSecret": secret, "claimUrl": self.claim_url(row.id, secret),
                     "createdAt": iso(row.created_at.replace(microsecond=0))})

    def fingerprint(self, body) -> str:
        """A request's idempotency fingerprint, keyed (HMAC with the PII key): the store never holds a plain hash
        of a contact or a claim secret."""
        return crypto.fingerprint(self.pii_key, json.dumps(body.model_dump(), sort_keys=True).encode())

    def claim_url(self, app_id: str, secret: str) -> str:
        # in the fragment: never sent to a server, so no access log or Referer carries it
        return f"{self.settings.base_url.rstrip('/')}/pos/#claim/{app_id}/{secret}"

    async def list_(self, status: str | None) -> dict:
        """Newest first, with each one's state on chain and the proposal that registers it (the console's)."""
        def load(s):
            q = (select(MerchantApplication, IdxMerchant.active)
                 .outerjoin(IdxMerchant, IdxMerchant.address == MerchantApplication.account))
            if status == "claimed":
                q = q.where(MerchantApplication.claimed_at.is_not(None))
            elif status == "registered":
                q = q.where(MerchantApplication.claimed_at.is_(None), IdxMerchant.active.is_(True))
            elif status == "received":
                q = q.where(MerchantApplication.claimed_at.is_(None),
                            or_(IdxMerchant.active.is_(None), IdxMerchant.active.is_(False)))
            return list(s.execute(q.order_by(MerchantApplication.seq.desc()).limit(LIST_LIMIT + 1)))
        rows = [self._public(a, active) for a, active in await self.store.run(load)]
        return {"object": "list", "has_more": len(rows) > LIST_LIMIT, "data": rows[:LIST_LIMIT]}

    async def claim(self, app_id: str, secret: str) -> Done:
        """The first manager key, once the chain has the account as a merchant; exactly once."""
        digest = _hash(secret)

        def claim(s):
            row = s.scalar(select(MerchantApplication).where(MerchantApplication.id == app_id))
            if row is None or not secrets.compare_digest(row.claim_hash, digest):
                raise NotFound("no application with this id and claim link", code="application_not_found")
            if row.claimed_at is not None:
                raise Conflict("this application's key was claimed already; the shop's managers make more keys",
                               code="application_already_claimed")
            registered = s.get(IdxMerchant, row.account)
            if registered is None or not registered.active:
                raise Conflict("the consortium has not registered this shop yet: try again once it has",
                               code="merchant_not_registered")
            merchant = ensure_merchant(s, row.account, row.name_en)
            if s.scalar(select(ApiKey.id).where(ApiKey.merchant_id == merchant.id)) is not None:
                raise Conflict("this merchant has keys already: its managers make more", code="merchant_has_keys")
            made = create_key(s, name=FIRST_KEY_NAME, merchant_address=row.account, scope="manager")
            if s.get(MerchantProfile, merchant.id) is None:
                s.add(MerchantProfile(merchant_id=merchant.id, name_zh=row.name_zh[:100], name_en=row.name_en[:100],
                                      category=row.category, district=row.district))
            row.claimed_at = utcnow()
            row.key_id = made.id
            return made.api_key, s.get(ApiKey, made.id), merchant.address
        api_key, key, address = await self.store.write(claim)
        principal = Principal(key.id, "merchant", scope="manager")
        return Done({"object": "merchant_application_claim", "id": app_id, "merchant": address,
                     "apiKey": api_key, "key": key_public(key, principal, utcnow())})

    def _public(self, a: MerchantApplication, active: bool | None) -> dict:
        status = "claimed" if a.claimed_at else "registered" if active else "received"
        contact = crypto.unseal_bytes(self.pii_key, "application:" + a.id, a.contact).decode()
        description = f"register {a.name_en} ({a.name_zh}), application {a.id}"
        return {"object": "merchant_application", "id": a.id, "status": status, "nameZh": a.name_zh,
                "nameEn": a.name_en, "category": a.category, "district": a.district, "contact": contact,
                "settlementAccount": a.account, "createdAt": iso(a.created_at.replace(microsecond=0)),
                "claimedAt": iso(a.claimed_at.replace(microsecond=0)) if a.claimed_at else None,
                "proposal": {"action": "register-merchant", "args": [a.account], "description": description,
                             "command": f"citypoints gov propose register-merchant {a.account} --as MEMBER "
                                        f"--description {shlex.quote(description)}"}}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
