"""Webhooks to merchants: each event is POSTed as JSON to every endpoint of the merchant, signed like Stripe's:

    CityPoints-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

Receivers check the HMAC and that t is within a tolerance (default 300 s) with `verify_signature`.
Deliveries are rows (webhook_deliveries) retried with exponential backoff (settings.webhook_backoff_s doubling,
up to webhook_max_attempts), so they survive restarts. Events: redemption.confirmed, redemption.failed,
refund.confirmed, refund.failed.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time

import httpx
from sqlalchemy import select

from exchange_api import crypto, metrics
from exchange_api.errors import NotFound
from exchange_api.services.common import iso, new_id
from exchange_api.store.models import WebhookDelivery, WebhookEndpoint, utcnow

log = logging.getLogger("citypoints.webhooks")
HEADER = "CityPoints-Signature"


class SignatureError(Exception):
    pass


def sign(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(payload: bytes, header: str, secret: str, *, tolerance: int = 300,
                     now: float | None = None) -> dict:
    """Check a delivery; returns the parsed event or raises SignatureError."""
    try:
        fields = dict(item.split("=", 1) for item in header.split(","))
        t = int(fields["t"])
    except (ValueError, KeyError):
        raise SignatureError("malformed signature header") from None
    expected = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, v) for k, v in
               (i.split("=", 1) for i in header.split(",")) if k == "v1"):
        raise SignatureError("signature mismatch")
    if abs((time.time() if now is None else now) - t) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    return json.loads(payload)


# -- endpoints (the merchant's resource) ---------------------------------------------------------------------

async def create_endpoint(rt, principal, body) -> tuple[int, dict]:
    secret = "whsec_" + secrets.token_urlsafe(24)
    row = WebhookEndpoint(id=new_id("we"), merchant_id=principal.merchant_id, url=body.url,
                          secret=crypto.seal_bytes(rt.pii_key, "webhook", secret.encode()))
    await rt.store.write(lambda s: s.add(row))
    return 201, {"object": "webhook_endpoint", "id": row.id, "url": row.url, "secret": secret,
                 "createdAt": iso(row.created_at)}


async def list_endpoints(rt, principal) -> dict:
    rows = await rt.store.run(lambda s: list(s.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.merchant_id == principal.merchant_id, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.seq))))
    return {"object": "list", "has_more": False, "data": [
        {"object": "webhook_endpoint", "id": r.id, "url": r.url, "secret": None, "createdAt": iso(r.created_at)}
        for r in rows]}


async def delete_endpoint(rt, principal, endpoint_id: str) -> tuple[int, dict]:
    def delete(s):
        r = s.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                   WebhookEndpoint.merchant_id == principal.merchant_id,
                                                   WebhookEndpoint.deleted_at.is_(None)))
        if r is None:
            raise NotFound("no such webhook endpoint", code="webhook_endpoint_not_found")
        r.deleted_at = utcnow()
        return r
    r = await rt.store.write(delete)
    return 200, {"object": "webhook_endpoint", "id": r.id, "url": r.url, "secret": None,
                 "createdAt": iso(r.created_at)}


def webhook_merchants(s) -> set[int]:
    """The merchants with at least one webhook endpoint (the others' events need not be built)."""
    return set(s.scalars(select(WebhookEndpoint.merchant_id).where(WebhookEndpoint.deleted_at.is_(None)).distinct()))


def enqueue(s, events: list[tuple[int, str, dict]]) -> None:
    """Queue each (merchant id, event type, object) for every endpoint of its merchant (inside the caller's
    transaction; one query for the endpoints of all of them)."""
    merchants = {m for m, _, _ in events}
    endpoints: dict[int, list[str]] = {}
    for ep_id, merchant_id in s.execute(select(WebhookEndpoint.id, WebhookEndpoint.merchant_id).where(
            WebhookEndpoint.merchant_id.in_(merchants), WebhookEndpoint.deleted_at.is_(None))):
        endpoints.setdefault(merchant_id, []).append(ep_id)
    for merchant_id, event_type, obj in events:
        for ep in endpoints.get(merchant_id, ()):
            event_id = new_id("evt")
            payload = json.dumps({"id": event_id, "object": "event", "type": event_type, "created": int(time.time()),
                                  "data": {"object": obj}}, separators=(",", ":"))
            s.add(WebhookDelivery(id=event_id, endpoint_id=ep, event_type=event_type, payload=payload,
                                  status="pending", attempts=0, next_attempt_at=0.0))


class Dispatcher:
    def __init__(self, rt):
        self.rt = rt
        self._wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        self._wake.set()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def run(self) -> None:
        while True:
            try:
                busy = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database outage: try again shortly
                log.warning("webhooks: %s", type(exc).__name__)
                busy = False
            if not busy:
                try:
                    await asyncio.wait_for(self._wake.wait(), 0.5)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()

    async def deliver_due(self, limit: int = 50) -> bool:
        settings = self.rt.settings
        t = time.time()

        def load(s):
            q = select(WebhookDelivery, WebhookEndpoint).join(WebhookEndpoint,
                                                              WebhookEndpoint.id == WebhookDelivery.endpoint_id)\
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= t)\
                .order_by(WebhookDelivery.seq).limit(limit)
            return s.execute(q).all()
        due = await self.rt.store.run(load)
        if not due:
            return False
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=settings.webhook_timeout_s)
        results = await asyncio.gather(*(self._post(d, ep) for d, ep in due))

        def save(s):
            for (d, _ep), (ok, err) in zip(due, results):
                row = s.get(WebhookDelivery, d.seq)
                row.attempts += 1
                if ok:
                    row.status = "delivered"
                elif row.attempts >= settings.webhook_max_attempts:
                    row.status, row.last_error = "failed", err
                else:
                    row.last_error = err
                    row.next_attempt_at = time.time() + settings.webhook_backoff_s * 2 ** (row.attempts - 1)
        await self.rt.store.write(save, background=True)
        return len(due) == limit

    async def _post(self, d: WebhookDelivery, ep: WebhookEndpoint) -> tuple[bool, str | None]:
        if ep.deleted_at is not None:
            return False, "endpoint deleted"
        secret = crypto.unseal_bytes(self.rt.pii_key, "webhook", ep.secret).decode()
        body = d.payload.encode()
        try:
            resp = await self._client.post(ep.url, content=body, headers={
                "Content-Type": "application/json", HEADER: sign(secret, body), "CityPoints-Event-Id": d.id})
            ok = 200 <= resp.status_code < 300
            metrics.WEBHOOKS.labels("delivered" if ok else "refused").inc()
            return ok, None if ok else f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            metrics.WEBHOOKS.labels("unreachable").inc()
            return False, type(exc).__name__
