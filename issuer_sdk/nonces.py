"""The issuer account's nonces, handed out by the SDK itself (one manager per signing account).

A nonce is taken and its transaction signed and sent while one lock is held, so concurrent callers
(threads, or tasks of the async client) send in nonce order and never share one. If the send fails
in any way, the manager forgets its counter and asks the node (`pending` count) before the next
transaction: a nonce the node never accepted is reused, one it did accept is not, so no failed
send leaves a gap that would stall every later transaction.
"""
from __future__ import annotations

import asyncio
import threading
from contextlib import asynccontextmanager, contextmanager
from typing import Awaitable, Callable, Iterator


class NonceManager:
    def __init__(self, fetch_pending: Callable[[], int]):
        self._fetch = fetch_pending
        self._lock = threading.Lock()
        self._next: int | None = None

    @contextmanager
    def reserve(self) -> Iterator[int]:
        """`with nonces.reserve() as n:` sign and send with nonce n inside the block."""
        with self._lock:
            if self._next is None:
                self._next = self._fetch()
            n = self._next
            try:
                yield n
            except BaseException:
                self._next = None  # unknown whether the node took n: ask it next time
                raise
            self._next = n + 1

    def reset(self) -> None:
        with self._lock:
            self._next = None

    @property
    def peek(self) -> int | None:
        return self._next


class AsyncNonceManager:
    def __init__(self, fetch_pending: Callable[[], Awaitable[int]]):
        self._fetch = fetch_pending
        self._lock = asyncio.Lock()
        self._next: int | None = None

    @asynccontextmanager
    async def reserve(self):
        async with self._lock:
            if self._next is None:
                self._next = await self._fetch()
            n = self._next
            try:
                yield n
            except BaseException:
                self._next = None
                raise
            self._next = n + 1

    def reset(self) -> None:
        self._next = None
