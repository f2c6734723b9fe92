from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from exchange_api.deps import Caller, ExchangesService, Idem
from exchange_api.routers import ERRORS, created, wants_async
from exchange_api.schemas import ExchangeOut, IntentIn, QuoteIn, QuoteOut

router = APIRouter(prefix="/v1", tags=["exchanges"], responses=ERRORS)


@router.post("/exchange_quotes", operation_id="createExchangeQuote", response_model=QuoteOut)
async def quote(body: QuoteIn, exchanges: ExchangesService, caller: Caller):
    """What converting `points` of fromScheme gives in toScheme now, with the ExchangeIntent to sign."""
    return await exchanges.quote(body)


@router.post("/exchanges", operation_id="createExchange", status_code=201, response_model=ExchangeOut,
             responses={202: {"model": ExchangeOut}})
async def create_exchange(request: Request, body: IntentIn, exchanges: ExchangesService, idem: Idem, caller: Caller,
                          prefer: Annotated[str | None, Header()] = None):
    """Submit a resident-signed ExchangeIntent (the signature is the authentication)."""
    body = body.model_copy(update={"wait": not wants_async(prefer, body.wait)})
    return await idem.run(request, f"resident:{body.resident.lower()}", body.model_dump(),
                          lambda: exchanges.submit(body), created)
