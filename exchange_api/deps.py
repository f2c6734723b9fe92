"""Dependencies (FastAPI `Annotated`): the services (each built once by the runtime), the caller (Bearer API key
-> Principal), rate limits, and the runtime itself for what is not a service (health, rate-limit buckets). In the
read process (read_replica.py) the runtime is its `ReadRuntime`: the same names for the services it hosts, the
same key lookup and limits (`any_caller`; `role` keys write a key's last use, so no read route takes one).

Merchant endpoints (`role`) take the key's header or, for the /pos page, its session cookie (`POS_COOKIE`, with
the CSRF header `X-CityPoints-POS: 1` on changes); public endpoints (`any_caller`) read the header only.

Staff scopes (merchant keys): `MerchantKey` takes a cashier's key or a manager's, `ManagerKey` a manager's only;
a cashier's key on a manager's endpoint is 403 `insufficient_scope` naming the scope needed. A key's last use is
written at most once a minute per key and process (`LAST_USED_EVERY_S`), never a write a request.

Rate limits: a token bucket per API key (`RATE_LIMIT_PER_S`, `RATE_LIMIT_BURST`), per client address for calls
without a key; failed authentications per client address (`AUTH_FAILURES_PER_MIN`, request_limits.py): past the
limit the address is answered 429 with Retry-After, before any key it sends is looked up."""
from __future__ import annotations

import logging
import math
import time
from typing import Annotated, Any, Callable

from fastapi import Depends, Request
from sqlalchemy import or_, select, update

from exchange_api.errors import Forbidden, RateLimited, Unauthorized
from exchange_api.idempotency import Idempotency
from exchange_api.merchant_keys import hash_key
from exchange_api.read_replica import ReadRuntime
from exchange_api.request_limits import client_address
from exchange_api.runtime import Runtime, Services
from exchange_api.services.common import Principal
from exchange_api.services.exchanges import Exchanges
from exchange_api.services.eligibility import Eligibility
from exchange_api.services.governance import Governance
from exchange_api.services.identity_trail import IdentityTrail
from exchange_api.services.merchant_applications import MerchantApplications
from exchange_api.services.merchant_keys import MerchantKeys
from exchange_api.services.offers import Offers
from exchange_api.services.onboarding import Onboarding
from exchange_api.services.pos_sessions import PosSessions
from exchange_api.services.public import Public
from exchange_api.services.recoveries import Recoveries
from exchange_api.services.resident_lookup import ResidentLookup
from exchange_api.services.redemptions import Redemptions
from exchange_api.services.refunds import Refunds
from exchange_api.services.residents import Residents
from exchange_api.services.vouchers import Vouchers
from exchange_api.services.webhooks import WebhookEndpoints
from exchange_api.store.models import ApiKey, Merchant, utcnow

AUTH_CACHE_S = 5.0  # a key revoked from another process stops working within this time (this one's: at once)
LAST_USED_EVERY_S = 60.0  # a key's last_used_at is written at most this often (per process)
log = logging.getLogger("citypoints.api")


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, two thread hops a request
    return request.app.state.rt


RT = Annotated[Runtime, Depends(get_runtime)]
ReadRT = Annotated[ReadRuntime, Depends(get_runtime)]  # the read process's (read_replica.py)


def _service(pick: Callable[[Services], Any]) -> Any:
    async def service(request: Request):  # async, as get_runtime
        return pick(request.app.state.rt.services)
    return Depends(service)


