from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from exchange_api.deps import RT, Caller, Idem, MerchantKey, RedemptionsService
from exchange_api.errors import RateLimited
from exchange_api.routers import ERRORS, StartingAfter, changed, created, wants_async
from exchange_api.schemas import ApproveIn, ListOf, RedemptionOut, RequestCreate, RequestOut

router = APIRouter(prefix="/v1/redemption_requests", tags=["redemption requests"], responses=ERRORS)


@router.post("", operation_id="createRedemptionRequest", status_code=201, response_model=RequestOut)
async def create_request(request: Request, body: RequestCreate, redemptions: RedemptionsService, idem: Idem,
                         merchant: MerchantKey):
    """Ask a resident to redeem: returns the id, a QR payload and the EIP-712 RedemptionConsent to sign."""
    return await idem.run(request, merchant.key_id, body.model_dump(),
                          lambda: redemptions.create_request(merchant, body), created)


@router.get("", operation_id="listRedemptionRequests", response_model=ListOf[RequestOut])
async def list_requests(redemptions: RedemptionsService, merchant: MerchantKey,
                        limit: Annotated[int, Query(ge=1, le=100)] = 20, starting_after: StartingAfter = None,
                        status: Literal["open", "approved", "cancelled", "expired"] | None = None):
    """The merchant's own requests, newest first (without the consent to sign: that is for the resident)."""
    return await redemptions.merchant_requests(merchant, limit, starting_after, status)


FINAL = frozenset({"paid", "failed", "cancelled", "expired"})
POLL_S = 0.05          # how often a stream reads the request's state (one light indexed read)
KEEPALIVE_S = 15.0     # a comment line so proxies keep an idle stream open
STREAM_GRACE_S = 120   # after the deadline, a request approved in time may still be mining
_streams: Counter[str] = Counter()  # streams open per API key, in this process


@router.get("/{request_id}/events", operation_id="streamRedemptionRequestEvents", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "server-sent events `status`, each a JSON progress object"}})
async def request_events(request: Request, request_id: str, redemptions: RedemptionsService, merchant: MerchantKey,
                         rt: RT):
    """Follow a payment request live (server-sent events, the POS page's status): an event `status` whenever it
    changes (`open`, `paying`, `paid`, `failed`, `cancelled`, `expired`, with the redemption once approved); the
    stream ends after a final one. At most `POS_STREAMS_PER_KEY` streams open per key (429 beyond)."""
    first = await redemptions.progress(merchant, request_id)  # 404 before any stream opens
    if _streams[merchant.key_id] >= rt.settings.pos_streams_per_key:
        raise RateLimited("too many live streams open for this key; close one", headers={"Retry-After": "5"})

    async def stream():
        state, last_sent, sent = first, None, time.monotonic()
        ends = time.monotonic() + max(first["deadline"] - time.time(), 0) + STREAM_GRACE_S
        # counted from its first step: a stream whose client left before it started never runs, nor its `finally`
        _streams[merchant.key_id] += 1
        try:
            yield "retry: 1000\n\n"
            while True:
                if state != last_sent:
                    yield f"event: status\ndata: {json.dumps(state, separators=(',', ':'))}\n\n"
                    last_sent, sent = state, time.monotonic()
                if state["status"] in FINAL or time.monotonic() > ends:
                    return
                if time.monotonic() - sent > KEEPALIVE_S:
                    yield ": keep-alive\n\n"
                    sent = time.monotonic()
                await asyncio.sleep(POLL_S)  # a client gone cancels this generator (Starlette), `finally` runs
                state = await redemptions.progress(merchant, request_id)
        finally:
            _streams[merchant.key_id] -= 1
            if _streams[merchant.key_id] <= 0:
                del _streams[merchant.key_id]
    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/{request_id}", operation_id="getRedemptionRequest", response_model=RequestOut)
async def get_request(redemptions: RedemptionsService, caller: Caller, request_id: str,
                      order: Annotated[str | None, Query(max_length=400, pattern=r"^[0-9]{1,20}(,[0-9]{1,20}){0,15}$",
                                                         description="the resident's spending order: programme ids, "
                                                                     "comma-separated, first spent first")] = None):
    """A request by its id (the id is the QR's secret; the resident's wallet reads it to show what to sign). With
    `order` (the wallet sends the resident's spending order) the consent's plan takes the first programme first,
    among the plans that burn the least value of points."""
    return await redemptions.get_request(request_id, order=[int(x) for x in order.split(",")] if order else None)


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
