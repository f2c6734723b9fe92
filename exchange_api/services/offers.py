"""Merchants' offers and the public catalogue (issue 22): a merchant's profile (names zh/en, category, district),
its offers (CRUD, at most `settings.offers_per_merchant` not deleted), an offer's image (PNG/JPEG/WebP by magic
bytes, capped), and the public reads residents browse: live offers with filters and an opaque cursor, the
merchants with their number of live offers, the vocabulary.

A live offer: not deleted, within its validity window now, and stock unlimited (None) or above 0. Another
merchant's offer is answered as an unknown one (404), never 403: a merchant learns nothing of the others'."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from collections import namedtuple
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Integer, and_, bindparam, func, or_, select

from exchange_api.catalogue_vocabulary import CATEGORIES, DISTRICTS
from exchange_api.errors import ApiError, Conflict, InvalidRequest, NotFound
from exchange_api.services.common import Principal, iso, new_id
from exchange_api.services.results import Done
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import ApiKey, IdxMerchant, Merchant, MerchantProfile, Offer, OfferImage, utcnow
from ledger_node.domain import credits_decimal

MAX_IMAGE_BYTES = 512 * 1024
CATALOGUE_PAGES_KEPT = 4096  # at most, with a catalogue cache (a page: ~10 KB)
IMAGE_TYPES = (  # (magic test, content type): what the bytes are, whatever the client says
    (lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"), "image/png"),
    (lambda b: b.startswith(b"\xff\xd8\xff"), "image/jpeg"),
    (lambda b: len(b) >= 12 and b[:4] == b"RIFF" and b[8:12] == b"WEBP", "image/webp"),
)
OFFER_FIELDS = {  # API field -> column
    "titleZh": "title_zh", "titleEn": "title_en", "descriptionZh": "description_zh",
    "descriptionEn": "description_en", "price": "price", "stock": "stock", "validFrom": "valid_from",
    "validUntil": "valid_until", "category": "category", "district": "district"}


def image_type(data: bytes) -> str:
    """The content type of an offer image by its magic bytes; 415 for anything but PNG, JPEG or WebP."""
    for test, content_type in IMAGE_TYPES:
        if test(data):
            return content_type
    raise ApiError("the image must be a PNG, JPEG or WebP file", code="unsupported_image_type", status=415)


def utc_naive(t: dt.datetime | None) -> dt.datetime | None:
    """The store's form of a time: UTC without a zone (a time without a zone is taken as UTC)."""
    if t is None or t.tzinfo is None:
        return t
    return t.astimezone(dt.timezone.utc).replace(tzinfo=None)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, _, seq = text.partition(":")
        if version != "c1" or not seq.isdigit() or len(seq) > 18:
            raise ValueError
        return int(seq)
    except ValueError:
        raise InvalidRequest("the cursor is not one this list gave", code="invalid_cursor", field="cursor") from None


def live_clause(now: dt.datetime):
    """SQL: the offer can be had now."""
    return and_(Offer.deleted_at.is_(None), Offer.valid_from <= now,
                or_(Offer.valid_until.is_(None), Offer.valid_until > now),
                or_(Offer.stock.is_(None), Offer.stock > 0))


def check_codes(category: str | None, district: str | None) -> None:
    if category is not None and category not in CATEGORIES:
        raise InvalidRequest(f"category must be one of {', '.join(CATEGORIES)}", code="unknown_category",
                             field="category")
    if district is not None and district not in DISTRICTS:
        raise InvalidRequest(f"district must be one of {', '.join(DISTRICTS)}", code="unknown_district",
                             field="district")


def _check_window(valid_from: dt.datetime, valid_until: dt.datetime | None) -> None:
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidRequest("validUntil must be after validFrom", code="invalid_validity_window",
                             field="validUntil")


def merchant_public(m: Merchant, p: MerchantProfile | None) -> dict:
    return {"address": m.address, "name": {"zh": p.name_zh if p else m.name, "en": p.name_en if p else m.name},
            "category": p.category if p else None, "district": p.district if p else None}


