"""Merchants' offers (merchant keys) and the public catalogue residents browse (issue 22); the rules are
services/offers.py's."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, Field

from exchange_api.catalogue_vocabulary import vocabulary
from exchange_api.deps import Caller, Idem, ManagerKey, OffersService
from exchange_api.errors import ApiError
from exchange_api.routers import ERRORS, changed, created
from exchange_api.schemas import ADDRESS, ErrorResponse, Model
from exchange_api.services.offers import MAX_IMAGE_BYTES
from ledger_node.domain import UINT96_MAX

router = APIRouter(prefix="/v1", tags=["offers"], responses=ERRORS)
# the public catalogue residents browse and its pictures: the read process serves them (app.READ_ROUTERS)
reads = APIRouter(prefix="/v1", tags=["catalogue"], responses=ERRORS)


def _no_controls(text: str) -> str:
    """Text residents read: no control characters (a NUL, an escape, ...) but line breaks."""
    if any(ord(c) < 32 and c not in "\n\r\t" or 0x7F <= ord(c) < 0xA0 for c in text):
        raise ValueError("control characters are not allowed")
    return text


Title = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(_no_controls)]
Description = Annotated[str, Field(max_length=2000), AfterValidator(_no_controls)]
Code = Annotated[str, Field(min_length=1, max_length=20, description="a code of GET /v1/catalogue/vocabulary")]
Price = Annotated[int, Field(strict=True, gt=0, le=UINT96_MAX, description="credit cents")]
Stock = Annotated[int, Field(strict=True, ge=0, le=10**9, description="units left; null: unlimited")]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_controls)]


class OfferIn(Model):
    titleZh: Title
    titleEn: Title
    descriptionZh: Description = ""
    descriptionEn: Description = ""
    price: Price
    stock: Stock | None = None
    validFrom: dt.datetime | None = Field(None, description="default: now; a time without a zone is UTC")
    validUntil: dt.datetime | None = Field(None, description="null: no end")
    category: Code
    district: Code


class OfferPatch(Model):
    """Only the fields given change; `stock` and `validUntil` may be set to null (unlimited, no end)."""
    titleZh: Title | None = None
    titleEn: Title | None = None
    descriptionZh: Description | None = None
    descriptionEn: Description | None = None
    price: Price | None = None
    stock: Stock | None = None
    validFrom: dt.datetime | None = None
    validUntil: dt.datetime | None = None
    category: Code | None = None
    district: Code | None = None


class Names(Model):
    zh: str
    en: str


class MerchantOut(Model):
    address: str
    name: Names
    category: str | None
    district: str | None


class OfferOut(Model):
    object: Literal["offer"] = "offer"
    id: str
    merchant: MerchantOut
    title: Names
    description: Names
    price: int
    priceDecimal: str
    stock: int | None
    validFrom: str
    validUntil: str | None
    category: str
    district: str
    imageUrl: str | None
    available: bool  # can be had now: within its window, stock not 0, not deleted
    createdAt: str
    updatedAt: str


class OfferList(Model):
    object: Literal["list"] = "list"
    data: list[OfferOut]
    has_more: bool
    next_cursor: str | None


class ProfileIn(Model):
    nameZh: Name
    nameEn: Name
    category: Code
    district: Code


class ProfileOut(MerchantOut):
    object: Literal["merchant_profile"] = "merchant_profile"


class CatalogueMerchant(MerchantOut):
    object: Literal["catalogue_merchant"] = "catalogue_merchant"
    liveOffers: int


class CatalogueMerchantList(Model):
    object: Literal["list"] = "list"
    data: list[CatalogueMerchant]
    has_more: bool


class VocabularyEntry(Model):
    code: str
    zh: str
    en: str


class VocabularyOut(Model):
    object: Literal["catalogue_vocabulary"] = "catalogue_vocabulary"
    categories: list[VocabularyEntry]
    districts: list[VocabularyEntry]


Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=64, description="next_cursor of the page before")]
Filter = Annotated[str | None, Query(max_length=20)]


# --- the merchant's profile and offers ------------------------------------------------------------------------

@router.get("/merchant_profile", operation_id="getMerchantProfile", response_model=ProfileOut)
async def get_profile(offers: OffersService, merchant: ManagerKey):
    """This merchant as residents see it in the catalogue (without a profile: its registered name, no category)."""
    return await offers.profile(merchant)


@router.put("/merchant_profile", operation_id="putMerchantProfile", response_model=ProfileOut)
async def put_profile(body: ProfileIn, offers: OffersService, merchant: ManagerKey):
    """Set this merchant's catalogue profile: names in 中文 and English, category and district (vocabulary codes)."""
    return (await offers.set_profile(merchant, body)).body


