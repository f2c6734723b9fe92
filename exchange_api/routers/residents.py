from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Response

from exchange_api.deps import RT, Caller
from exchange_api.routers import ERRORS
from exchange_api.schemas import ADDRESS, ActivityOut, BalancesOut, ListOf, RequestOut
from exchange_api.services import redemptions, residents

router = APIRouter(prefix="/v1/residents", tags=["residents"], responses=ERRORS)
Address = Annotated[str, Path(pattern=ADDRESS)]


@router.get("/{address}/balances", operation_id="getResidentBalances", response_model=BalancesOut)
async def balances(address: Address, rt: RT, caller: Caller):
    """Balances per scheme and their worth in credit cents at the rates in force (from the indexer)."""
    # the hottest read: serialised directly (the body is built by the service in the documented shape)
    return Response(orjson.dumps(await residents.balances(rt, address)), media_type="application/json")


@router.get("/{address}/history", operation_id="listResidentHistory", response_model=ListOf[ActivityOut])
async def history(address: Address, rt: RT, caller: Caller, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                  starting_after: str | None = None):
    """Issued (by which issuer account, with the program's reason code), revoked, burned, minted, moved."""
    return await residents.history(rt, address, limit, starting_after)


@router.get("/{address}/redemption_requests", operation_id="listResidentRedemptionRequests",
            response_model=ListOf[RequestOut])
async def pending_requests(address: Address, rt: RT, caller: Caller,
                           limit: Annotated[int, Query(ge=1, le=100)] = 20, starting_after: str | None = None):
    """Open redemption requests waiting for this resident's signature."""
    return await redemptions.resident_requests(rt, address, limit, starting_after)
