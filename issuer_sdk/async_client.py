"""AsyncIssuerClient: the asynchronous twin of IssuerClient (same methods, awaited; aiohttp underneath).

    async with AsyncIssuerClient.from_deployment(signer, scheme=1, salt=salt) as client:
        await client.issue(resident, 20, "shift-8812")
        summary = await client.issue_many(records)          # an iterable or an async iterable
        async for batch in client.stream(records): ...

Encoding and signing a batch is CPU work: it runs in a worker thread so the event loop stays free, and
the next batch is prepared while earlier ones are in flight. Nonces are handed out under an asyncio lock.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import AsyncIterator, Iterable

from issuer_sdk import errors
from issuer_sdk.client import (LOG_LOOKS, REF_USED, LogScan, _batch_attempted, _ClientCore, _InFlight, _Prepared,
                               prepare_batches)
from issuer_sdk.encoding import UnsignedTx, tx_hash
from issuer_sdk.ledger import Allowance, BatchResult, IssueManySummary, IssueResult, RefStatus, RevokeResult
from issuer_sdk.nonces import AsyncNonceManager
from issuer_sdk.rpc import AsyncRpcTransport, unwrap
from issuer_sdk.signer import sign_tx


class AsyncIssuerClient(_ClientCore):
    """The chain id is asked of the node at the first send when neither given nor in the deployment."""

    def _transport(self, rpc_url: str) -> AsyncRpcTransport:
        return AsyncRpcTransport(rpc_url, timeout=self.config.request_timeout_s, retry=self.config.retry)

    def _nonce_manager(self) -> AsyncNonceManager:
        return AsyncNonceManager(self._pending_nonce)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()

    async def aclose(self) -> None:
        await self.rpc.aclose()
        self.book.close()

    async def read_chain_into_book(self, force: bool = False) -> None:
        """As IssuerClient.read_chain_into_book."""
        steps = self._book_sync_steps(force)
        answer = None
        while True:
            try:
                method, params = steps.send(answer)
            except StopIteration:
                return
            answer = await self.rpc.call(method, params, attempted={"operation": "read the sequence book's events",
                                                                     "method": method})

    # -- issuing ---------------------------------------------------------------------------------------------

    async def issue(self, resident: str, amount: int, ref, *, reason: int | None = None) -> IssueResult:
        await self.read_chain_into_book()
        ref32, data, attempted = self._issue_request(resident, amount, ref, reason)
        return self._issue_result(await self._send_and_confirm(data, self.config.single_gas, attempted), ref, ref32)

    async def issue_many(self, items, *, keep_results: bool = False) -> IssueManySummary:
        summary = IssueManySummary()
        try:
            async for batch in self.stream(items):
                summary.add(batch, keep_results)
        except errors.IssuerError as exc:
            exc.summary = summary
            raise
        return summary

    async def stream(self, items) -> AsyncIterator[BatchResult]:
        """As IssuerClient.stream; `items` may be an iterable or an async iterable."""
        size = await self._batch_size()
        await self.read_chain_into_book(force=True)
        scan = self._log_scan_at(int(await self.rpc.call("eth_blockNumber"), 16))
        if hasattr(items, "__aiter__"):
            batches = self._prepare_async(items, size)
        else:
            batches = self._prepare_in_thread(items, size)
        inflight: deque[_InFlight] = deque()
        failure: errors.IssuerError | None = None
        try:
            async for prepared in batches:
                while len(inflight) >= self.config.max_in_flight:
                    async for result in self._settle_oldest(inflight, scan):
                        if isinstance(result, errors.IssuerError):
                            failure = failure or result
                        else:
                            result.after_failure = failure is not None
                            yield result
                if failure is not None:
                    break
                inflight.append(await self._send_batch(prepared))
        except errors.IssuerError as exc:
            failure = failure or exc
        finally:
            await batches.aclose()
        while inflight:
            async for result in self._settle_oldest(inflight, scan):
                if isinstance(result, errors.IssuerError):
                    failure = failure or result
                else:
                    result.after_failure = failure is not None
                    yield result
        if failure is not None:
            raise failure

    async def revoke(self, resident: str, amount: int, ref, reason: int = 0) -> RevokeResult:
        await self.read_chain_into_book()
        ref32, data, attempted = self._revoke_request(resident, amount, ref, reason)
        return self._revoke_result(await self._send_and_confirm(data, self.config.single_gas, attempted), ref, ref32)

    # -- reading ---------------------------------------------------------------------------------------------

    async def status(self, ref) -> RefStatus:
        await self.read_chain_into_book(force=True)
        known, ref32 = self._status_of(ref, self.hash_ref(ref))
        if known is not None:
            return known
        return RefStatus(ref, ref32, self.codec.decode_uint(await self._call(self._ref_state_call(ref32))) == REF_USED)

    async def balance(self, resident: str) -> int:
        return self.codec.decode_uint(await self._call(self.codec.balance_fn.encode(resident, self.scheme)))

    async def allowance(self, resident: str | None = None) -> Allowance:
        answers = await self.rpc.batch([("eth_call", [self._call_object(d), "latest"])
                                        for d in self._allowance_calls(resident)])
        return self._allowance_of([unwrap(a, "eth_call") for a in answers], resident)

    async def quota_remaining(self) -> int:
        return (await self.allowance()).quota_remaining

    async def cap_remaining(self, resident: str) -> int:
        return (await self.allowance(resident)).cap_remaining

    # -- internals ---------------------------------------------------------------------------------------------

    async def _prepare_in_thread(self, items: Iterable, size: int):
        """Prepare batches in a worker thread, one ahead of the consumer."""
        it = prepare_batches(items, size, self.scheme, self.hash_ref, self.codec, self.book.assign)
        nxt = asyncio.ensure_future(asyncio.to_thread(next, it, None))
        try:
            while True:
                prepared = await nxt
                if prepared is None:
                    return
                nxt = asyncio.ensure_future(asyncio.to_thread(next, it, None))
                yield prepared
        finally:
            if not nxt.done():
                await asyncio.wait([nxt])

    async def _prepare_async(self, items, size: int):
        chunk: list = []
        async for item in items:
            chunk.append(item)
            if len(chunk) >= size:
                for prepared in await asyncio.to_thread(
                        lambda c=chunk: list(prepare_batches(c, size, self.scheme, self.hash_ref, self.codec,
                                                       self.book.assign))):
                    yield prepared
                chunk = []
        if chunk:
            for prepared in prepare_batches(chunk, size, self.scheme, self.hash_ref, self.codec, self.book.assign):
                yield prepared

    async def _send_batch(self, prepared: _Prepared) -> _InFlight:
        attempted = _batch_attempted(self.scheme, prepared)
        gas = self._batch_gas_within(prepared, await self._gas_limit_of_block())
        h, nonce = await self._send(prepared.data, gas, attempted)
        attempted["nonce"] = nonce
        return _InFlight(prepared, h, gas, attempted, time.monotonic())

    async def _settle_oldest(self, inflight: deque, scan: LogScan):
        """As IssuerClient._settle_oldest: mined nonce and PointsIssued logs, receipts only when needed."""
        first = inflight[0]
        mined = await self._wait_mined(first.attempted["nonce"], first.attempted, first.tx_hash)
        while inflight and inflight[0].attempted["nonce"] < mined:
            f = inflight.popleft()
            self._unconfirmed.pop(f.tx_hash, None)
            hit = await self._claim_log(scan, f)
            if hit is not None:
                block, data = hit
                skipped, issued_amount = self.codec.outcome_from_data(data)
                self._record_batch(f.prepared, skipped, block)
                gas_used = None
                if self._gas_per_item is None and len(skipped) < len(f.prepared.items):
                    gas_used = await self._gas_of(f, block)
                    self._learn_gas(gas_used, len(f.prepared.items) - len(skipped))
            else:
                receipt = (await self._wait_receipts([f.tx_hash], f.attempted))[f.tx_hash]
                try:
                    receipt = await self._check_receipt(receipt, f.prepared.data, f.gas, f.attempted)
                except errors.IssuerError as exc:
                    yield exc
                    continue
                skipped, issued_amount = self.codec.batch_outcome(receipt, self.ledger)
                if len(skipped) < len(f.prepared.items):
                    self._learn_gas(int(receipt["gasUsed"], 16), len(f.prepared.items) - len(skipped))
                block, gas_used = int(receipt["blockNumber"], 16), int(receipt["gasUsed"], 16)
                self._record_batch(f.prepared, skipped, block)
            yield BatchResult(f.prepared.items, f.tx_hash, block, skipped, issued_amount, gas_used)

    async def _rebroadcast_if_dropped(self, h: str, attempted: dict) -> None:
        """A node may drop a transaction it accepted (anvil with a block time drops one that does not fit the
        block being built; a restarted node forgets its pool). Re-send the same signed bytes: same hash, same
        nonce, so it can never count twice."""
        raw = self._unconfirmed.get(h)
        if raw is not None and await self.rpc.call("eth_getTransactionByHash", [h], attempted=attempted) is None:
            await self._send_raw(raw, {**attempted, "rebroadcast": h})

    async def _wait_mined(self, nonce: int, attempted: dict, h: str) -> int:
        deadline = time.monotonic() + self.config.confirm_timeout_s
        pause = self.config.poll_first_s
        check_at = time.monotonic() + self.config.rebroadcast_after_s
        while True:
            if time.monotonic() > check_at:
                await self._rebroadcast_if_dropped(h, attempted)
                check_at = time.monotonic() + self.config.rebroadcast_after_s
            mined = int(await self.rpc.call("eth_getTransactionCount", [self.signer.address, "latest"],
                                            attempted=attempted), 16)
            if mined > nonce:
                return mined
            if time.monotonic() > deadline:
                raise errors.ConfirmationTimeout(f"not mined within {self.config.confirm_timeout_s:.0f}s",
                                                 attempted=attempted, tx_hash=h, sent=True)
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.config.poll_max_s)

    async def _read_logs(self, scan: LogScan) -> None:
        scan.add(await self.rpc.call("eth_getLogs", scan.params(), attempted=scan.attempted()))

    async def _claim_log(self, scan: LogScan, f: _InFlight) -> tuple[int, bytes] | None:
        """As IssuerClient._claim_log: logs read when needed, and again before the batch is taken for failed."""
        hit = scan.claim(f.tx_hash)
        pause = self.config.poll_first_s
        for look in range(LOG_LOOKS):
            if hit is not None:
                break
            if look:
                await asyncio.sleep(pause)
                pause *= 2
            await self._read_logs(scan)
            hit = scan.claim(f.tx_hash)
        return hit

    async def _gas_of(self, f: _InFlight, block: int) -> int:
        """As IssuerClient._gas_of: the header's gasUsed when the batch had its block alone, else the receipt's."""
        header = await self.rpc.call("eth_getBlockByNumber", [hex(block), False], attempted=f.attempted)
        if [h.lower() for h in header["transactions"]] == [f.tx_hash.lower()]:
            return int(header["gasUsed"], 16)
        return int((await self._wait_receipts([f.tx_hash], f.attempted))[f.tx_hash]["gasUsed"], 16)

    async def _send_and_confirm(self, data: bytes, gas: int, attempted: dict) -> dict:
        h, nonce = await self._send(data, gas, attempted)
        attempted = {**attempted, "nonce": nonce}
        try:
            receipt = (await self._wait_receipts([h], attempted))[h]
        finally:
            self._unconfirmed.pop(h, None)
        return await self._check_receipt(receipt, data, gas, attempted)

    async def _send(self, data: bytes, gas: int, attempted: dict) -> tuple[str, int]:
        if self.chain_id is None:
            self.chain_id = int(await self.rpc.call("eth_chainId"), 16)
        for attempt in range(2):
            try:
                async with self.nonces.reserve() as nonce:
                    raw = sign_tx(self.signer, UnsignedTx(self.chain_id, nonce, gas, self._ledger_bytes, data))
                    h = await self._send_raw(raw, {**attempted, "nonce": nonce})
                    self._unconfirmed[h] = raw
                    return h, nonce
            except errors.NonceConflict:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _send_raw(self, raw: bytes, attempted: dict) -> str:
        h = tx_hash(raw)
        try:
            answer = await self.rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()], attempted=attempted)
        except errors.RpcError as exc:
            refusal = self._send_refusal(exc)
            if refusal == "known" or (refusal == "nonce_used" and await self.rpc.call("eth_getTransactionByHash", [h])):
                return h
            if refusal == "nonce_used":
                raise self._nonce_conflict(exc, h, attempted) from exc
            exc.tx_hash = h
            raise
        except errors.TransportError as exc:
            exc.tx_hash = h
            raise
        return answer or h

    async def _wait_receipts(self, hashes: list[str], attempted: dict) -> dict[str, dict]:
        deadline = time.monotonic() + self.config.confirm_timeout_s
        pause = self.config.poll_first_s
        check_at = time.monotonic() + self.config.rebroadcast_after_s
        while True:
            if time.monotonic() > check_at:
                await self._rebroadcast_if_dropped(hashes[0], attempted)
                check_at = time.monotonic() + self.config.rebroadcast_after_s
            answers = await self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes], attempted=attempted)
            receipts = {h: a["result"] for h, a in zip(hashes, answers) if a.get("result")}
            if hashes[0] in receipts:
                return receipts
            if time.monotonic() > deadline:
                raise errors.ConfirmationTimeout(f"no receipt within {self.config.confirm_timeout_s:.0f}s",
                                                 attempted=attempted, tx_hash=hashes[0], sent=True)
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.config.poll_max_s)

    async def _check_receipt(self, receipt: dict, data: bytes, gas: int, attempted: dict) -> dict:
        if int(receipt["status"], 16) == 1:
            return receipt
        h = receipt["transactionHash"]
        block = int(receipt["blockNumber"], 16)
        call = self._call_object(data, sender=True)
        if self._out_of_gas(receipt, gas):
            estimate = int(await self.rpc.call("eth_estimateGas", [call], attempted=attempted), 16)
            new_gas = self._resend_gas(gas, estimate, await self._gas_limit_of_block(), attempted)
            if new_gas is not None:
                return await self._send_and_confirm(data, new_gas, {**attempted, "resentAfterOutOfGas": h})
        for at in (block, block - 1):
            try:
                await self.rpc.call("eth_call", [call, hex(at)], attempted=attempted)
            except errors.ContractError as exc:
                exc.attempted, exc.tx_hash, exc.receipt = attempted, h, receipt
                raise exc
            except errors.IssuerError:
                break
        raise errors.TransactionReverted("reverted; the node did not say why", attempted=attempted, tx_hash=h,
                                         receipt=receipt)

    async def _call(self, data: bytes) -> str:
        return await self.rpc.call("eth_call", [self._call_object(data), "latest"],
                                   attempted={"operation": "call", "ledger": self.ledger})

    async def _pending_nonce(self) -> int:
        return int(await self.rpc.call("eth_getTransactionCount", [self.signer.address, "pending"]), 16)

    async def _gas_limit_of_block(self) -> int:
        if self._block_gas_limit is None:
            block = await self.rpc.call("eth_getBlockByNumber", ["latest", False])
            self._block_gas_limit = int(block["gasLimit"], 16)
        return self._block_gas_limit

    async def _batch_size(self) -> int:
        return self._batch_size_within(await self._gas_limit_of_block())
