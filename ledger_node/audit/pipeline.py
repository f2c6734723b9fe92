"""The replay's log pipeline: the node serves the next ranges of logs while Python decodes and replays this one.

`depth` eth_getLogs requests are in flight at once, each on a keep-alive connection of its own
(`HttpTransport.send`): before the replay parses and decodes (`EventTable.decode_answer`) and folds one
answer, the request for a later range has already gone out, so the node (another process, the other core) works
on it meanwhile. No thread: measured on the 2-core machine, a fetch thread handing bodies over a queue made the
replay slower, not faster (every socket read it finished took the GIL back from the decoding thread), while
requests in flight overlap the node's work and ours for nothing.

Ranges are cut by size, not by a fixed number of blocks: each aims at `target_bytes` of answer (the node serves a
1 MB answer faster per log than one of 180 MB, and small answers keep both sides busy), growing at most 4x and
shrinking at most 4x from one answer to the next, never more than `step` blocks. A node that refuses a query as
too large (anvil, geth, Besu, Alchemy-style messages) gets the same range halved, as before.

What the replay sees is what a sequential fold would see: ranges in block order, each range's events in log order
(block, log index), checked rather than trusted (a log outside its range fails the audit; a range out of order is
sorted). Any failure of a fetch (the node went away, answered with an error, answered a range with logs of
another) is raised at the point the replay reached: the audit stops with that error, never with a report of the
logs before it.
"""
from __future__ import annotations

import gc
import time
from collections import deque
from contextlib import contextmanager
from typing import Iterator

import orjson

from ledger_node.audit.events import Event, EventTable
from ledger_node.audit.rpc import Rpc, RpcError, too_large
from ledger_node.jsonrpc import PendingPost


_SMALL_ANSWER = 65_536  # answers this small are looked at for an error before they are handed out


class LogPipeline:
    """Iterate `(first block, last block, events in log order, logs of no known event)` over [from_block, to_block]."""

    def __init__(self, rpc: Rpc, table: EventTable, from_block: int, to_block: int, *, step: int = 10_000,
                 target_bytes: int = 1_000_000, depth: int = 2):
        self.rpc, self.table = rpc, table
        self.from_block, self.to_block = from_block, to_block
        self.step = max(1, step)
        self.target_bytes = max(1, target_bytes)
        self.depth = max(1, depth)
        self.ranges = 0
        self.bytes = 0
        self.wait_s = 0.0  # time spent waiting for the node's answers (the rest of the replay overlapped them)
        self._next = from_block  # first block of the next range to ask for
        self._size = 1  # blocks in the next range
        self._in_flight: deque[tuple[int, int, PendingPost]] = deque()

    def __iter__(self) -> Iterator[tuple[int, int, list[Event], list[dict]]]:
        decode, bodies = self.table.decode_answer, self.bodies()
        try:
            for start, end, body in bodies:
                events, unknown = decode(body, start, end)
                yield start, end, events, unknown
        finally:
            bodies.close()  # requests still in flight are dropped at once, also when the replay failed

    def bodies(self) -> Iterator[tuple[int, int, bytes]]:
        """`(first block, last block, the node's undecoded answer)` for consecutive ranges, the next ones already
        asked for when one is handed out (the bench's raw fetch over the audit's own ranges uses this alone)."""
        try:
            self._fill()
            while self._in_flight:
                start, end, pending = self._in_flight.popleft()
                t = time.perf_counter()
                body = self.rpc.read_later(pending)
                self.wait_s += time.perf_counter() - t
                if len(body) < _SMALL_ANSWER and end > start:  # an error answer is small
                    answer = orjson.loads(body)
                    error = answer.get("error") if isinstance(answer, dict) else None
                    if error is not None and too_large(RpcError("eth_getLogs", error)):
                        self._restart(start, (end - start + 1) // 2)
                        continue
                self.ranges += 1
                self.bytes += len(body)
                self._size = self._next_size(end - start + 1, len(body))
                self._fill()  # the node serves the next ranges while this one is decoded and replayed
                yield start, end, body
        finally:
            self._cancel()

    def _fill(self) -> None:
        while len(self._in_flight) < self.depth and self._next <= self.to_block:
            start, end = self._next, min(self.to_block, self._next + self._size - 1)
            self._in_flight.append((start, end, self.rpc.get_logs_later(self.table.addresses, start, end)))
            self._next = end + 1

    def _restart(self, start: int, size: int) -> None:
        """Ask again from `start` with ranges of `size` blocks; the answers already asked for are dropped."""
        self._cancel()
        self._next, self._size = start, max(1, size)
        self._fill()

    def _cancel(self) -> None:
        while self._in_flight:
            self._in_flight.popleft()[2].cancel()

    def _next_size(self, size: int, answer_bytes: int) -> int:
        want = size * self.target_bytes // max(answer_bytes, 1)
        return max(1, min(self.step, size * 4, max(size // 4, want)))


@contextmanager
def no_gc_pauses():
    """The cyclic garbage collector off while the replay runs: it allocates millions of small dicts and lists
    (the parsed logs, the events' arguments), none of them in cycles, and the collector's passes over them took
    as long as parsing them (measured: orjson over the bench chain's 181 MB, 0.33 s with the collector, 0.18 s
    without). Reference counting still frees every one; the collector's state is put back."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
