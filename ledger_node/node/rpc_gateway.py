"""The JSON-RPC gateway in front of the engine: the only door clients use.

Public port (`NodeConfig.port`, default 8545): standard Ethereum JSON-RPC for every client (SDK, relayer,
cast, ethers, web3.py). Reads pass through. `eth_sendRawTransaction` is durable: the engine must accept
the transaction into its pool, then the raw bytes are appended to the journal and fsynced (group commit)
before the hash is returned. Methods that rewrite history or state (`evm_*`, `anvil_*`, `hardhat_*`, ...)
are refused with error -32004 and a message pointing to the operator channel.

Operator channel (`127.0.0.1:<operatorPort>`, token in `var/chain/operator.token`, given as
`Authorization: Bearer <token>` or as the URL path `http://127.0.0.1:<port>/<token>`): every method but
those that would let the engine mine, sign or drop transactions behind the journal (ENGINE_OWN_BLOCKS).
Calls that change state are journaled before they run, so a restart replays them in the same place.
`evm_mine`, `evm_setAutomine`, `evm_setIntervalMining`, `evm_setNextBlockTimestamp` and
`evm_increaseTime` act on the gateway's block producer (the engine never mines by itself).

Block production: once a transaction is pending, but at most one block every `block_period` seconds (start to
start; a full block is followed at once by the next), the gateway mines a block with every pending transaction,
then journals it (number, timestamp, hash, its transactions in order); restart replays exactly those
transactions into that block. Transactions keep being admitted while a block is mined (they go into the next
one); an engine's answer that arrives while a block is mined is shown once the block's record is durable
(read_gate.py). Period 0 is instant mining: a block right after each transaction, and `eth_sendRawTransaction`
answers once it is mined.

Limits of the public port (NodeConfig.rpc_*, README.md "Safety of the RPC"): bodies and batches are capped, EVM
calls run with at most the gas cap, tracing and simulation are the operator's, and reads go through
read_gate.ReadLimiter (a few engine slots, per-address admission, long reads only between blocks), so sends and
block production never wait behind them.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging

from aiohttp import web

from ledger_node import fast_json
from ledger_node.node.backup import BackupError, backup_running
from ledger_node.config import NodeConfig
from ledger_node.node.engine import Engine
from ledger_node.node.engine_client import EngineClient, EngineUnavailable
from ledger_node.errors import LedgerNodeError
from ledger_node.node.block_producer import BlockProduction, ProducerState
from ledger_node.node.durable_send import DurableSend
from ledger_node.node.journal import Journal
from ledger_node.node.method_policy import (ENGINE_OWN_BLOCKS, GATEWAY_METHODS, OPERATOR_ONLY_READS, OPERATOR_READS,
                                           PUBLIC_METHODS, REFUSED, gas_capped, gas_of, heavy_refusal, refusal)
from ledger_node.node.read_gate import (LIMIT_EXCEEDED, GateFailed, ReadGate, ReadLimited, ReadLimiter, pinned,
                                   shows_only_journaled)

log = logging.getLogger("citypoints.gateway")

JSON = {"Content-Type": "application/json"}


def limit_exceeded(rid, message: str, status: int = 200) -> web.Response:
    return web.Response(body=fast_json.dumps({"jsonrpc": "2.0", "id": rid, "error": {
        "code": LIMIT_EXCEEDED, "message": message}}), status=status, content_type="application/json")


class Gateway(DurableSend, BlockProduction):
    """The node's JSON-RPC door: HTTP on both ports, each request judged by method_policy, reads passed to the engine
    through the read gate, sends made durable (durable_send.DurableSend), blocks mined and journaled
    (block_producer.BlockProduction), the operator's methods."""

    def __init__(self, engine: Engine, journal: Journal, *, block_period: float, operator_token: str,
                 snapshotter=None, limits: NodeConfig | None = None):
        self.engine = engine
        self.journal = journal
        self.block_period = block_period
        self.configured_period = block_period or 1.0
        self.operator_token = operator_token
        self.snapshotter = snapshotter      # async callable(gateway) -> str, None when the engine has none
        self.state = ProducerState()
        self.mine_lock = asyncio.Lock()     # one block (or snapshot, backup, operator change) at a time
        self.save_lock = asyncio.Lock()     # one snapshot or backup at a time (taken before mine_lock)
        self.gate = ReadGate()
        self.limits = limits or NodeConfig.from_env()  # the public RPC's limits (rpc_* settings)
        self.reads = ReadLimiter(slots=self.limits.rpc_read_slots, long_slots=self.limits.rpc_long_read_slots,
                                 per_client=self.limits.rpc_client_reads,
                                 trusted=frozenset(self.limits.rpc_trusted_clients),
                                 long_share=self.limits.rpc_long_read_share)
        # Sent to the engine, its answer not handled yet: hash -> [raw, senders]. A block mined meanwhile may
        # hold such a transaction; the miner then journals it (adopted: hash -> journal sequence number) so a
        # block record never names a transaction the journal lacks.
        self._in_flight: dict[str, list] = {}
        self._adopted: dict[str, int] = {}
        self._unpublished: set[str] = set()  # the transactions of the block being journaled
        self._wake = asyncio.Event()        # a transaction arrived, a block was full, or the period changed
        self._backlog = False
        self._durable_waiters: list[tuple[int, asyncio.Future]] = []
        self._mined_waiters: dict[str, asyncio.Future] = {}
        self._engine_client: EngineClient | None = None  # the engine's Unix socket, a pool of 16 connections
        self._loop: asyncio.AbstractEventLoop | None = None
        self._producer: asyncio.Task | None = None
        self.operator_hint = "see ledger_node/README.md"
        self.stats = {"accepted": 0, "blocks": 0, "refused": 0, "dropped": 0}
        self.last_block_at = float("-inf")  # time.monotonic() when the last block was shown to clients

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._engine_client = EngineClient(self.engine.socket, size=16)
        self.journal.on_durable = self._durable_from_thread
        await self.refresh()
        self._producer = asyncio.create_task(self._produce_blocks())
        self._wake.set()  # transactions the replay left pending

    async def stop_producing(self) -> None:
        """Stop after the block in progress, if any (a block cut short would be on the engine, not in the journal)."""
        async with self.mine_lock:
            if self._producer:
                self._producer.cancel()
                try:
                    await self._producer
                except asyncio.CancelledError:
                    pass
                self._producer = None

    async def close(self) -> None:
        await self.stop_producing()
        if self._engine_client:
            await self._engine_client.close()

    @property
    def backlogged(self) -> bool:
        """Transactions are waiting beyond the block being mined, or the last block was full: the producer runs flat
        out."""
        return bool(self.state.pending) and (self._backlog or self.mine_lock.locked())

    def failure(self) -> str | None:
        """Why the node must stop (the supervisor asks every second), or None."""
        if self.journal.error:
            return f"the journal cannot be written ({self.journal.error})"
        return self.gate.failure

    async def refresh(self) -> None:
        block = await self.engine_call("eth_getBlockByNumber", ["latest", False])
        self.state.height = int(block["number"], 16)
        self.state.last_timestamp = int(block["timestamp"], 16)

    def public_app(self) -> web.Application:
        app = web.Application()  # its bodies are read within NodeConfig.rpc_max_body_bytes (_body_within)
        app.router.add_post("/", self._public_http)
        return app

    def operator_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024 * 1024)
        app.router.add_post("/", self._operator_http)
        app.router.add_post("/{token}", self._operator_http)
        return app

    # ---- HTTP --------------------------------------------------------------------------------------------------

    async def _public_http(self, request: web.Request) -> web.Response:
        return await self._serve(request, operator=False)

    async def _operator_http(self, request: web.Request) -> web.Response:
        given = request.match_info.get("token") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.strip().encode(), self.operator_token.encode()):
            return web.json_response({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32001, "message": "operator channel: missing or wrong token (var/chain/operator.token)"}},
                status=401)
        return await self._serve(request, operator=True)

    async def _serve(self, request: web.Request, *, operator: bool) -> web.Response:
        client = None if operator else (request.remote or "unknown")
        if operator:
            raw = await request.read()
        else:
            raw = await _body_within(request, self.limits.rpc_max_body_bytes)
            if raw is None:
                return limit_exceeded(None, f"limit exceeded: a request body may hold at most "
                                            f"{self.limits.rpc_max_body_bytes} bytes on the public RPC "
                                            f"(CITYPOINTS_RPC_MAX_BODY_BYTES); send it in smaller batches", status=413)
        try:
            body = json.loads(raw)
        except ValueError:
            return web.json_response({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
        if isinstance(body, list):
            if not body:
                return web.json_response({"jsonrpc": "2.0", "id": None,
                                          "error": {"code": -32600, "message": "empty batch"}})
            if not operator and len(body) > self.limits.rpc_max_batch:
                return limit_exceeded(None, f"limit exceeded: a batch may hold at most {self.limits.rpc_max_batch} "
                                            f"calls on the public RPC (CITYPOINTS_RPC_MAX_BATCH), this one holds "
                                            f"{len(body)}; split it")
            answers = [_encoded(a) for a in await self.handle_batch(body, operator=operator, client=client)]
            return web.Response(body=b"[" + b",".join(answers) + b"]", content_type="application/json")
        return web.Response(body=_encoded(await self.handle(body, operator=operator, client=client)),
                            content_type="application/json")

    # ---- one JSON-RPC request ----------------------------------------------------------------------------------

    async def handle_batch(self, body: list, *, operator: bool, client: str | None = None) -> list[dict | bytes]:
        """A JSON-RPC batch's answers, in order. Its runs of eth_sendRawTransaction go to the engine in one request
        each and wait for one fsync (`send_raw_transactions`): a relayer's batch of 50 was 50 engine round trips
        and 50 fsync waits one after the other."""
        answers: list[dict | bytes] = []
        i = 0
        while i < len(body):
            j = i
            while j < len(body) and isinstance(body[j], dict) and body[j].get("method") == "eth_sendRawTransaction":
                j += 1
            if j > i:
                run = body[i:j]
                try:
                    results = await self.send_raw_transactions([req.get("params") for req in run])
                except GatewayError as exc:
                    results = [{"jsonrpc": "2.0", "error": {"code": exc.code, "message": str(exc)}}] * len(run)
                answers += [_answer(req.get("id"), result) for req, result in zip(run, results)]
                i = j
            else:
                answers.append(await self.handle(body[i], operator=operator, client=client))
                i += 1
        return answers

    async def handle(self, req: dict, *, operator: bool, client: str | None = None) -> dict | bytes:
        """The answer to one request: a dict, or the engine's answer to a read as it came (bytes). `client`: the
        public caller's address, whose reads are limited (read_gate.ReadLimiter)."""
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
        rid, method, params = req.get("id"), req["method"], req.get("params") or []
        try:
            if method == "eth_sendRawTransaction":
                return _answer(rid, await self.send_raw_transaction(params))
            if not operator:
                if method in OPERATOR_ONLY_READS:
                    self.stats["refused"] += 1
                    return {"jsonrpc": "2.0", "id": rid, "error": heavy_refusal(method, self.operator_hint)}
                if method not in PUBLIC_METHODS:
                    self.stats["refused"] += 1
                    return {"jsonrpc": "2.0", "id": rid, "error": refusal(method, self.operator_hint)}
                client = client or "unknown"
                with self.reads.admit(client):
                    return await self.engine_read(rid, method, gas_capped(method, params, self.limits.rpc_gas_cap),
                                                  client=client)
            if method in GATEWAY_METHODS:
                return _answer(rid, await self.gateway_method(method, params))
            if method in PUBLIC_METHODS or method in OPERATOR_READS:
                return await self.engine_read(rid, method, params)
            if method in ENGINE_OWN_BLOCKS:
                return {"jsonrpc": "2.0", "id": rid, "error": {
                    "code": REFUSED, "message": f"{method} is refused: {ENGINE_OWN_BLOCKS[method]}"}}
            return _answer(rid, await self.admin(method, params))
        except GatewayError as exc:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": exc.code, "message": str(exc)}}
        except ReadLimited as exc:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": LIMIT_EXCEEDED, "message": str(exc)}}

    # ---- operator channel --------------------------------------------------------------------------------------

    async def gateway_method(self, method: str, params: list):
        if method == "evm_mine":
            ts = params[0] if params else None
            if isinstance(ts, dict):
                ts = ts.get("timestamp")
            if isinstance(ts, str):
                ts = int(ts, 16)
            await asyncio.shield(self.mine_block(ts))  # a caller that goes away must not cut a block short
            return "0x0"
        if method == "evm_setAutomine":
            self.block_period = 0 if params and params[0] else self.configured_period
            self._wake.set()
            return True
        if method == "evm_setIntervalMining":
            self.block_period = float(params[0]) if params else self.configured_period  # seconds, as anvil
            self._wake.set()
            return True
        if method == "citypoints_status":
            return {"height": self.state.height, "pending": len(self.state.pending), "blockPeriod": self.block_period,
                    "engine": self.engine.name, "journalSegment": self.journal.segment, **self.stats,
                    "reads": dict(self.reads.stats)}  # the public reads' limits: refused, timed out, long
        if method == "citypoints_backup":
            if not params or not isinstance(params[0], str):
                raise GatewayError(-32602, "citypoints_backup expects a directory path")
            try:
                return await backup_running(self, params[0])
            except (BackupError, OSError) as exc:
                raise GatewayError(-32000, f"backup failed: {exc}") from exc
        if method == "citypoints_snapshot":
            if not self.snapshotter:
                raise GatewayError(-32004, f"the {self.engine.name} engine keeps no snapshots")
            return await self.snapshotter(self)
        # evm_setNextBlockTimestamp / evm_increaseTime: the gateway's clock, journaled for replay; between
        # blocks, so the next block is the one it applies to
        async with self.mine_lock:
            seq = self.journal.append({"k": "admin", "method": method, "params": params, "gw": True})
            result = self.apply_clock(method, params)
        await self.durable(seq)
        return result

    def apply_clock(self, method: str, params: list):
        value = params[0] if params else 0
        value = int(value, 16) if isinstance(value, str) else int(value)
        if method == "evm_setNextBlockTimestamp":
            self.state.next_timestamp = value
            return hex(value)
        self.state.time_offset += value
        return hex(self.state.time_offset)

    async def admin(self, method: str, params: list):
        """An operator call that changes the engine's state: journal it, then run it, between blocks."""
        async with self.mine_lock:
            seq = self.journal.append({"k": "admin", "method": method, "params": params})
            await self.durable(seq)
            answer = await self.engine_request(method, params)
            await self.refresh()
        if "error" in answer:
            raise GatewayError(answer["error"].get("code", -32000), answer["error"].get("message", "error"))
        return answer["result"]

    # ---- engine ------------------------------------------------------------------------------------------------

    async def engine_read(self, rid, method: str, params: list, client: str | None = None) -> bytes | dict:
        """A call that shows the chain; never a block that is not yet journaled. "latest" means the last journaled
        block, and an answer that could show a later one waits for it to be journaled (read_gate.py). The
        engine's answer goes back as it came, with the client's id in it: re-encoding the receipts of large
        batches cost the gateway more than admitting them. A public read (`client` given) waits for one of the
        engine's read slots (read_gate.ReadLimiter)."""
        if method == "eth_blockNumber":
            return {"jsonrpc": "2.0", "id": rid, "result": hex(self.state.height)}
        params = pinned(method, params, self.state.height)
        echoed = rid is None or (isinstance(rid, (int, str)) and not isinstance(rid, bool))  # what engines echo
        payload = {"jsonrpc": "2.0", "id": rid if echoed else 1, "method": method, "params": params}
        ticket = await self.reads.acquire(client, gas_of(method, params)) if client is not None else None
        try:
            body = await self._engine_client.request(fast_json.dumps(payload))
        except (EngineUnavailable, asyncio.TimeoutError) as exc:
            raise GatewayError(-32603, f"the ledger engine is not answering ({exc.__class__.__name__})") from exc
        finally:
            if ticket is not None:
                self.reads.release(ticket)
        if not shows_only_journaled(method, params, self.state.height, self._unjournaled):
            try:
                await self.gate.release()
            except GateFailed as exc:
                raise GatewayError(-32603, str(exc)) from None
        if echoed:
            return body
        return {**json.loads(body), "id": rid}

    def _unjournaled(self, tx_hash: str) -> bool:
        return tx_hash in self.state.pending or tx_hash in self._in_flight or tx_hash in self._unpublished

    async def engine_request(self, method: str, params: list) -> dict:
        """The engine's whole answer ({result} or {error}) to one call."""
        payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        try:
            body = await self._engine_client.request(fast_json.dumps(payload))
        except (EngineUnavailable, asyncio.TimeoutError) as exc:
            raise GatewayError(-32603, f"the ledger engine is not answering ({exc.__class__.__name__})") from exc
        return json.loads(body)

    async def engine_result_pieces(self, method: str, params: list) -> list[bytes | memoryview]:
        """The engine's result to one call, a JSON string, as the pieces of its bytes that came off the socket:
        neither decoded nor joined on the loop. A state dump (1.3 GB of hex for a district's month) decoded and
        re-encoded held the gateway's loop for seconds (262 MB: 1 s), and 131 MB joined and scanned still held it
        0.1-0.4 s under load, during which even the head it answers itself stalled and clients took the node for
        away. The caller checks the pieces hold no escape off the loop (supervisor._save_dump)."""
        try:
            pieces: list = await self._engine_client.request_pieces(fast_json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        except (EngineUnavailable, asyncio.TimeoutError) as exc:
            raise GatewayError(-32603, f"the ledger engine is not answering ({exc.__class__.__name__})") from exc
        start = pieces[0].find(b'"result":"', 0, 64)
        if start >= 0 and pieces[-1].endswith(b'"}') and (len(pieces) > 1 or len(pieces[0]) >= start + 12):
            # anvil's {..., "result": "0x..."}: the string's bytes, the pieces' ends trimmed in place
            pieces[0] = memoryview(pieces[0])[start + 10:]
            pieces[-1] = memoryview(pieces[-1])[:-2]
            return pieces
        answer = json.loads(b"".join(pieces))  # an error, or another shape
        if "error" in answer:
            raise GatewayError(answer["error"].get("code", -32000), f"{method}: {answer['error'].get('message')}")
        return [answer["result"].encode()]

    async def engine_batch(self, calls: list[tuple[str, list]]) -> list[dict]:
        """The engine's whole answers to several calls sent as one JSON-RPC batch, in order."""
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        try:
            answers = json.loads(await self._engine_client.request(fast_json.dumps(payload)))
        except (EngineUnavailable, asyncio.TimeoutError) as exc:
            raise GatewayError(-32603, f"the ledger engine is not answering ({exc.__class__.__name__})") from exc
        if not isinstance(answers, list):  # the engine refused the batch as a whole
            return [answers] * len(calls)
        by_id = {a.get("id"): a for a in answers}
        return [by_id.get(i, {"jsonrpc": "2.0", "error": {"code": -32603, "message": "the engine gave no answer"}})
                for i in range(len(calls))]

    async def engine_call(self, method: str, params: list):
        answer = await self.engine_request(method, params)
        if "error" in answer:
            raise GatewayError(answer["error"].get("code", -32000), f"{method}: {answer['error'].get('message')}")
        return answer["result"]


class GatewayError(LedgerNodeError):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def _answer(rid, answer) -> dict:
    if isinstance(answer, dict) and ("result" in answer or "error" in answer) and "jsonrpc" in answer:
        return {"jsonrpc": "2.0", "id": rid, **{k: v for k, v in answer.items() if k in ("result", "error")}}
    return {"jsonrpc": "2.0", "id": rid, "result": answer}


async def _body_within(request: web.Request, cap: int) -> bytes | None:
    """The request's body, or None if it holds more than `cap` bytes. A larger body is still read to its end (up to
    16 times `cap`, without keeping it) so that its sender reads the answer rather than a reset connection."""
    if request.content_length is not None and request.content_length > 16 * cap:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > 16 * cap:
            break
        if size <= cap:
            chunks.append(chunk)
        elif chunks:
            chunks = []
    return b"".join(chunks) if size <= cap else None


def _encoded(answer: dict | bytes) -> bytes:
    return answer if isinstance(answer, bytes) else fast_json.dumps(answer)