def offer_public(o: Offer, m: Merchant, p: MerchantProfile | None, now: dt.datetime) -> dict:
    """An offer as the API shows it; `o`, `m` and `p` are the ORM objects or a listed page's rows (_listed_page)."""
    live = (o.deleted_at is None and o.valid_from <= now and (o.valid_until is None or o.valid_until > now)
            and (o.stock is None or o.stock > 0))
    return {"object": "offer", "id": o.id, "merchant": merchant_public(m, p),
            "title": {"zh": o.title_zh, "en": o.title_en},
            "description": {"zh": o.description_zh, "en": o.description_en},
            "price": o.price, "priceDecimal": credits_decimal(o.price), "stock": o.stock,
            "validFrom": iso(o.valid_from), "validUntil": iso(o.valid_until) if o.valid_until else None,
            "category": o.category, "district": o.district,
            "imageUrl": f"/v1/offers/{o.id}/image" if o.has_image else None,
            "available": live, "createdAt": iso(o.created_at), "updatedAt": iso(o.updated_at)}


def _on_chain_active(q):
    """Only merchants the chain holds registered and not suspended (as indexed): a suspended shop's offers leave
    the catalogue at once, whatever its API keys."""
    return q.join(IdxMerchant, (IdxMerchant.address == Merchant.address) & IdxMerchant.active.is_(True))


def _with_merchant(q):
    return (q.join(Merchant, Merchant.id == Offer.merchant_id)
            .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Offer.merchant_id))


# A page of offers is read as plain rows, not ORM objects (the catalogue's hot path: a 21-row page is read in less
# than half the time); offer_public reads a row and its merchant's names as it reads the objects.
_MerchantNames = namedtuple("_MerchantNames", "address name")
_ProfileNames = namedtuple("_ProfileNames", "name_zh name_en category district")
_LISTED = (*Offer.__table__.c, Merchant.address.label("m_address"), Merchant.name.label("m_name"),
           MerchantProfile.name_zh.label("p_name_zh"), MerchantProfile.name_en.label("p_name_en"),
           MerchantProfile.category.label("p_category"), MerchantProfile.district.label("p_district"))


def _listed():
    """SELECT offers with their merchants' names (rows for _listed_page)."""
    return _with_merchant(select(*_LISTED))


def _listed_page(rows) -> list[tuple]:
    """(offer row, merchant names, profile names or None) for each row of a _listed() query, as _page takes them."""
    return [(r, _MerchantNames(r.m_address, r.m_name),
             None if r.p_name_zh is None else _ProfileNames(r.p_name_zh, r.p_name_en, r.p_category, r.p_district))
            for r in rows]


