"""Vouchers (issue 22): the resident redeems an offer for one (their login token), the merchant's till looks one up
by its code, checks it off and refunds it; the rules are services/vouchers.py's."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import Field

from exchange_api.deps import Idem, ManagerKey, MerchantKey, VouchersService
from exchange_api.routers import ERRORS, changed, created, wants_async
from exchange_api.routers.offers import MerchantOut, Names
from exchange_api.routers.residents import Address, ResidentSession
from exchange_api.schemas import ListOf, Model, RefundOut, RequestOut

router = APIRouter(tags=["vouchers"], responses=ERRORS)

Status = Literal["reserved", "expired", "valid", "used", "refunding", "refunded", "released"]
Limit = Annotated[int, Query(ge=1, le=100)]
After = Annotated[str | None, Query(max_length=40)]


class VoucherIn(Model):
    offer: str = Field(min_length=1, max_length=40, description="the offer's id (off_...)")


class VoucherOffer(Model):
    id: str
    title: Names


class VoucherOut(Model):
    object: Literal["voucher"] = "voucher"
    id: str
    status: Status
    code: str | None  # the resident reads it once paid for
    qrPayload: str | None
    offer: VoucherOffer
    merchant: MerchantOut
    resident: str
    credits: int
    creditsDecimal: str
    requestId: str
    redemptionId: str | None
    refundId: str | None
    expiresAt: int
    createdAt: str
    issuedAt: str | None
    usedAt: str | None
    endedAt: str | None


class ReservedOut(VoucherOut):
    request: RequestOut  # the payment request to approve: one consent for the offer's price


class VoucherRefundOut(VoucherOut):
    refund: RefundOut


class VoucherRefundIn(Model):
    wait: bool = True


# --- the resident's -------------------------------------------------------------------------------------------

@router.post("/v1/residents/{address}/vouchers", operation_id="createVoucher", status_code=201,
             response_model=ReservedOut)
async def create(request: Request, address: Address, body: VoucherIn, vouchers: VouchersService, idem: Idem,
                 resident: ResidentSession):
    """Redeem an offer (the resident's token): one unit of its stock is taken at once and a payment request for its
    price opened (`request`, with the consent to sign: approve it as any request). The voucher is `valid`, with
    its code, once that redemption is mined. No unit left: 409 `offer_sold_out`, nothing taken and nothing to sign;
    409 `offer_not_available` outside its window; 409 `offer_changed` when its price changed meanwhile; 422
    `insufficient_credits` when the resident's points do not cover it. A reservation not paid by its deadline, or whose payment fails, gives its unit back."""
    return await idem.run(request, f"resident:{resident}", body.model_dump(),
                          lambda: vouchers.reserve(resident, body.offer), created)


@router.get("/v1/residents/{address}/vouchers", operation_id="listResidentVouchers",
            response_model=ListOf[VoucherOut])
async def list_own(address: Address, vouchers: VouchersService, resident: ResidentSession, limit: Limit = 20,
                   starting_after: After = None):
    """The resident's vouchers, newest first (the resident's token)."""
    return await vouchers.resident_vouchers(resident, limit, starting_after)


@router.get("/v1/residents/{address}/vouchers/{voucher_id}", operation_id="getResidentVoucher",
            response_model=VoucherOut)
async def get_own(address: Address, voucher_id: str, vouchers: VouchersService, resident: ResidentSession):
    return await vouchers.resident_voucher(resident, voucher_id)


@router.delete("/v1/residents/{address}/vouchers/{voucher_id}", operation_id="cancelVoucher",
               response_model=VoucherOut)
async def cancel(request: Request, address: Address, voucher_id: str, vouchers: VouchersService, idem: Idem,
                 resident: ResidentSession):
    """Give a reservation up before paying it: its request cancelled, its unit back in stock (409
    `voucher_not_reserved` once paid or ended)."""
    return await idem.run(request, f"resident:{resident}", {"cancel_voucher": voucher_id},
                          lambda: vouchers.cancel(resident, voucher_id), changed)


# --- the merchant's (the till) --------------------------------------------------------------------------------

@router.get("/v1/vouchers", operation_id="listVouchers", response_model=ListOf[VoucherOut])
async def list_merchant(vouchers: VouchersService, merchant: MerchantKey, limit: Limit = 20,
                        starting_after: After = None,
                        code: Annotated[str | None, Query(max_length=300, description="a voucher's code or its QR "
                                                                                      "payload")] = None,
                        status: Status | None = None):
    """This merchant's vouchers, newest first; `code` finds one by its code ("K7QX-3MNP", any case, with or without
    the dash) or the QR payload the resident shows (422 `invalid_voucher_code` for anything else)."""
    return await vouchers.merchant_vouchers(merchant, limit, starting_after, code, status)


@router.get("/v1/vouchers/{voucher_id}", operation_id="getVoucher", response_model=VoucherOut)
async def get(voucher_id: str, vouchers: VouchersService, merchant: MerchantKey):
    return await vouchers.merchant_voucher(merchant, voucher_id)


@router.post("/v1/vouchers/{voucher_id}/check_off", operation_id="checkOffVoucher", response_model=VoucherOut)
async def check_off(request: Request, voucher_id: str, vouchers: VouchersService, idem: Idem,
                    merchant: MerchantKey):
    """The till checks a valid voucher off: `used`, once. Again: 409 `voucher_already_used` (the message says when);
    not paid for: 409 `voucher_not_valid`; refunded: 409 `voucher_refunded`; another merchant's: 404."""
    return await idem.run(request, merchant.key_id, {"check_off": voucher_id},
                          lambda: vouchers.check_off(merchant, voucher_id), changed)


@router.post("/v1/vouchers/{voucher_id}/refund", operation_id="refundVoucher", status_code=201,
             response_model=VoucherRefundOut, responses={202: {"model": VoucherRefundOut}})
async def refund(request: Request, voucher_id: str, body: VoucherRefundIn, vouchers: VouchersService, idem: Idem,
                 merchant: ManagerKey, prefer: Annotated[str | None, Header()] = None):
    """Refund an unused voucher in full (its redemption's refund, within the contract's refund window): `refunding`
    until mined, then `refunded` with its unit back in stock. Used: 409 `voucher_already_used`. A manager's key, as
    every refund (a cashier's: 403 `insufficient_scope`); looking vouchers up and checking them off is a cashier's."""
    wait = not wants_async(prefer, body.wait)
    return await idem.run(request, merchant.key_id, {"refund_voucher": voucher_id, "wait": wait},
                          lambda: vouchers.refund(merchant, voucher_id, wait), created)