RedemptionsService = Annotated[Redemptions, _service(lambda s: s.redemptions)]
RefundsService = Annotated[Refunds, _service(lambda s: s.refunds)]
ExchangesService = Annotated[Exchanges, _service(lambda s: s.exchanges)]
OnboardingService = Annotated[Onboarding, _service(lambda s: s.onboarding)]
PublicService = Annotated[Public, _service(lambda s: s.public)]
GovernanceService = Annotated[Governance, _service(lambda s: s.governance)]
EligibilityService = Annotated[Eligibility, _service(lambda s: s.eligibility)]
ResidentsService = Annotated[Residents, _service(lambda s: s.residents)]
OffersService = Annotated[Offers, _service(lambda s: s.offers)]
RecoveriesService = Annotated[Recoveries, _service(lambda s: s.recoveries)]
PosSessionsService = Annotated[PosSessions, _service(lambda s: s.pos_sessions)]
IdentityTrailService = Annotated[IdentityTrail, _service(lambda s: s.identity_trail)]
ResidentLookupService = Annotated[ResidentLookup, _service(lambda s: s.resident_lookup)]
VouchersService = Annotated[Vouchers, _service(lambda s: s.vouchers)]
WebhookEndpointsService = Annotated[WebhookEndpoints, _service(lambda s: s.webhook_endpoints)]
MerchantKeysService = Annotated[MerchantKeys, _service(lambda s: s.merchant_keys)]
MerchantApplicationsService = Annotated[MerchantApplications, _service(lambda s: s.merchant_applications)]


async def get_idempotency(request: Request) -> Idempotency:
    return request.app.state.rt.idempotency


Idem = Annotated[Idempotency, Depends(get_idempotency)]


def source(request: Request) -> str:
    """The client's address (through trusted proxies only: request_limits.client_address)."""
    return client_address(request.scope, request.app.state.trusted_proxies)


def _refuse(request: Request, message: str) -> Unauthorized:
    """A failed authentication: counted against its source, then 401."""
    request.app.state.auth_failures.failed(source(request))
    return Unauthorized(message, code="invalid_api_key")


async def _principal(request: Request, rt: Runtime) -> Principal | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    refuse_if_limited(request)
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _refuse(request, "use Authorization: Bearer <API key>")
    return await key_principal(request, rt, key.strip())


def refuse_if_limited(request: Request) -> None:
    """429 for a client address past its failed authentications (request_limits.FailureLimiter), before any key
    it sends is looked up."""
    wait = request.app.state.auth_failures.retry_after(source(request))
    if wait is not None:
        raise RateLimited("too many failed authentications from this address; retry later",
                          code="too_many_auth_failures", headers={"Retry-After": str(max(1, math.ceil(wait)))})


async def key_principal(request: Request, rt: Runtime, key: str) -> Principal:
    """The caller an API key names; an unknown, revoked or rotated-out key is a counted failure, 401.
    The Authorization header's key, and the one the point-of-sale page signs in with (routers/pos.py).
    Cached AUTH_CACHE_S, never past the end a rotation gave the key (an entry lives until the earlier of the two),
    and a key revoked or rotated through this process's API leaves the cache at once
    (services/merchant_keys.py)."""
    refuse_if_limited(request)
    digest = hash_key(key)
    hit = rt.auth_cache.get(digest)
    if hit is not None and hit[1] > time.monotonic():
        principal = hit[0]
    else:
        def load(s):
            at = utcnow()
            row = s.execute(select(ApiKey, Merchant).outerjoin(Merchant, Merchant.id == ApiKey.merchant_id)
                            .where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None),
                                   or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > at))).first()
            if row is None:
                return None, AUTH_CACHE_S
            k, m = row
            ttl = AUTH_CACHE_S if k.expires_at is None else min(AUTH_CACHE_S, (k.expires_at - at).total_seconds())
            return Principal(k.id, k.role, m.id if m else None, m.address if m else None, m.name if m else None,
                             k.account, k.scope), ttl
        principal, ttl = await rt.store.run(load)
        if len(rt.auth_cache) > 10_000:
            rt.auth_cache.clear()
        rt.auth_cache[digest] = (principal, time.monotonic() + ttl)
    if principal is None:
        raise _refuse(request, "unknown or revoked API key")
    return principal


