from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request

from exchange_api.deps import Idem, MerchantKey, RedemptionsService
from exchange_api.routers import ERRORS, StartingAfter, created, wants_async
from exchange_api.errors import Forbidden, InvalidRequest
from exchange_api.schemas import BYTES32, ConsentIn, ListOf, RedemptionOut
from exchange_api.services.offers import utc_naive
from exchange_api.store.models import utcnow

ISO_TIME = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?$"
CASHIER_READS = dt.timedelta(hours=24)  # how far back a cashier's key reads sales
router = APIRouter(prefix="/v1/redemptions", tags=["redemptions"], responses=ERRORS)


@router.post("", operation_id="createRedemption", status_code=201, response_model=RedemptionOut,
             responses={202: {"model": RedemptionOut, "description": "accepted, pending confirmation"}})
async def create_redemption(request: Request, body: ConsentIn, redemptions: RedemptionsService, idem: Idem,
                            merchant: MerchantKey, prefer: Annotated[str | None, Header()] = None):
    """Submit a RedemptionConsent the merchant collected (the resident's wallet showed it signed). Answers 201
    `confirmed` once its block is mined, or 202 `pending` at once with `"wait": false` / `Prefer: respond-async`
    (then a `redemption.confirmed` webhook follows)."""
    body = body.model_copy(update={"wait": not wants_async(prefer, body.wait)})
    return await idem.run(request, merchant.key_id, body.model_dump(),
                          lambda: redemptions.submit_consent(merchant, body), created, overlap=True)


@router.get("", operation_id="listRedemptions", response_model=ListOf[RedemptionOut])
async def list_redemptions(redemptions: RedemptionsService, merchant: MerchantKey,
                           limit: Annotated[int, Query(ge=1, le=100)] = 20, starting_after: StartingAfter = None,
                           status: Literal["pending", "confirmed", "failed"] | None = None,
                           created_from: Annotated[str | None, Query(
                               pattern=ISO_TIME, description="made at or after (ISO 8601; without a zone: UTC)")] = None,
                           created_to: Annotated[str | None, Query(
                               pattern=ISO_TIME, description="made before (ISO 8601; without a zone: UTC)")] = None):
    """This merchant's redemptions, newest first (each with its request's order label). A cashier's key reads the
    last day's sales only (`created_from` within the last 24 hours): a longer range is a statement, a manager's
    (403 `insufficient_scope`)."""
    since = _time(created_from, "created_from")
    if merchant.scope != "manager" and (since is None or since < utcnow() - CASHIER_READS):
        raise Forbidden("a cashier's key reads the sales of the last 24 hours (created_from within them); "
                        "statements need a merchant key with the manager scope", code="insufficient_scope")
    return await redemptions.list_(merchant, limit, starting_after, status, since, _time(created_to, "created_to"))


def _time(text: str | None, name: str) -> dt.datetime | None:
    """An ISO 8601 date or time (the pattern checked its form) as the store keeps times: UTC, no zone."""
    if text is None:
        return None
    try:
        return utc_naive(dt.datetime.fromisoformat(text))
    except (ValueError, OverflowError):  # 2026-13-45, or a zone that moves year 9999 past the calendar's end
        raise InvalidRequest(f"{name}: not a date and time", field=name) from None


@router.get("/{redemption_id}", operation_id="getRedemption", response_model=RedemptionOut)
async def get_redemption(redemptions: RedemptionsService, merchant: MerchantKey,
                         redemption_id: Annotated[str, Path(pattern=BYTES32)]):
    return await redemptions.get(merchant, redemption_id)