@dataclass
class Offers:
    store: Store
    settings: Settings  # offers_per_merchant
    # the read process keeps each catalogue page this long (read_replica.CATALOGUE_CACHE_S); 0: never kept
    catalogue_cache_s: float = 0.0
    _pages: dict = field(default_factory=dict, repr=False)  # query -> (time.monotonic() it expires, page)

    # --- the merchant's profile -----------------------------------------------------------------------------

    async def profile(self, principal: Principal) -> dict:
        def load(s):
            return merchant_public(s.get(Merchant, principal.merchant_id), s.get(MerchantProfile, principal.merchant_id))
        return {"object": "merchant_profile", **await self.store.run(load)}

    async def set_profile(self, principal: Principal, body) -> Done:
        check_codes(body.category, body.district)

        def put(s):
            p = s.get(MerchantProfile, principal.merchant_id)
            if p is None:
                p = MerchantProfile(merchant_id=principal.merchant_id)
                s.add(p)
            p.name_zh, p.name_en, p.category, p.district = body.nameZh, body.nameEn, body.category, body.district
            p.updated_at = utcnow()
            s.flush()
            return merchant_public(s.get(Merchant, principal.merchant_id), p)
        return Done({"object": "merchant_profile", **await self.store.write(put)})

    # --- the merchant's offers ----------------------------------------------------------------------------------

    async def create(self, principal: Principal, body) -> Done:
        check_codes(body.category, body.district)
        valid_from = utc_naive(body.validFrom) or utcnow().replace(microsecond=0)
        valid_until = utc_naive(body.validUntil)
        _check_window(valid_from, valid_until)
        limit = self.settings.offers_per_merchant

        def add(s):
            count = s.scalar(select(func.count()).select_from(Offer).where(
                Offer.merchant_id == principal.merchant_id, Offer.deleted_at.is_(None)))
            if count >= limit:
                raise Conflict(f"a merchant may have at most {limit} offers; delete one first",
                               code="offer_limit_reached")
            o = Offer(id=new_id("off"), merchant_id=principal.merchant_id, title_zh=body.titleZh,
                      title_en=body.titleEn, description_zh=body.descriptionZh, description_en=body.descriptionEn,
                      price=body.price, stock=body.stock, valid_from=valid_from, valid_until=valid_until,
                      category=body.category, district=body.district, has_image=False)
            s.add(o)
            s.flush()
            return self._public(s, o)
        return Done(await self.store.write(add))

    async def list_own(self, principal: Principal, limit: int, cursor: str | None) -> dict:
        after = decode_cursor(cursor)

        def load(s):
            q = _listed().where(Offer.merchant_id == principal.merchant_id, Offer.deleted_at.is_(None))
            if after is not None:
                q = q.where(Offer.seq < after)
            return _listed_page(s.execute(q.order_by(Offer.seq.desc()).limit(limit + 1)))
        return _page(await self.store.run(load), limit)

    async def get(self, principal: Principal, offer_id: str) -> dict:
        return await self.store.run(lambda s: self._public(s, _own(s, principal, offer_id)))

    async def update(self, principal: Principal, offer_id: str, body) -> Done:
        changes = {OFFER_FIELDS[k]: getattr(body, k) for k in body.model_fields_set}
        for required in ("title_zh", "title_en", "price", "valid_from", "category", "district",
                         "description_zh", "description_en"):
            if required in changes and changes[required] is None:
                field = next(k for k, v in OFFER_FIELDS.items() if v == required)
                raise InvalidRequest(f"{field} cannot be null", code="invalid_request", field=field)
        check_codes(changes.get("category"), changes.get("district"))
        for k in ("valid_from", "valid_until"):
            if k in changes:
                changes[k] = utc_naive(changes[k])

        def patch(s):
            o = _own(s, principal, offer_id)
            for k, v in changes.items():
                setattr(o, k, v)
            _check_window(o.valid_from, o.valid_until)  # raising rolls the change back (its own savepoint)
            o.updated_at = utcnow()
            s.flush()
            return self._public(s, o)
        return Done(await self.store.write(patch))

    async def delete(self, principal: Principal, offer_id: str) -> Done:
        def delete(s):
            o = _own(s, principal, offer_id)
            o.deleted_at = o.updated_at = utcnow()
            image = s.get(OfferImage, o.seq)
            if image is not None:
                s.delete(image)
            o.has_image = False
            s.flush()
            return self._public(s, o)
        return Done(await self.store.write(delete))

    async def put_image(self, principal: Principal, offer_id: str, data: bytes) -> Done:
        content_type = image_type(data)
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'

        def put(s):
            o = _own(s, principal, offer_id)
            image = s.get(OfferImage, o.seq)
            if image is None:
                image = OfferImage(offer_seq=o.seq)
                s.add(image)
            image.content_type, image.data, image.etag, image.updated_at = content_type, data, etag, utcnow()
            o.has_image, o.updated_at = True, utcnow()
            s.flush()
            return self._public(s, o)
        return Done(await self.store.write(put))

    async def image(self, offer_id: str) -> OfferImage:
        """An offer's image, public: 404 when the offer is unknown or deleted, or has none."""
        def load(s):
            return s.scalar(select(OfferImage).join(Offer, Offer.seq == OfferImage.offer_seq).where(
                Offer.id == offer_id, Offer.deleted_at.is_(None)))
        image = await self.store.run(load)
        if image is None:
            raise NotFound("no image for this offer", code="offer_image_not_found")
        return image

    # --- the public catalogue -----------------------------------------------------------------------------------

    async def catalogue(self, *, category: str | None, district: str | None, merchant: str | None,
                        max_price: int | None, available: bool, limit: int, cursor: str | None) -> dict:
        """Offers residents browse, newest first: live ones (`available`) or every one not deleted; filtered by
        category, district (the offer's), merchant address and price; an opaque cursor walks the pages. With
        `catalogue_cache_s`, a page is answered again for that long (no store read: most residents ask for the same
        few first pages; a change shows that much later)."""
        check_codes(category, district)
        after = decode_cursor(cursor)
        merchant = merchant.lower() if merchant else None
        key = (category, district, merchant, max_price, available, limit, after)
        if self.catalogue_cache_s:
            kept = self._pages.get(key)
            if kept is not None and kept[0] > time.monotonic():
                return kept[1]
        now = utcnow()
        values = {"now": now if available else None, "category": category, "district": district,
                  "merchant": merchant, "max_price": max_price, "after": after}
        values = {k: v for k, v in values.items() if v is not None}
        statement = _catalogue_statement(*(k in values for k in _CATALOGUE_FILTERS))

        def load(s):
            return _listed_page(s.execute(statement, {**values, "limit": limit + 1}))
        page = _page(await self.store.run(load), limit, now)
        if self.catalogue_cache_s:
            if len(self._pages) >= CATALOGUE_PAGES_KEPT:  # bounded: a crawler's every filter and cursor
                self._pages.clear()
            self._pages[key] = (time.monotonic() + self.catalogue_cache_s, page)
        return page

    async def merchants(self, *, category: str | None, district: str | None) -> dict:
        """Merchants with a key in force (active on the API) that the chain holds active, with their names, category, district and number of
        live offers, in order of registration."""
        check_codes(category, district)
        now = utcnow()

        def load(s):
            live = (select(Offer.merchant_id, func.count().label("n")).where(live_clause(now))
                    .group_by(Offer.merchant_id).subquery())
            active = select(ApiKey.merchant_id).where(ApiKey.role == "merchant", ApiKey.revoked_at.is_(None))
            q = (select(Merchant, MerchantProfile, live.c.n)
                 .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Merchant.id)
                 .outerjoin(live, live.c.merchant_id == Merchant.id)
                 .where(Merchant.id.in_(active)))
            q = _on_chain_active(q)
            if category:
                q = q.where(MerchantProfile.category == category)
            if district:
                q = q.where(MerchantProfile.district == district)
            return list(s.execute(q.order_by(Merchant.id)))
        rows = await self.store.run(load)
        return {"object": "list", "has_more": False, "data": [
            {"object": "catalogue_merchant", **merchant_public(m, p), "liveOffers": int(n or 0)} for m, p, n in rows]}

    def _public(self, s, o: Offer) -> dict:
        return offer_public(o, s.get(Merchant, o.merchant_id), s.get(MerchantProfile, o.merchant_id), utcnow())


