"""Webhook endpoints, the merchant's resource: create (the signing secret shown once, kept only encrypted), list,
delete, the delivery log and redelivery; and the events queued for them (`enqueue`, inside the transaction that
settles a record). Delivery itself, the URL guard and signing are exchange_api/webhooks.py's."""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select, update

from exchange_api import crypto
from exchange_api.errors import NotFound
from exchange_api.services.common import Principal, cursor_seq, iso, new_id
from exchange_api.services.results import Done, Pending
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import WebhookDelivery, WebhookEndpoint, utcnow
from exchange_api.webhooks import Dispatcher, checked_target


@dataclass
class WebhookEndpoints:
    store: Store
    settings: Settings       # what a URL may name (webhook_allow_http, webhook_allow_private_targets)
    pii_key: bytes           # signing secrets are kept sealed with it
    dispatcher: Dispatcher   # woken for a redelivery

    async def create(self, principal: Principal, body) -> Done:
        await checked_target(self.settings, body.url)
        secret = "whsec_" + secrets.token_urlsafe(24)
        row = WebhookEndpoint(id=new_id("we"), merchant_id=principal.merchant_id, url=body.url,
                              secret=crypto.seal_bytes(self.pii_key, "webhook", secret.encode()))
        await self.store.write(lambda s: s.add(row))
        return Done({"object": "webhook_endpoint", "id": row.id, "url": row.url, "secret": secret,
                     "createdAt": iso(row.created_at)})

    async def list_(self, principal: Principal) -> dict:
        rows = await self.store.run(lambda s: list(s.scalars(select(WebhookEndpoint).where(
            WebhookEndpoint.merchant_id == principal.merchant_id, WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.seq))))
        return {"object": "list", "has_more": False, "data": [
            {"object": "webhook_endpoint", "id": r.id, "url": r.url, "secret": None, "createdAt": iso(r.created_at)}
            for r in rows]}

    async def delete(self, principal: Principal, endpoint_id: str) -> Done:
        def delete(s):
            r = _own_endpoint(s, principal, endpoint_id)
            r.deleted_at = utcnow()
            s.execute(update(WebhookDelivery).where(WebhookDelivery.endpoint_id == r.id,
                                                    WebhookDelivery.status == "pending")
                      .values(status="failed", last_error="endpoint deleted"))
            return r
        r = await self.store.write(delete)
        return Done({"object": "webhook_endpoint", "id": r.id, "url": r.url, "secret": None,
                     "createdAt": iso(r.created_at)})

    async def deliveries(self, principal: Principal, endpoint_id: str, limit: int,
                         starting_after: str | None) -> dict:
        """The endpoint's delivery log, newest first."""
        def load(s):
            _own_endpoint(s, principal, endpoint_id)
            q = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
            after = cursor_seq(s, WebhookDelivery, starting_after, endpoint_id=endpoint_id)
            if after is not None:
                q = q.where(WebhookDelivery.seq < after)
            return list(s.scalars(q.order_by(WebhookDelivery.seq.desc()).limit(limit + 1)))
        rows = await self.store.run(load)
        return {"object": "list", "data": [delivery_public(d) for d in rows[:limit]], "has_more": len(rows) > limit}

    async def redeliver(self, principal: Principal, endpoint_id: str, delivery_id: str) -> Pending:
        """Send a delivery again now (whatever it came to before): one more attempt, not a new round of retries.
        Pending: the attempt is queued, not made yet."""
        def again(s):
            _own_endpoint(s, principal, endpoint_id)
            d = s.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                       WebhookDelivery.endpoint_id == endpoint_id))
            if d is None:
                raise NotFound("no such delivery of this endpoint", code="webhook_delivery_not_found")
            d.status, d.next_attempt_at, d.attempt_limit = "pending", time.time(), d.attempts + 1
            return d
        d = await self.store.write(again)
        self.dispatcher.wake()
        return Pending(delivery_public(d))


def _own_endpoint(s, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
    r = s.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                               WebhookEndpoint.merchant_id == principal.merchant_id,
                                               WebhookEndpoint.deleted_at.is_(None)))
    if r is None:
        raise NotFound("no such webhook endpoint", code="webhook_endpoint_not_found")
    return r


def _at(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def delivery_public(d: WebhookDelivery) -> dict:
    return {"object": "webhook_delivery", "id": d.id, "endpointId": d.endpoint_id, "eventType": d.event_type,
            "status": d.status, "attempts": d.attempts, "lastStatusCode": d.last_status_code,
            "lastError": d.last_error,
            "lastAttemptAt": iso(d.last_attempt_at) if d.last_attempt_at else None,
            "nextAttemptAt": _at(d.next_attempt_at) if d.status == "pending" else None,
            "createdAt": iso(d.created_at)}


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
