from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request

from exchange_api.deps import Idem, ManagerKey, RefundsService
from exchange_api.routers import ERRORS, created, wants_async
from exchange_api.schemas import BYTES32, RefundIn, RefundOut

router = APIRouter(prefix="/v1", tags=["refunds"], responses=ERRORS)


@router.post("/redemptions/{redemption_id}/refunds", operation_id="createRefund", status_code=201,
             response_model=RefundOut, responses={202: {"model": RefundOut}})
async def create_refund(request: Request, body: RefundIn, refunds: RefundsService, idem: Idem, merchant: ManagerKey,
                        redemption_id: Annotated[str, Path(pattern=BYTES32)],
                        prefer: Annotated[str | None, Header()] = None):
    """Refund `credits` of a confirmed redemption (full or partial, within the refund window)."""
    body = body.model_copy(update={"wait": not wants_async(prefer, body.wait)})
    return await idem.run(request, merchant.key_id, body.model_dump(),
                          lambda: refunds.create(merchant, redemption_id, body), created)


@router.get("/refunds/{refund_id}", operation_id="getRefund", response_model=RefundOut)
async def get_refund(refunds: RefundsService, merchant: ManagerKey, refund_id: str):
    return await refunds.get(merchant, refund_id)
