"""Durable sends, the gateway's half that admits transactions: `eth_sendRawTransaction` is answered only once the
engine took the transaction into its pool and the journal holds it on disk (fsync shared with every concurrent
sender: group commit).

A mixin of rpc_gateway.Gateway, which holds the state it uses (engine, journal, the block producer's pending set,
the transactions in flight to the engine and those a block adopted while their send was being answered).
"""
from __future__ import annotations

from ledger_node.node.journal import transaction_hash


class DurableSend:
    async def send_raw_transaction(self, params: list) -> dict:
        return (await self.send_raw_transactions([params]))[0]

    async def send_raw_transactions(self, params_of: list) -> list[dict]:
        """Admit to the pool (one engine request for them all), journal, fsync (shared with concurrent senders),
        then answer each with its hash (or the engine's error, or a GatewayError's).

        Admission does not wait for a block being mined: the block's record, not the pool, tells the replay
        what it holds."""
        results: list[dict | None] = [None] * len(params_of)
        sending: list[tuple[int, str, str]] = []  # (index, raw, hash)
        for i, params in enumerate(params_of):
            raw = params[0] if isinstance(params, list) and params and isinstance(params[0], str) else None
            try:
                if raw is None:
                    raise ValueError
                sending.append((i, raw, transaction_hash(raw)))
            except ValueError:
                results[i] = {"jsonrpc": "2.0",
                              "error": {"code": -32602, "message": "eth_sendRawTransaction expects one hex string"}}
        for _, raw, tx_hash in sending:
            entry = self._in_flight.setdefault(tx_hash, [raw, 0])
            entry[1] += 1
        # An engine that did not answer may still hold a transaction: it then stays in flight for a block to adopt.
        answers = await self.engine_batch([("eth_sendRawTransaction", [raw]) for _, raw, _ in sending]) \
            if sending else []
        last_seq, mined = 0, []
        for (i, raw, tx_hash), answer in zip(sending, answers):
            entry = self._in_flight[tx_hash]
            entry[1] -= 1
            if not entry[1]:
                self._in_flight.pop(tx_hash, None)
            results[i] = answer
            if "error" in answer:
                continue
            seq = self._adopted.pop(tx_hash, None)
            if seq is None:  # not in a block yet (the usual case)
                seq = self.journal.append({"k": "tx", "raw": raw})
                self.state.pending[tx_hash] = raw
                self.state.dirty = True
                self._wake.set()
                if self.block_period == 0:
                    mined.append(self._mined_waiters.setdefault(tx_hash, self._loop.create_future()))
            last_seq = max(last_seq, seq)
            self.stats["accepted"] += 1
        if last_seq:
            await self.durable(last_seq)
        for waiter in mined:
            await waiter
        return results

    async def durable(self, seq: int) -> None:
        if self.journal.durable_seq() >= seq:
            return
        fut = self._loop.create_future()
        self._durable_waiters.append((seq, fut))
        if self.journal.durable_seq() >= seq and not fut.done():
            fut.set_result(None)
        await fut

    def _durable_from_thread(self, seq: int) -> None:
        self._loop.call_soon_threadsafe(self._release_durable, seq)

    def _release_durable(self, seq: int) -> None:
        keep = []
        for s, fut in self._durable_waiters:
            if s <= seq:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((s, fut))
        self._durable_waiters = keep
