from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from exchange_api.deps import RT, AuditorKey, Caller, MerchantKey
from exchange_api.errors import Forbidden
from exchange_api.routers import ERRORS
from exchange_api.schemas import ListOf, PeriodOut, RatesOut, SchemeOut, StatementOut
from exchange_api.services import public

router = APIRouter(prefix="/v1", tags=["public"], responses=ERRORS)


@router.get("/schemes", operation_id="listSchemes", response_model=ListOf[SchemeOut])
async def schemes(rt: RT, caller: Caller):
    return await public.schemes(rt)


@router.get("/rates", operation_id="getRates", response_model=RatesOut)
async def rates(rt: RT, caller: Caller):
    """Rates in force (credit cents per point, scaled by 1e6) and scheduled changes (queued proposals)."""
    return await public.rates(rt)


@router.get("/supply", operation_id="getSupply")
async def supply(rt: RT, caller: Caller):
    return await public.supply(rt)


@router.get("/periods", operation_id="listPeriods", response_model=ListOf[PeriodOut])
async def periods(rt: RT, caller: Caller):
    return await public.periods(rt)


@router.get("/statements", operation_id="listStatements", response_model=ListOf[StatementOut])
async def statements(rt: RT, caller: AuditorKey, period: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None):
    """Clearing statements per period: every pair for auditor keys; a merchant key sees its own."""
    return await public.statements(rt, merchant=caller.merchant if caller.role == "merchant" else None,
                                   period=period)


@router.get("/settlements", operation_id="listSettlements", response_model=ListOf[StatementOut])
async def settlements(rt: RT, merchant: MerchantKey, period: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None):
    """This merchant's settlement statements per period (what each scheme's issuer owes it)."""
    if merchant.merchant is None:
        raise Forbidden("not a merchant key", code="wrong_key_role")
    return await public.statements(rt, merchant=merchant.merchant, period=period)


@router.get("/indexer", operation_id="getIndexerStatus")
async def indexer(rt: RT, caller: Caller):
    ix = rt.indexer
    return {"object": "indexer", "block": ix.block, "head": ix.head, "lagBlocks": ix.lag, "maxLagBlocks": ix.max_lag,
            "rebuilds": ix.rebuilds}