def _own(s, principal: Principal, offer_id: str) -> Offer:
    o = s.scalar(select(Offer).where(Offer.id == offer_id, Offer.merchant_id == principal.merchant_id,
                                     Offer.deleted_at.is_(None)))
    if o is None:
        raise NotFound("no such offer", code="offer_not_found")
    return o


_CATALOGUE_FILTERS = ("now", "category", "district", "merchant", "max_price", "after")


@lru_cache(maxsize=2 ** len(_CATALOGUE_FILTERS))
def _catalogue_statement(now: bool, category: bool, district: bool, merchant: bool, max_price: bool,
                         after: bool):
    """The catalogue's SELECT for one combination of filters (`now`: live offers only), built once: building it
    took longer than running it. The values are bound at each execution, by the names in _CATALOGUE_FILTERS and
    `limit`."""
    q = _on_chain_active(_listed())
    q = (q.where(live_clause(bindparam("now", type_=Offer.valid_from.type))) if now
         else q.where(Offer.deleted_at.is_(None)))
    if category:
        q = q.where(Offer.category == bindparam("category", type_=Offer.category.type))
    if district:
        q = q.where(Offer.district == bindparam("district", type_=Offer.district.type))
    if merchant:
        q = q.where(func.lower(Merchant.address) == bindparam("merchant", type_=Merchant.address.type))
    if max_price:
        q = q.where(Offer.price <= bindparam("max_price", type_=Offer.price.type))
    if after:
        q = q.where(Offer.seq < bindparam("after", type_=Offer.seq.type))
    return q.order_by(Offer.seq.desc()).limit(bindparam("limit", type_=Integer))


def _page(rows: list, limit: int, now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    data = [offer_public(o, m, p, now) for o, m, p in rows[:limit]]
    more = len(rows) > limit
    return {"object": "list", "data": data, "has_more": more,
            "next_cursor": encode_cursor(rows[limit - 1][0].seq) if more else None}
