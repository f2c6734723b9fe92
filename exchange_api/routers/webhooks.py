from __future__ import annotations

from fastapi import APIRouter, Request

from exchange_api import webhooks
from exchange_api.deps import RT, MerchantKey
from exchange_api.idempotency import idempotent
from exchange_api.routers import ERRORS
from exchange_api.schemas import ListOf, WebhookIn, WebhookOut

router = APIRouter(prefix="/v1/webhook_endpoints", tags=["webhooks"], responses=ERRORS)


@router.post("", operation_id="createWebhookEndpoint", status_code=201, response_model=WebhookOut)
async def create(request: Request, body: WebhookIn, rt: RT, merchant: MerchantKey):
    """Register a URL for this merchant's events; the signing secret is shown once."""
    return await idempotent(rt, request, merchant.key_id, body.model_dump(),
                            lambda: webhooks.create_endpoint(rt, merchant, body))


@router.get("", operation_id="listWebhookEndpoints", response_model=ListOf[WebhookOut])
async def list_(rt: RT, merchant: MerchantKey):
    return await webhooks.list_endpoints(rt, merchant)


@router.delete("/{endpoint_id}", operation_id="deleteWebhookEndpoint", response_model=WebhookOut)
async def delete(request: Request, endpoint_id: str, rt: RT, merchant: MerchantKey):
    return await idempotent(rt, request, merchant.key_id, {"delete": endpoint_id},
                            lambda: webhooks.delete_endpoint(rt, merchant, endpoint_id))
