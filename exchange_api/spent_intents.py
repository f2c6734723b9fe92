"""The intents the indexed chain shows spent on Redemption, in memory: what the relayer's check of a batch of
consents reads instead of the store for nearly every consent.

A consent whose nonce the chain shows spent (the merchant redeemed it on chain itself, or the resident signed a
preferred order with that nonce) would revert, so the relayer refuses it before any nonce is taken
(`services/redemptions._used_before`). That check read the store once a batch through the store's read
threads; at 200 redemptions a second the read waited for the GIL behind the event loop and the writer (12 ms
median, 97 ms p99 of each batch's persist, `citypoints bench api`). Nearly every consent is fresh, so the question
"might this intent be spent?" is answered here first, on the event loop, and the store is read only for a "maybe".

A Bloom filter over intent ids (`keccak256(abi.encode(resident, nonce))`: a redemption's id, and the id a consent
with a preferred order's nonce would have): no false "no" (every id the indexer commits is added, and a load reads
every id of the indexer's tables), a false "maybe" for about 1 in 2,000 fresh consents at its capacity (16 bits and
8 probes an id; the probes are the id's own 256 bits, already a keccak). It only grows: an id the chain no longer
has (a reorganisation) leaves a "maybe", and the store answers it. When more ids were added than it was sized
for, it is loaded again, twice the size, from the store (`reload`); ids committed while that read runs are kept
aside and added to the new one. Until its first load it answers "maybe" to everything (the store decides, as
before). A service whose indexer runs elsewhere (`indexer_enabled` off) never loads it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Iterable

from sqlalchemy import select

from exchange_api.store.models import IdxPreferredOrder, IdxRedemption
from ledger_node.domain import redemption_id

log = logging.getLogger("citypoints.api")

BITS_PER_ID = 16
PROBES = 8  # 32-bit slices of the id
MIN_CAPACITY = 1 << 20  # ids; 2 MiB of bits
LOAD_RETRY_S = 5.0  # a load the store could not answer is tried again after this long, until it is done


def preferred_order_intent(resident: str, nonce: str) -> str:
    """The intent id a preferred order's nonce spends (the redemption id a consent with that nonce would have)."""
    return redemption_id(resident, bytes.fromhex(nonce[2:]))


def spent_intent_ids(s) -> list[str]:
    """Every intent id the indexer's tables show spent on Redemption: redemptions and preferred orders."""
    ids = list(s.scalars(select(IdxRedemption.redemption_id)))
    ids += [preferred_order_intent(resident, nonce)
            for resident, nonce in s.execute(select(IdxPreferredOrder.resident, IdxPreferredOrder.nonce))]
    return ids


class SpentIntents:
    def __init__(self, capacity: int = MIN_CAPACITY):
        """`capacity`: the ids it is sized for at least (a load sizes it for twice the ids it read)."""
        self.ready = False  # loaded once: until then every id is a "maybe"
        self.count = 0  # ids added since the last load or clear
        self.min_capacity = capacity
        self._size(capacity)
        self._aside: list[str] | None = None  # ids committed while a load reads the store
        self._store = None
        self._reload: asyncio.Task | None = None

    def _size(self, capacity: int) -> None:
        self.capacity = max(self.min_capacity, capacity)
        bits = 1 << (self.capacity * BITS_PER_ID - 1).bit_length()  # a power of two: a probe is a mask
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)

    def possible(self, intent_id: str) -> bool:
        """False only when the indexed chain certainly has no such intent; True means "ask the store"."""
        if not self.ready:
            return True
        word, bits, mask = int(intent_id[2:66], 16), self._bits, self._mask
        for _ in range(PROBES):
            probe = word & mask
            if not bits[probe >> 3] & (1 << (probe & 7)):
                return False
            word >>= 32
        return True

    def add(self, intent_ids: Iterable[str]) -> None:
        """Ids the indexer committed (called on the event loop after each commit)."""
        bits, mask = self._bits, self._mask
        for intent_id in intent_ids:
            if self._aside is not None:
                self._aside.append(intent_id)
            word = int(intent_id[2:66], 16)
            for _ in range(PROBES):
                probe = word & mask
                bits[probe >> 3] |= 1 << (probe & 7)
                word >>= 32
            self.count += 1
        if self.count > self.capacity and self._store is not None and self._aside is None:
            self.start_reload(self._store)

    def clear(self) -> None:
        """The indexer wiped its tables (a chain reset or reorganisation): it adds the ids again as it indexes."""
        self._bits = bytearray(len(self._bits))
        self.count = 0

    def start_reload(self, store) -> asyncio.Task:
        """Load from the store in the background (ids committed meanwhile are kept aside from now on)."""
        self._store = store
        self._aside = []
        self._reload = asyncio.get_running_loop().create_task(self._load(store), name="spent-intents")
        return self._reload

    async def _load(self, store) -> None:
        while True:
            try:
                ids = await store.run(spent_intent_ids)
                break
            except Exception as exc:  # noqa: BLE001 - the store is away: the check asks it meanwhile, as before
                log.warning("spent intents not loaded (%s): again in %s s", type(exc).__name__, LOAD_RETRY_S)
                await asyncio.sleep(LOAD_RETRY_S)
        aside, self._aside = self._aside or [], None
        self._size(2 * (len(ids) + len(aside)))
        self.count = 0
        self.add(ids)
        self.add(aside)
        self.ready = True
