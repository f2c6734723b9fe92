from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from exchange_api.deps import AuditorKey, Caller, MerchantKey, PublicService
from exchange_api.errors import Forbidden
from exchange_api.routers import ERRORS
from exchange_api.schemas import ListOf, PeriodOut, RatesOut, SchemeOut, StatementOut

router = APIRouter(prefix="/v1", tags=["public"], responses=ERRORS)
Period = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


@router.get("/schemes", operation_id="listSchemes", response_model=ListOf[SchemeOut])
async def schemes(public: PublicService, caller: Caller):
    return await public.schemes()


@router.get("/rates", operation_id="getRates", response_model=RatesOut)
async def rates(public: PublicService, caller: Caller):
    """Rates in force (credit cents per point, scaled by 1e6) and scheduled changes (queued proposals)."""
    return await public.rates()


@router.get("/supply", operation_id="getSupply")
async def supply(public: PublicService, caller: Caller):
    return await public.supply()


@router.get("/periods", operation_id="listPeriods", response_model=ListOf[PeriodOut])
async def periods(public: PublicService, caller: Caller):
    return await public.periods()


@router.get("/statements", operation_id="listStatements", response_model=ListOf[StatementOut])
async def statements(public: PublicService, caller: AuditorKey, period: Period = None):
    """Clearing statements per period: every pair for auditor keys; a merchant key sees its own."""
    return await public.statements(merchant=caller.merchant if caller.role == "merchant" else None,
                                   period=period)


@router.get("/settlements", operation_id="listSettlements", response_model=ListOf[StatementOut])
async def settlements(public: PublicService, merchant: MerchantKey, period: Period = None):
    """This merchant's settlement statements per period (what each scheme's issuer owes it)."""
    if merchant.merchant is None:
        raise Forbidden("not a merchant key", code="wrong_key_role")
    return await public.statements(merchant=merchant.merchant, period=period)


@router.get("/indexer", operation_id="getIndexerStatus")
async def indexer(public: PublicService, caller: Caller):
    return public.indexer_status()
