"""The API tests' store isolation (store_reset.py) does what each test relies on, on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import select

from exchange_api.merchant_keys import create_key
from exchange_api.store.db import Store
from exchange_api.store.models import ApiKey, Merchant, RedemptionRequest

from .store_reset import StoreBaseline

SHOP = "0x" + "11" * 20
OTHER_SHOP = "0x" + "22" * 20


def test_storeBaseline_restore_removesWhatATestWrote_andPutsBackWhatItChanged(empty_database_url):
    store = Store(empty_database_url)
    try:
        store.migrate()
        key = store.call(lambda s: create_key(s, name="shop", merchant_address=SHOP))
        baseline = StoreBaseline(store)

        def a_test_writes(s):  # as a test would: new rows, and a change to the package's own
            merchant = s.scalar(select(Merchant).where(Merchant.address == SHOP))
            merchant.name = "renamed by a test"
            s.add(RedemptionRequest(id="rrq_test", merchant_id=merchant.id, resident=OTHER_SHOP, credits=2**95,
                                    order_ref="0x" + "00" * 32, nonce="0x" + "01" * 32, deadline=2**63 - 1))
        store.call(a_test_writes)
        store.call(lambda s: create_key(s, name="another shop", merchant_address=OTHER_SHOP))
        assert baseline.differences() == {"merchants": 2, "api_keys": 2, "redemption_requests": 1}

        baseline.restore()

        assert baseline.differences() == {}
        assert store.call(lambda s: [m.name for m in s.scalars(select(Merchant))]) == ["shop"]
        assert store.call(lambda s: [k.id for k in s.scalars(select(ApiKey))]) == [key.id]
        assert store.call(lambda s: s.scalars(select(RedemptionRequest)).all()) == []
    finally:
        store.dispose()
