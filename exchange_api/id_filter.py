"""A Bloom filter over 256-bit ids, loaded from the store and grown by what the service commits: it answers "might
the store hold this id?" on the event loop, so a check that would read the store for every request reads it only
for a "maybe". Two use it: the intents the indexed chain shows spent (`spent_intents.py`) and the Idempotency-Keys
the store keeps (`idempotency.KeptKeys`), both asked by the relayer's check of a batch of consents
(`services/redemptions._used_before`).

No false "no": every id committed while the filter lives is added, and a load reads every id of the store. A false
"maybe" for about 1 in 2,000 fresh ids at its capacity (16 bits and 8 probes an id; the probes are the id's own 256
bits, a keccak or a blake2b already). It only grows: an id the store no longer has leaves a "maybe", and the store
answers it. When more ids were added than it was sized for, it is loaded again, twice the size, from the store
(`start_reload`); ids added while that read runs are kept aside and added to the new one. Until its first load it
answers "maybe" to everything (the store decides). A load the store cannot answer is tried again every
`LOAD_RETRY_S`.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, Iterable

log = logging.getLogger("citypoints.api")

BITS_PER_ID = 16
PROBES = 8  # 32-bit slices of the id
MIN_CAPACITY = 1 << 20  # ids; 2 MiB of bits
LOAD_RETRY_S = 5.0  # a load the store could not answer is tried again after this long, until it is done


class IdFilter:
    def __init__(self, load: Callable[[object], list[str]], name: str, capacity: int = MIN_CAPACITY):
        """`load(session)`: every id the store holds ("0x" and 64 hex digits); `name`: what the ids are, for the
        log; `capacity`: the ids it is sized for at least (a load sizes it for twice the ids it read)."""
        self.ready = False  # loaded once: until then every id is a "maybe"
        self.count = 0  # ids added since the last load or clear
        self.min_capacity = capacity
        self.name = name
        self._load_ids = load
        self._size(capacity)
        self._aside: list[str] | None = None  # ids committed while a load reads the store
        self._store = None
        self._reload: asyncio.Task | None = None

    def _size(self, capacity: int) -> None:
        self.capacity = max(self.min_capacity, capacity)
        bits = 1 << (self.capacity * BITS_PER_ID - 1).bit_length()  # a power of two: a probe is a mask
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)

    def possible(self, id_: str) -> bool:
        """False only when the store certainly has no such id; True means "ask the store"."""
        if not self.ready:
            return True
        word, bits, mask = int(id_[2:66], 16), self._bits, self._mask
        for _ in range(PROBES):
            probe = word & mask
            if not bits[probe >> 3] & (1 << (probe & 7)):
                return False
            word >>= 32
        return True

    def add(self, ids: Iterable[str]) -> None:
        """Ids committed to the store (called on the event loop after each commit)."""
        bits, mask = self._bits, self._mask
        for id_ in ids:
            if self._aside is not None:
                self._aside.append(id_)
            word = int(id_[2:66], 16)
            for _ in range(PROBES):
                probe = word & mask
                bits[probe >> 3] |= 1 << (probe & 7)
                word >>= 32
            self.count += 1
        if self.count > self.capacity and self._store is not None and self._aside is None:
            self.start_reload(self._store)

    def clear(self) -> None:
        """The store's ids were wiped (the indexer's tables, on a chain reset or reorganisation): they are added
        again as they are committed."""
        self._bits = bytearray(len(self._bits))
        self.count = 0

    def start_reload(self, store) -> asyncio.Task:
        """Load from the store in the background (ids committed meanwhile are kept aside from now on)."""
        self._store = store
        self._aside = []
        self._reload = asyncio.get_running_loop().create_task(self._load(store), name=self.name)
        return self._reload

    async def _load(self, store) -> None:
        while True:
            try:
                ids = await store.run(self._load_ids)
                break
            except Exception as exc:  # noqa: BLE001 - the store is away: the check asks it meanwhile
                log.warning("%s not loaded (%s): again in %s s", self.name, type(exc).__name__, LOAD_RETRY_S)
                await asyncio.sleep(LOAD_RETRY_S)
        aside, self._aside = self._aside or [], None
        self._size(2 * (len(ids) + len(aside)))
        self.count = 0
        self.add(ids)
        self.add(aside)
        self.ready = True
