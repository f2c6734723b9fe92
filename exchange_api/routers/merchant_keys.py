"""A merchant's own API keys (manager keys, and the till's Keys view): list, staff keys, rotation with a grace,
revocation (issue 22; the rules are services/merchant_keys.py's). A new key is shown once: its creation's
idempotent replay is kept encrypted, as a webhook's secret."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from exchange_api.deps import Idem, ManagerKey, MerchantKeysService
from exchange_api.routers import ERRORS, changed, created
from exchange_api.schemas import ListOf, Model
from exchange_api.services.merchant_keys import MAX_GRACE_S

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERRORS)

KeyId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^key_[0-9a-f]{1,36}$")]
Scope = Literal["cashier", "manager"]


class KeyIn(Model):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                      description="who or what holds it, e.g. 'Till 2' or 'Ana (evenings)'")
    scope: Scope = Field(description="cashier: sales (redemption requests, redemptions); manager: everything, "
                                     "refunds, offers, keys, statements, webhooks included")


class RotateIn(Model):
    graceSeconds: int = Field(strict=True, ge=0, le=MAX_GRACE_S,
                              description=f"how long the old key keeps working, 0 (ends now) to {MAX_GRACE_S} (7 days)")


class KeyOut(BaseModel):
    object: Literal["api_key"] = "api_key"
    id: str
    name: str
    prefix: str = Field(description="the key's first 12 characters")
    scope: Scope
    status: Literal["active", "expiring", "expired", "revoked"]
    createdAt: str
    lastUsedAt: str | None = Field(None, description="to the minute")
    expiresAt: str | None = Field(None, description="a rotated key's end")
    revokedAt: str | None = None
    replacedBy: str | None = Field(None, description="the key its rotation made")
    current: bool = Field(description="the key of this request")
    apiKey: str | None = Field(None, description="the key itself: shown once, at creation or rotation")


class RotatedOut(KeyOut):
    replaces: KeyOut


@router.get("", operation_id="listKeys", response_model=ListOf[KeyOut])
async def list_(keys: MerchantKeysService, merchant: ManagerKey):
    """This merchant's keys, newest first (the newest 100): never the keys, their first characters."""
    return await keys.list_(merchant)


@router.post("", operation_id="createKey", status_code=201, response_model=KeyOut)
async def create(request: Request, body: KeyIn, keys: MerchantKeysService, idem: Idem, merchant: ManagerKey):
    """A staff key for this merchant (cashier or manager), shown once. At most 50 keys in force (409
    `key_limit_reached`)."""
    return await idem.run(request, merchant.key_id, body.model_dump(),
                          lambda: keys.create(merchant, body.name, body.scope), created, sealed=True)


@router.post("/{key_id}/rotate", operation_id="rotateKey", status_code=201, response_model=RotatedOut)
async def rotate(request: Request, key_id: KeyId, body: RotateIn, keys: MerchantKeysService, idem: Idem,
                 merchant: ManagerKey):
    """A new key with the same name and scope, shown once; the old key keeps working `graceSeconds`, then is
    refused (401). A key rotated before is 409 `key_already_rotated`, one revoked or ended 409 `key_not_in_force`."""
    return await idem.run(request, merchant.key_id, {"key": key_id, **body.model_dump()},
                          lambda: keys.rotate(merchant, key_id, body.graceSeconds), created, sealed=True)


@router.delete("/{key_id}", operation_id="revokeKey", response_model=KeyOut)
async def revoke(request: Request, key_id: KeyId, keys: MerchantKeysService, idem: Idem, merchant: ManagerKey):
    """Revoke a key at once (its till sessions end with it). The shop's last manager key in force cannot be
    revoked (409 `last_manager_key`)."""
    return await idem.run(request, merchant.key_id, {"key": key_id},
                          lambda: keys.revoke(merchant, key_id), changed)
