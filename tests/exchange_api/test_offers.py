"""Merchants' offers and the public catalogue (issue 22), on the live service over SQLite and PostgreSQL: what a
merchant creates, changes and deletes, what it may not send, what residents see without a key."""
from __future__ import annotations

import datetime as dt
import struct
import zlib

import pytest

from ledger_node.deploy.system import call
from tests.exchange_api.conftest import auth, wait_indexed

OFFER = {"titleZh": "盖碗茶一杯", "titleEn": "A cup of gaiwan tea", "descriptionZh": "人民公园鹤鸣茶社",
         "descriptionEn": "At Heming teahouse, People's Park", "price": 1500, "category": "food",
         "district": "qingyang"}


def png(width: int = 2, height: int = 2) -> bytes:
    """A tiny valid PNG (grey pixels), drawn in code."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def create(api, key, **changes) -> dict:
    resp = api.post("/v1/offers", json={**OFFER, **changes}, headers=auth(key))
    assert resp.status_code == 201, resp.text
    return resp.json()


def iso_in(hours: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)).isoformat()


def test_offer_crud_theMerchantCreatesReadsChangesAndDeletesItsOffer(api, keys, api_city):
    h = auth(keys["merchant"])
    offer = create(api, keys["merchant"], stock=10)
    assert offer["title"] == {"zh": "盖碗茶一杯", "en": "A cup of gaiwan tea"}
    assert offer["price"] == 1500 and offer["priceDecimal"] == "15.00" and offer["stock"] == 10
    assert offer["merchant"]["address"] == api_city.merchant.address and offer["available"] is True
    assert api.get(f"/v1/offers/{offer['id']}", headers=h).json() == offer
    assert [o["id"] for o in api.get("/v1/offers", headers=h).json()["data"]] == [offer["id"]]

    patched = api.patch(f"/v1/offers/{offer['id']}", json={"price": 1200, "stock": None}, headers=h)
    assert patched.status_code == 200, patched.text
    assert patched.json()["price"] == 1200 and patched.json()["stock"] is None  # null: unlimited
    assert patched.json()["title"]["en"] == "A cup of gaiwan tea"  # what was not sent is kept

    assert api.delete(f"/v1/offers/{offer['id']}", headers=h).status_code == 200
    assert api.get(f"/v1/offers/{offer['id']}", headers=h).status_code == 404
    assert api.get("/v1/offers", headers=h).json()["data"] == []
    assert api.get("/v1/catalogue/offers").json()["data"] == []


@pytest.mark.parametrize("change, field", [
    ({"price": 0}, "price"), ({"price": 2**96}, "price"), ({"price": 12.5}, "price"), ({"price": "15"}, "price"),
    ({"stock": -1}, "stock"), ({"stock": 10**9 + 1}, "stock"), ({"titleZh": ""}, "titleZh"),
    ({"titleEn": "x" * 121}, "titleEn"), ({"descriptionEn": "x" * 2001}, "descriptionEn"),
    ({"category": "casino"}, "category"), ({"district": "haidian"}, "district"),
    ({"validFrom": iso_in(2), "validUntil": iso_in(1)}, "validUntil"), ({"colour": "red"}, "colour"),
])
def test_offer_badInput_is422NamingTheFieldAndStoresNothing(api, keys, change, field):
    h = auth(keys["merchant"])
    resp = api.post("/v1/offers", json={**OFFER, **change}, headers=h)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == field
    assert api.get("/v1/offers", headers=h).json()["data"] == []


def test_offer_patchWithBadValues_is422AndChangesNothing(api, keys):
    h = auth(keys["merchant"])
    offer = create(api, keys["merchant"], validUntil=iso_in(5))
    for body, field in (({"price": None}, "price"), ({"validUntil": iso_in(-100)}, "validUntil"),
                        ({"district": "nowhere"}, "district"), ({"price": 2**96}, "price")):
        resp = api.patch(f"/v1/offers/{offer['id']}", json=body, headers=h)
        assert resp.status_code == 422 and resp.json()["error"]["field"] == field, resp.text
    assert api.get(f"/v1/offers/{offer['id']}", headers=h).json() == offer


def test_offer_ofAnotherMerchant_isNotFoundNeverForbidden(api, keys):
    offer = create(api, keys["merchant"])
    other = auth(keys["merchant2"])
    for resp in (api.get(f"/v1/offers/{offer['id']}", headers=other),
                 api.patch(f"/v1/offers/{offer['id']}", json={"price": 1}, headers=other),
                 api.delete(f"/v1/offers/{offer['id']}", headers=other),
                 api.put(f"/v1/offers/{offer['id']}/image", content=png(), headers=other)):
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "offer_not_found", resp.text
    assert api.get("/v1/offers", headers=other).json()["data"] == []
    assert api.get(f"/v1/offers/{offer['id']}", headers=auth(keys["merchant"])).json() == offer  # untouched


def test_offers_needAMerchantKey(api, keys):
    assert api.post("/v1/offers", json=OFFER).status_code == 401
    resp = api.post("/v1/offers", json=OFFER, headers=auth(keys["onboarding"]))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "wrong_key_role"


def test_offers_perMerchantLimit_is409AndDeletingMakesRoom(api, keys, live):
    before = live.rt.settings
    live.rt.replace_settings(before.model_copy(update={"offers_per_merchant": 2}))
    try:
        first = create(api, keys["merchant"])
        create(api, keys["merchant"])
        resp = api.post("/v1/offers", json=OFFER, headers=auth(keys["merchant"]))
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "offer_limit_reached"
        create(api, keys["merchant2"])  # the limit is each merchant's
        api.delete(f"/v1/offers/{first['id']}", headers=auth(keys["merchant"]))
        create(api, keys["merchant"])
    finally:
        live.rt.replace_settings(before)


def test_offerImage_uploadedPng_isServedPubliclyWithItsTypeAndCacheHeaders(api, keys):
    offer = create(api, keys["merchant"])
    picture = png(8, 8)
    resp = api.put(f"/v1/offers/{offer['id']}/image", content=picture,
                   headers=auth(keys["merchant"], **{"Content-Type": "image/png"}))
    assert resp.status_code == 200, resp.text
    url = resp.json()["imageUrl"]
    assert url == f"/v1/offers/{offer['id']}/image"
    got = api.get(url)  # no key: public
    assert got.status_code == 200 and got.content == picture
    assert got.headers["content-type"] == "image/png" and got.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in got.headers["cache-control"]
    assert api.get(url, headers={"If-None-Match": got.headers["etag"]}).status_code == 304
    assert api.get("/v1/catalogue/offers").json()["data"][0]["imageUrl"] == url


@pytest.mark.parametrize("body, status, code", [
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", 415, "unsupported_image_type"),
    (b"GIF89a" + b"\x00" * 40, 415, "unsupported_image_type"),
    (b"", 415, "unsupported_image_type"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * (512 * 1024), 413, "image_too_large"),
])
def test_offerImage_otherTypesOrTooLarge_areRefusedAndNothingIsStored(api, keys, body, status, code):
    offer = create(api, keys["merchant"])
    resp = api.put(f"/v1/offers/{offer['id']}/image", content=body,
                   headers=auth(keys["merchant"], **{"Content-Type": "image/png"}))
    assert resp.status_code == status and resp.json()["error"]["code"] == code, resp.text
    assert api.get(f"/v1/offers/{offer['id']}/image").status_code == 404
    assert api.get(f"/v1/offers/{offer['id']}", headers=auth(keys["merchant"])).json()["imageUrl"] is None


def test_catalogue_filtersByCategoryDistrictMerchantPriceAndAvailability(api, keys, api_city):
    m1, m2 = keys["merchant"], keys["merchant2"]
    tea = create(api, m1)
    museum = create(api, m1, titleEn="Museum ticket", category="culture", district="jinjiang", price=3000)
    bus = create(api, m2, titleEn="Bus day pass", category="transport", district="jinjiang", price=500, stock=3)
    create(api, m2, titleEn="Sold out", stock=0)
    create(api, m2, titleEn="Expired", validFrom=iso_in(-48), validUntil=iso_in(-24))
    create(api, m2, titleEn="Not yet", validFrom=iso_in(24))

    def ids(**params):
        resp = api.get("/v1/catalogue/offers", params=params)
        assert resp.status_code == 200, resp.text
        return [o["id"] for o in resp.json()["data"]]
    assert ids() == [bus["id"], museum["id"], tea["id"]]  # live ones, newest first
    assert len(ids(available="false")) == 6
    assert ids(category="culture") == [museum["id"]]
    assert ids(district="jinjiang") == [bus["id"], museum["id"]]
    assert ids(merchant=api_city.merchant2.address) == [bus["id"]]
    assert ids(merchant=api_city.merchant2.address.lower()) == [bus["id"]]
    assert ids(max_price=1500) == [bus["id"], tea["id"]]
    assert ids(max_price=499) == []
    for bad, field in (({"category": "casino"}, "category"), ({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                       ({"max_price": -1}, "max_price"), ({"merchant": "0x12"}, "merchant"),
                       ({"cursor": "not-a-cursor"}, "cursor")):
        resp = api.get("/v1/catalogue/offers", params=bad)
        assert resp.status_code == 422 and resp.json()["error"]["field"] == field, (bad, resp.text)


def test_catalogue_pagesWalkEveryOfferOnceEvenWhenOffersAreAddedMeanwhile(api, keys):
    made = [create(api, keys["merchant"], titleEn=f"Offer {i}", price=100 + i)["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("/v1/catalogue/offers", params=params).json()
        seen += [o["id"] for o in body["data"]]
        pages += 1
        if pages == 1:
            create(api, keys["merchant"], titleEn="Added while browsing")  # newer: not in the pages that follow
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        cursor = body["next_cursor"]
    assert seen == list(reversed(made)) and pages == 3


def test_catalogueMerchants_countOnlyLiveOffersAndShowTheProfile(api, keys, api_city):
    profile = {"nameZh": "鹤鸣茶社", "nameEn": "Heming Teahouse", "category": "food", "district": "qingyang"}
    resp = api.put("/v1/merchant_profile", json=profile, headers=auth(keys["merchant"]))
    assert resp.status_code == 200, resp.text
    assert api.put("/v1/merchant_profile", json={**profile, "district": "x"},
                   headers=auth(keys["merchant"])).json()["error"]["field"] == "district"
    create(api, keys["merchant"])
    create(api, keys["merchant"], stock=0)
    gone = create(api, keys["merchant"])
    api.delete(f"/v1/offers/{gone['id']}", headers=auth(keys["merchant"]))
    create(api, keys["merchant"], validFrom=iso_in(-48), validUntil=iso_in(-1))
    merchants = {m["address"]: m for m in api.get("/v1/catalogue/merchants").json()["data"]}
    shop = merchants[api_city.merchant.address]
    assert shop["name"] == {"zh": "鹤鸣茶社", "en": "Heming Teahouse"} and shop["district"] == "qingyang"
    assert shop["liveOffers"] == 1
    assert merchants[api_city.merchant2.address]["liveOffers"] == 0  # no profile: its registered name
    assert merchants[api_city.merchant2.address]["name"] == {"zh": "shop-2", "en": "shop-2"}
    offers = api.get("/v1/catalogue/offers").json()["data"]
    assert offers[0]["merchant"]["name"] == {"zh": "鹤鸣茶社", "en": "Heming Teahouse"}
    assert [m["address"] for m in api.get("/v1/catalogue/merchants", params={"district": "qingyang"}).json()[
        "data"]] == [api_city.merchant.address]


def test_catalogue_aSuspendedMerchantLeavesIt_andComesBackWhenResumed(api, w3, keys, api_city):
    """The chain is the truth on who may sell: a merchant the consortium suspends leaves the catalogue (its offers
    and its line among the merchants) as soon as the suspension is indexed, whatever its API keys."""
    mine = create(api, keys["merchant"])
    membership = api_city.contracts["Membership"]

    def listed() -> tuple[bool, bool]:
        offers = {o["id"] for o in api.get("/v1/catalogue/offers", params={"limit": 100}).json()["data"]}
        merchants = {m["address"] for m in api.get("/v1/catalogue/merchants").json()["data"]}
        return mine["id"] in offers, api_city.merchant.address in merchants
    assert listed() == (True, True)
    api_city.govern(w3, [call(membership, "setMerchantSuspended", api_city.merchant.address, True)])
    wait_indexed(api, w3)
    assert listed() == (False, False)
    api_city.govern(w3, [call(membership, "setMerchantSuspended", api_city.merchant.address, False)])
    wait_indexed(api, w3)
    assert listed() == (True, True)


def test_catalogueVocabulary_hasEveryCategoryAndDistrictInBothLanguages(api):
    vocab = api.get("/v1/catalogue/vocabulary").json()
    assert {c["code"] for c in vocab["categories"]} >= {"food", "groceries", "culture", "transport", "services",
                                                         "health", "education"}
    districts = {d["code"]: d for d in vocab["districts"]}
    assert districts["tianfu"] == {"code": "tianfu", "zh": "天府新区", "en": "Tianfu New Area"}
    assert len(districts) == 7 and all(d["zh"] and d["en"] for d in vocab["categories"])


def test_demoCatalogue_importTwice_addsEachShopsOffersOnceWithProfileAndPicture(api, keys, api_city, live):
    from exchange_api.demo_catalogue import import_demo_catalogue
    from scripts.demo_city import SHOPS, shop_catalogue
    demo = {"merchants": [{"address": api_city.merchant.address.lower(), "catalogue": shop_catalogue(0)},
                          {"address": api_city.merchant2.address, "catalogue": shop_catalogue(len(SHOPS) + 1)},
                          {"address": "0x" + "11" * 20, "catalogue": shop_catalogue(2)}]}  # not registered: skipped
    first = live.rt.store.call(lambda s: import_demo_catalogue(s, demo))
    again = live.rt.store.call(lambda s: import_demo_catalogue(s, demo))
    expected = len(SHOPS[0][1]) + len(SHOPS[1][1])
    assert first == (2, expected) and again == (2, 0)
    offers = api.get("/v1/catalogue/offers", params={"limit": 100}).json()["data"]
    assert len(offers) == expected
    tea = next(o for o in offers if o["title"]["en"] == "A cup of gaiwan tea")
    assert tea["merchant"]["name"] == {"zh": "鹤鸣茶社", "en": "Heming Teahouse"} and tea["price"] == 1500
    picture = api.get(tea["imageUrl"])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    second = {m["address"]: m for m in api.get("/v1/catalogue/merchants").json()["data"]}[api_city.merchant2.address]
    assert second["name"]["en"] == "Chengdu Museum Shop #2" and second["liveOffers"] == len(SHOPS[1][1])


def test_offer_controlCharactersInTexts_are422NamingTheField(api, keys):
    h = auth(keys["merchant"])
    for field, text in (("titleEn", "tea\x00"), ("descriptionZh", "茶\x1b[31m"), ("titleZh", "\x85")):
        resp = api.post("/v1/offers", json={**OFFER, field: text}, headers=h)
        assert resp.status_code == 422 and resp.json()["error"]["field"] == field, resp.text
    assert create(api, keys["merchant"], descriptionEn="two\nlines")["description"]["en"] == "two\nlines"
    api.delete("/v1/offers/" + api.get("/v1/offers", headers=h).json()["data"][0]["id"], headers=h)
    assert api.get("/v1/offers", headers=h).json()["data"] == []


def test_catalogueCache_answersAPageAgainForItsTime_thenReadsTheStore(api, keys, live, monkeypatch):
    """The read process keeps a catalogue page for read_replica.CATALOGUE_CACHE_S: asked again within that time, the
    same page (a new offer not on it yet); after it, the store's; the API process's catalogue keeps nothing."""
    import asyncio
    from types import SimpleNamespace

    from exchange_api.services import offers as offers_module
    clock = [1000.0]
    monkeypatch.setattr(offers_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    kept = offers_module.Offers(live.rt.store, live.rt.settings, catalogue_cache_s=1.0)

    def browse() -> dict:
        return asyncio.run(kept.catalogue(category=None, district=None, merchant=None, max_price=None,
                                          available=True, limit=5, cursor=None))
    first = browse()
    new = create(api, keys["merchant"], titleEn="Fresh tea")
    assert api.get("/v1/catalogue/offers", params={"limit": 5}).json()["data"][0]["id"] == new["id"]
    clock[0] += 0.9
    assert browse() == first and new["id"] not in {o["id"] for o in first["data"]}
    clock[0] += 0.2
    assert browse()["data"][0]["id"] == new["id"]
