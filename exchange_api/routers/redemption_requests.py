from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from exchange_api.deps import Caller, Idem, MerchantKey, RedemptionsService
from exchange_api.routers import ERRORS, changed, created, wants_async
from exchange_api.schemas import ApproveIn, RedemptionOut, RequestCreate, RequestOut

router = APIRouter(prefix="/v1/redemption_requests", tags=["redemption requests"], responses=ERRORS)


@router.post("", operation_id="createRedemptionRequest", status_code=201, response_model=RequestOut)
async def create_request(request: Request, body: RequestCreate, redemptions: RedemptionsService, idem: Idem,
                         merchant: MerchantKey):
    """Ask a resident to redeem: returns the id, a QR payload and the EIP-712 RedemptionConsent to sign."""
    return await idem.run(request, merchant.key_id, body.model_dump(),
                          lambda: redemptions.create_request(merchant, body), created)


@router.get("/{request_id}", operation_id="getRedemptionRequest", response_model=RequestOut)
async def get_request(redemptions: RedemptionsService, caller: Caller, request_id: str):
    """A request by its id (the id is the QR's secret; the resident's wallet reads it to show what to sign)."""
    return await redemptions.get_request(request_id)


@router.post("/{request_id}/approve", operation_id="approveRedemptionRequest", status_code=201,
             response_model=RedemptionOut, responses={202: {"model": RedemptionOut}})
async def approve_request(request: Request, request_id: str, body: ApproveIn, redemptions: RedemptionsService,
                          idem: Idem, caller: Caller, prefer: Annotated[str | None, Header()] = None):
    """The resident approves by posting the signature of the request's typed data (the signature is the
    authentication). Answers like createRedemption."""
    body = body.model_copy(update={"wait": not wants_async(prefer, body.wait)})
    return await idem.run(request, f"rrq:{request_id}", body.model_dump(),
                          lambda: redemptions.approve_request(request_id, body), created)


@router.post("/{request_id}/cancel", operation_id="cancelRedemptionRequest", response_model=RequestOut)
async def cancel_request(request: Request, request_id: str, redemptions: RedemptionsService, idem: Idem,
                         merchant: MerchantKey):
    return await idem.run(request, merchant.key_id, {"cancel": request_id},
                          lambda: redemptions.cancel_request(merchant, request_id), changed)
