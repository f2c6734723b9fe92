"""The demo city's shops in the catalogue (issue 22): each demo merchant's profile and offers from var/demo.json
(`catalogue`, written by `citypoints demo`: scripts/demo_city.py SHOPS), stored by `citypoints merchant
import-demo` after the merchants' keys. Idempotent: a profile is set again, an offer whose English title the
merchant already has (not deleted) is left as it is, so running it twice adds nothing. Each entry is checked as
the API checks a merchant's (routers/offers.py's models, the vocabulary, the image's bytes)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib

from eth_utils import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange_api.routers.offers import OfferIn, ProfileIn
from exchange_api.services.common import new_id
from exchange_api.services.offers import MAX_IMAGE_BYTES, check_codes, image_type
from exchange_api.store.models import Merchant, MerchantProfile, Offer, OfferImage, utcnow


def import_demo_catalogue(session: Session, demo: dict) -> tuple[int, int]:
    """(profiles set, offers added) for the demo merchants already registered (import_demo_keys first)."""
    profiles = added = 0
    now = utcnow().replace(microsecond=0)
    for entry in demo.get("merchants", []):
        catalogue = entry.get("catalogue")
        merchant = session.scalar(select(Merchant).where(Merchant.address == to_checksum_address(entry["address"])))
        if not catalogue or merchant is None:
            continue
        p = ProfileIn(**catalogue["profile"])
        check_codes(p.category, p.district)
        row = session.get(MerchantProfile, merchant.id) or MerchantProfile(merchant_id=merchant.id)
        row.name_zh, row.name_en, row.category, row.district, row.updated_at = (
            p.nameZh, p.nameEn, p.category, p.district, utcnow())
        session.add(row)
        profiles += 1
        have = set(session.scalars(select(Offer.title_en).where(Offer.merchant_id == merchant.id,
                                                                Offer.deleted_at.is_(None))))
        for item in catalogue.get("offers", []):
            fields = {k: v for k, v in item.items() if k not in ("validDays", "imagePng")}
            o = OfferIn(**fields)
            check_codes(o.category, o.district)
            if o.titleEn in have:
                continue
            days = item.get("validDays")
            offer = Offer(id=new_id("off"), merchant_id=merchant.id, title_zh=o.titleZh, title_en=o.titleEn,
                          description_zh=o.descriptionZh, description_en=o.descriptionEn, price=o.price,
                          stock=o.stock, valid_from=now, valid_until=now + dt.timedelta(days=days) if days else None,
                          category=o.category, district=o.district, has_image=False)
            session.add(offer)
            session.flush()
            if item.get("imagePng"):
                data = base64.b64decode(item["imagePng"])
                assert len(data) <= MAX_IMAGE_BYTES, "a demo image over the cap"
                session.add(OfferImage(offer_seq=offer.seq, content_type=image_type(data), data=data,
                                       etag='"' + hashlib.sha256(data).hexdigest()[:32] + '"'))
                offer.has_image = True
            have.add(o.titleEn)
            added += 1
    session.flush()
    return profiles, added
