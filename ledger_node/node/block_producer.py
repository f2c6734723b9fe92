"""Block production, the gateway's half that mines: a block once a transaction is pending, at most one a period
(start to start; a full block is followed at once by the next), journaled (number, timestamp, hash, its
transactions in order) before any client may see it (read_gate.ReadGate).

A mixin of rpc_gateway.Gateway, which holds the state it uses (`ProducerState`, the engine, the journal, the read
limiter that keeps long reads out of a block's way).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger("citypoints.gateway")


@dataclass
class ProducerState:
    height: int = 0
    last_timestamp: int = 0
    time_offset: int = 0
    next_timestamp: int | None = None
    dirty: bool = False             # a transaction arrived since the last block started
    pending: dict[str, str] = field(default_factory=dict)  # journaled, not yet mined: hash -> raw, journal order


class BlockProduction:
    async def _produce_blocks(self) -> None:
        """A block once a transaction is pending, at most one a period (start to start, so block timestamps keep to
        the wall clock); after a full block the backlog goes on at once."""
        started = float("-inf")
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.state.dirty:
                continue
            delay = started + self.block_period - self._loop.time()
            waits = delay > 0 and not self._backlog
            self.reads.block_due(self.reads.clock() + (delay if waits else 0.0))  # long reads wait for it
            if waits:
                await asyncio.sleep(delay)
            await self.reads.quiet()  # anvil mines no block while a call runs; sends would wait behind the block
            started = self._loop.time()
            try:
                await self.mine_block()
            except Exception:  # the gate has failed: the supervisor stops the node
                log.exception("mining failed")
                return
            finally:
                self.reads.block_due(None, self.reads.clock() + self.block_period)

    async def mine_block(self, timestamp: int | None = None) -> dict:
        """Mine one block from the pool, journal what it holds, and only then let clients see it."""
        async with self.mine_lock, self.gate.closed():
            number = self.state.height + 1
            ts = self._choose_timestamp(timestamp)
            waiting = list(self.state.pending)
            self.state.dirty = False
            for method, params in self.engine.mine_params(ts):
                await self.engine_call(method, params)
            block = await self.engine_call("eth_getBlockByNumber", [hex(number), False])
            txs = block["transactions"]
            self._unpublished = set(txs)
            for h in txs:
                if self.state.pending.pop(h, None) is None and h in self._in_flight:
                    self._adopted[h] = self.journal.append({"k": "tx", "raw": self._in_flight[h][0]})
            seq = self.journal.append({"k": "block", "n": number, "ts": ts, "hash": block["hash"], "txs": txs})
            await self.durable(seq)
            self._unpublished = set()
            self.state.height = number
            self.state.last_timestamp = ts
            self.state.next_timestamp = None
            self.stats["blocks"] += 1
            self.last_block_at = time.monotonic()
            left = await self._forget_dropped([h for h in waiting if h in self.state.pending])
            self._backlog = bool(txs and left)  # the block was full: the rest goes into the next one at once
            if self._backlog:
                self.state.dirty = True
                self._wake.set()
            for h in txs:
                waiter = self._mined_waiters.pop(h, None)
                if waiter and not waiter.done():
                    waiter.set_result(None)
            if not txs:  # what was waiting cannot run yet (a nonce gap): answer rather than hang
                for h in left:
                    waiter = self._mined_waiters.pop(h, None)
                    if waiter and not waiter.done():
                        waiter.set_result(None)
            return block

    async def _forget_dropped(self, left: list[str]) -> list[str]:
        """`left` (acknowledged, not in the block just mined) without those the engine no longer holds.

        An engine drops a transaction it can never mine (replaced, or invalid once others ran). Kept as pending,
        it would make every block look full (mined at once, then an empty block after it) and be carried into
        every snapshot. One pool count per block with leftovers finds out; only when the pool holds fewer than
        the gateway thinks is each leftover looked up. Its journal record stays: a restart offers it to the
        engine again (the replay reports it if refused)."""
        if not left:
            return left
        status = await self.engine_call("txpool_status", [])
        held = sum(int(status.get(k, "0x0"), 16) for k in ("pending", "queued"))
        if held >= len(self.state.pending):  # transactions in flight count too: a drop may show next time
            return left
        dropped = [h for h in list(self.state.pending)
                   if await self.engine_call("eth_getTransactionByHash", [h]) is None]
        for h in dropped:
            self.state.pending.pop(h, None)
            waiter = self._mined_waiters.pop(h, None)
            if waiter and not waiter.done():
                waiter.set_result(None)
        if dropped:
            log.warning("the engine dropped %d acknowledged transactions it cannot mine, e.g. %s", len(dropped),
                        dropped[0])
            self.stats["dropped"] += len(dropped)
        return [h for h in left if h in self.state.pending]

    def _choose_timestamp(self, requested: int | None) -> int:
        if requested is None:
            requested = self.state.next_timestamp
        if requested is None:
            requested = int(time.time()) + self.state.time_offset
        ts = max(int(requested), self.state.last_timestamp + 1)
        return ts
