"""Shops applying to accept points (issue 22; the rules are services/merchant_applications.py's): the public
application from the till's sign-in screen, the consortium console's list, and the claim of the first key."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import AfterValidator, BaseModel, Field

from exchange_api.deps import RT, Caller, ConsoleKey, Idem, MerchantApplicationsService, source
from exchange_api.errors import RateLimited
from exchange_api.routers import ERRORS, created
from exchange_api.routers.offers import Code, Name, _no_controls
from exchange_api.schemas import ADDRESS, ListOf, Model

router = APIRouter(prefix="/v1/merchant_applications", tags=["merchant applications"], responses=ERRORS)

AppId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^app_[0-9a-f]{1,36}$")]
CLAIMS_PER_MIN = 10
Contact = Annotated[str, Field(min_length=3, max_length=200), AfterValidator(_no_controls)]


class ApplicationIn(Model):
    nameZh: Name
    nameEn: Name
    category: Code
    district: Code
    contact: Contact = Field(description="a phone number or e-mail the consortium reaches the shop by (kept "
                                         "encrypted)")
    settlementAccount: str = Field(pattern=ADDRESS, description="the account the consortium registers as the "
                                                                "merchant: its redemptions are settled to it")


class ClaimIn(Model):
    secret: str = Field(min_length=20, max_length=100, description="the claim link's secret")


class ProposalHint(BaseModel):
    action: Literal["register-merchant"]
    args: list[str]
    description: str
    command: str = Field(description="the `citypoints gov propose` that registers it (`--as` a member's keystore)")


class ApplicationOut(BaseModel):
    object: Literal["merchant_application"] = "merchant_application"
    id: str
    status: Literal["received", "registered", "claimed"]
    settlementAccount: str
    createdAt: str
    claimSecret: str | None = Field(None, description="shown once, at the application")
    claimUrl: str | None = Field(None, description="shown once, at the application: the till opens it")
    nameZh: str | None = None
    nameEn: str | None = None
    category: str | None = None
    district: str | None = None
    contact: str | None = None
    claimedAt: str | None = None
    proposal: ProposalHint | None = None


class ClaimOut(BaseModel):
    object: Literal["merchant_application_claim"] = "merchant_application_claim"
    id: str
    merchant: str
    apiKey: str = Field(description="the shop's first manager key: shown once")
    key: dict


def _limit(request: Request, rt, what: str) -> None:
    per_hour = rt.settings.merchant_applications_per_hour
    wait = rt.allow(f"{what}:" + source(request), per_hour / 3600.0, max(1, min(per_hour, 3)))
    if wait is not None:
        raise RateLimited("too many applications from this address; retry later",
                          headers={"Retry-After": str(max(1, round(wait)))})


@router.post("", operation_id="applyAsMerchant", status_code=201, response_model=ApplicationOut)
async def apply(request: Request, body: ApplicationIn, applications: MerchantApplicationsService, idem: Idem, rt: RT,
                caller: Caller):
    """A shop applies to accept points (no key). Answers the application's id and a claim link, shown once: once
    the consortium has registered the settlement account as a merchant, the link yields the shop's first manager
    key. Limited per client address (`MERCHANT_APPLICATIONS_PER_HOUR`). 409 `already_merchant` for an account
    that is one, `application_pending` when one for it is open; 422 `unknown_category` / `unknown_district`."""
    _limit(request, rt, "application")
    # an Idempotency-Key's replay (per client address) gives the same claim link again, kept only encrypted
    return await idem.run(request, "application:" + source(request), applications.fingerprint(body),
                          lambda: applications.apply(body), created, sealed=True)


@router.get("", operation_id="listMerchantApplications", response_model=ListOf[ApplicationOut])
async def list_(applications: MerchantApplicationsService, key: ConsoleKey,
                status: Annotated[Literal["received", "registered", "claimed"] | None, Query()] = None):
    """The applications, newest first (the newest 100), for the consortium's console (auditor or onboarding keys):
    each one's state (received; registered: the chain has the account as a merchant; claimed: its first key was
    taken), its contact, and the `citypoints gov propose register-merchant` that registers it."""
    return await applications.list_(status)


@router.post("/{app_id}/claim", operation_id="claimMerchantApplication", status_code=201, response_model=ClaimOut)
async def claim(request: Request, app_id: AppId, body: ClaimIn, applications: MerchantApplicationsService, idem: Idem,
                rt: RT):
    """The shop's first manager key, shown once, after the consortium registered its account: 409
    `merchant_not_registered` before, `application_already_claimed` after the first claim; a wrong id or secret is
    404 `application_not_found`. Limited per client address (`CLAIMS_PER_MIN`; the secret has 256 random bits, the
    limit keeps a prober's cost to the API small). With an `Idempotency-Key`, a claim whose answer was lost is
    answered again (same key, same secret)."""
    wait = rt.allow("claim:" + source(request), CLAIMS_PER_MIN / 60.0, CLAIMS_PER_MIN)
    if wait is not None:
        raise RateLimited("too many claims from this address; retry later",
                          headers={"Retry-After": str(max(1, round(wait)))})
    # a claim whose answer was lost is answered again with its Idempotency-Key (the key kept only encrypted); the
    # replay needs the same secret (it is part of the request compared)
    return await idem.run(request, "claim:" + app_id, applications.fingerprint(body),
                          lambda: applications.claim(app_id, body.secret), created, sealed=True)
