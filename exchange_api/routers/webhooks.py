from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from exchange_api.deps import Idem, ManagerKey, WebhookEndpointsService
from exchange_api.routers import ERRORS, StartingAfter, changed, created
from exchange_api.schemas import ListOf, WebhookIn, WebhookOut

router = APIRouter(prefix="/v1/webhook_endpoints", tags=["webhooks"], responses=ERRORS)


class WebhookDeliveryOut(BaseModel):
    object: Literal["webhook_delivery"] = "webhook_delivery"
    id: str  # the event's id (CityPoints-Event-Id)
    endpointId: str
    eventType: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    lastStatusCode: int | None = None
    lastError: str | None = None
    lastAttemptAt: str | None = None
    nextAttemptAt: str | None = None  # while pending
    createdAt: str


@router.post("", operation_id="createWebhookEndpoint", status_code=201, response_model=WebhookOut)
async def create(request: Request, body: WebhookIn, endpoints: WebhookEndpointsService, idem: Idem,
                 merchant: ManagerKey):
    """Register a URL for this merchant's events; the signing secret is shown once. The URL must be https, name
    a host that resolves to public addresses only (no private, loopback, link-local, ... targets: 422
    `webhook_url_not_allowed`), and carry no user name or password (422 `invalid_webhook_url`)."""
    return await idem.run(request, merchant.key_id, body.model_dump(),
                          lambda: endpoints.create(merchant, body), created, sealed=True)


@router.get("", operation_id="listWebhookEndpoints", response_model=ListOf[WebhookOut])
async def list_(endpoints: WebhookEndpointsService, merchant: ManagerKey):
    return await endpoints.list_(merchant)


@router.delete("/{endpoint_id}", operation_id="deleteWebhookEndpoint", response_model=WebhookOut)
async def delete(request: Request, endpoint_id: str, endpoints: WebhookEndpointsService, idem: Idem,
                 merchant: ManagerKey):
    return await idem.run(request, merchant.key_id, {"delete": endpoint_id},
                          lambda: endpoints.delete(merchant, endpoint_id), changed)


@router.get("/{endpoint_id}/deliveries", operation_id="listWebhookDeliveries",
            response_model=ListOf[WebhookDeliveryOut])
async def deliveries(endpoint_id: str, endpoints: WebhookEndpointsService, merchant: ManagerKey,
                     limit: Annotated[int, Query(ge=1, le=100)] = 20, starting_after: StartingAfter = None):
    """The endpoint's delivery log, newest first: each event's status, attempts, the receiver's last status code
    or the error, and when it is tried next."""
    return await endpoints.deliveries(merchant, endpoint_id, limit, starting_after)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/redeliver", operation_id="redeliverWebhookDelivery",
             status_code=202, response_model=WebhookDeliveryOut)
async def redeliver(request: Request, endpoint_id: str, delivery_id: str, endpoints: WebhookEndpointsService,
                    idem: Idem, merchant: ManagerKey):
    """Send a delivery again now (delivered, failed or waiting for its retry): one more attempt."""
    return await idem.run(request, merchant.key_id, {"redeliver": [endpoint_id, delivery_id]},
                          lambda: endpoints.redeliver(merchant, endpoint_id, delivery_id), changed)