async def touch(rt: Runtime, principal: Principal) -> None:
    """Note that the key was used: written at most once every LAST_USED_EVERY_S per key, so the merchant sees when
    each key was last used to the minute without a write a request. A store that cannot take it now loses one
    note, never the request."""
    at = time.monotonic()
    last = rt.key_used.get(principal.key_id)
    if last is not None and at - last < LAST_USED_EVERY_S:
        return
    if len(rt.key_used) > 10_000:
        rt.key_used.clear()
    rt.key_used[principal.key_id] = at
    when = utcnow().replace(microsecond=0)
    try:
        await rt.store.write(lambda s: s.execute(update(ApiKey).where(ApiKey.id == principal.key_id)
                                                 .values(last_used_at=when)), isolated=False)
    except Exception as exc:  # noqa: BLE001 - a lost note of use must not fail the sale it came with
        log.warning("last use of key %s not written: %s", principal.key_id, type(exc).__name__)


POS_COOKIE = "citypoints_pos"  # the point-of-sale page's session (services/pos_sessions.py)
POS_HEADER = "x-citypoints-pos"  # what a page of this origin adds to its unsafe requests (CSRF defence)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def session_principal(request: Request, rt: Runtime) -> Principal | None:
    """The caller of a point-of-sale session cookie, or None without one. Besides SameSite=Strict, a request
    that changes something must carry `X-CityPoints-POS: 1`: a cross-site form or image cannot set a header, and
    a cross-site script may not without a CORS preflight this API never grants (403 `csrf_header_missing`)."""
    token = request.cookies.get(POS_COOKIE)
    if not token:
        return None
    if request.method not in SAFE_METHODS and request.headers.get(POS_HEADER) != "1":
        raise Forbidden("a point-of-sale session's changes need the header X-CityPoints-POS: 1 (requests from "
                        "other sites are refused)", code="csrf_header_missing")
    principal = await rt.services.pos_sessions.principal(token)
    if principal is None:
        raise Unauthorized("the point-of-sale session has expired or was signed out: sign in again",
                           code="invalid_session")
    return principal


def _limit(rt: Runtime, key: str) -> None:
    wait = rt.allow(key)
    if wait is not None:
        raise RateLimited("too many requests for this key; slow down", headers={"Retry-After": str(max(1, round(wait)))})


async def any_caller(request: Request, rt: RT) -> Principal | None:
    """Public endpoints: an API key is optional; rate-limited per key, or per client address without one."""
    principal = await _principal(request, rt)
    _limit(rt, principal.key_id if principal else "ip:" + source(request))
    return principal


def role(*roles: str, scope: str | None = None):
    """A caller of one of `roles`; with `scope="manager"`, a merchant key must be a manager's (other roles have no
    scope)."""
    async def dep(request: Request, rt: RT) -> Principal:
        principal = await _principal(request, rt) or await session_principal(request, rt)
        if principal is None:
            raise Unauthorized("this endpoint needs an API key: Authorization: Bearer <key> (or the point-of-sale "
                               "page's session)", code="missing_api_key")
        if principal.role not in roles:
            raise Forbidden(f"this endpoint is for {' or '.join(roles)} keys", code="wrong_key_role")
        if scope == "manager" and principal.role == "merchant" and principal.scope != "manager":
            raise Forbidden(f"this needs a merchant key with the manager scope (this key's scope: "
                            f"{principal.scope})", code="insufficient_scope")
        _limit(rt, principal.key_id)
        await touch(rt, principal)
        return principal
    return dep


MerchantKey = Annotated[Principal, Depends(role("merchant"))]  # a cashier's or a manager's: sales
ManagerKey = Annotated[Principal, Depends(role("merchant", scope="manager"))]  # refunds, offers, keys, statements
OnboardingKey = Annotated[Principal, Depends(role("onboarding"))]
AuditorKey = Annotated[Principal, Depends(role("auditor", "merchant", scope="manager"))]
ConsoleKey = Annotated[Principal, Depends(role("auditor", "onboarding"))]  # the console's applications list
IssuerKey = Annotated[Principal, Depends(role("issuer"))]
Caller = Annotated[Principal | None, Depends(any_caller)]