@router.post("/offers", operation_id="createOffer", status_code=201, response_model=OfferOut)
async def create(request: Request, body: OfferIn, offers: OffersService, idem: Idem, merchant: ManagerKey):
    """A new offer in the public catalogue. A merchant has at most `CITYPOINTS_OFFERS_PER_MERCHANT` (500) offers
    not deleted: 409 `offer_limit_reached`. Unknown category or district: 422 `unknown_category` /
    `unknown_district`; validUntil not after validFrom: 422 `invalid_validity_window`."""
    return await idem.run(request, merchant.key_id, body.model_dump(mode="json"),
                          lambda: offers.create(merchant, body), created)


@router.get("/offers", operation_id="listOffers", response_model=OfferList)
async def list_(offers: OffersService, merchant: ManagerKey, limit: Limit = 20, cursor: Cursor = None):
    """This merchant's offers (not deleted), newest first, live or not."""
    return await offers.list_own(merchant, limit, cursor)


@router.get("/offers/{offer_id}", operation_id="getOffer", response_model=OfferOut)
async def get(offer_id: str, offers: OffersService, merchant: ManagerKey):
    """One of this merchant's offers; another merchant's is 404 `offer_not_found`, as an unknown one."""
    return await offers.get(merchant, offer_id)


@router.patch("/offers/{offer_id}", operation_id="updateOffer", response_model=OfferOut)
async def update(offer_id: str, body: OfferPatch, offers: OffersService, merchant: ManagerKey):
    return (await offers.update(merchant, offer_id, body)).body


@router.delete("/offers/{offer_id}", operation_id="deleteOffer", response_model=OfferOut)
async def delete(request: Request, offer_id: str, offers: OffersService, idem: Idem, merchant: ManagerKey):
    """Take the offer out of the catalogue (and its image); it no longer counts against the limit."""
    return await idem.run(request, merchant.key_id, {"delete_offer": offer_id},
                          lambda: offers.delete(merchant, offer_id), changed)


IMAGE_BODY = {"requestBody": {"required": True, "content": {
    t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/png", "image/jpeg", "image/webp")}}}


@router.put("/offers/{offer_id}/image", operation_id="putOfferImage", response_model=OfferOut,
            openapi_extra=IMAGE_BODY, responses={415: {"model": ErrorResponse}})
async def put_image(request: Request, offer_id: str, offers: OffersService, merchant: ManagerKey):
    """The offer's picture as the raw body: PNG, JPEG or WebP (by its bytes; anything else 415
    `unsupported_image_type`), at most 512 KiB (413 `image_too_large`)."""
    data = await _capped_body(request, MAX_IMAGE_BYTES)
    return (await offers.put_image(merchant, offer_id, data)).body


async def _capped_body(request: Request, cap: int) -> bytes:
    too_large = ApiError(f"an offer image may have at most {cap // 1024} KiB", code="image_too_large", status=413)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise too_large
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > cap:
            raise too_large
    return bytes(data)


@reads.get("/offers/{offer_id}/image", operation_id="getOfferImage",
           responses={200: {"content": {t: {} for t in ("image/png", "image/jpeg", "image/webp")}}, 304: {}})
async def image(request: Request, offer_id: str, offers: OffersService, caller: Caller):
    """An offer's picture, public, with its stored content type (never sniffed) and cache headers."""
    img = await offers.image(offer_id)
    headers = {"Cache-Control": "public, max-age=300", "ETag": img.etag, "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == img.etag:
        return Response(status_code=304, headers=headers)
    return Response(img.data, media_type=img.content_type, headers=headers)


# --- the public catalogue -------------------------------------------------------------------------------------

@reads.get("/catalogue/offers", operation_id="listCatalogueOffers", response_model=OfferList)
async def catalogue(offers: OffersService, caller: Caller, category: Filter = None, district: Filter = None,
                    merchant: Annotated[str | None, Query(pattern=ADDRESS)] = None,
                    max_price: Annotated[int | None, Query(ge=0, le=UINT96_MAX)] = None,
                    available: bool = True, limit: Limit = 20, cursor: Cursor = None):
    """Offers residents can browse, newest first: by default only those that can be had now (within their
    validity window, stock not 0); `available=false` adds the expired, future and sold-out ones. Filters: the
    offer's category and district (vocabulary codes), the merchant's address, a maximum price in credit cents.
    Pages: pass `next_cursor` back as `cursor`."""
    # every resident's browsing: serialised directly (the service builds the documented shape, as for balances)
    return Response(orjson.dumps(await offers.catalogue(category=category, district=district, merchant=merchant,
                                                        max_price=max_price, available=available, limit=limit,
                                                        cursor=cursor)), media_type="application/json")


@reads.get("/catalogue/merchants", operation_id="listCatalogueMerchants", response_model=CatalogueMerchantList)
async def merchants(offers: OffersService, caller: Caller, category: Filter = None, district: Filter = None):
    """Merchants active on the API, with their names in both languages, category, district and live offers."""
    return await offers.merchants(category=category, district=district)


@reads.get("/catalogue/vocabulary", operation_id="getCatalogueVocabulary", response_model=VocabularyOut)
async def vocab(caller: Caller):
    """Categories and districts with their names in 中文 and English (pages never hard-code them)."""
    return vocabulary()
