"""The JSON-RPC gateway in front of the engine: the only door clients use.

Public port (`NodeConfig.port`, default 8545): standard Ethereum JSON-RPC for every client (SDK, relayer,
cast, ethers, web3.py). Reads pass through. `eth_sendRawTransaction` is durable: the engine must accept
the transaction into its pool, then the raw bytes are appended to the journal and fsynced (group commit)
before the hash is returned. Methods that rewrite history or state (`evm_*`, `anvil_*`, `hardhat_*`, ...)
are refused with error -32004 and a message pointing to the operator channel.

Operator channel (`127.0.0.1:<operatorPort>`, token in `var/chain/operator.token`, given as
`Authorization: Bearer <token>` or as the URL path `http://127.0.0.1:<port>/<token>`): every method.
Calls that change state are journaled before they run, so a restart replays them in the same place.
`evm_mine`, `evm_setAutomine`, `evm_setIntervalMining`, `evm_setNextBlockTimestamp` and
`evm_increaseTime` act on the gateway's block producer (the engine never mines by itself).

Block production: every `block_period` seconds, if a transaction arrived since the last block, the gateway
journals `{block n, timestamp}` and mines one block with every pending transaction. Period 0 is instant
mining: a block right after each transaction, and `eth_sendRawTransaction` answers once it is mined.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from eth_utils import keccak

from ledger_node.engine import Engine
from ledger_node.journal import Journal

log = logging.getLogger("citypoints.gateway")

REFUSED = -32004  # EIP-1474 "method not supported"

# Everything a client needs to read the chain and send signed transactions. Nothing here changes state.
PUBLIC_METHODS = frozenset("""
web3_clientVersion web3_sha3 net_version net_listening net_peerCount
eth_chainId eth_blockNumber eth_syncing eth_mining eth_hashrate eth_accounts eth_protocolVersion eth_coinbase
eth_gasPrice eth_maxPriorityFeePerGas eth_feeHistory eth_blobBaseFee
eth_getBalance eth_getCode eth_getStorageAt eth_getTransactionCount eth_getProof
eth_call eth_estimateGas eth_createAccessList eth_simulateV1
eth_getBlockByNumber eth_getBlockByHash eth_getBlockReceipts
eth_getBlockTransactionCountByNumber eth_getBlockTransactionCountByHash
eth_getTransactionByHash eth_getTransactionByBlockNumberAndIndex eth_getTransactionByBlockHashAndIndex
eth_getTransactionReceipt eth_getUncleCountByBlockNumber eth_getUncleCountByBlockHash
eth_getUncleByBlockNumberAndIndex eth_getUncleByBlockHashAndIndex
eth_getLogs eth_newFilter eth_newBlockFilter eth_newPendingTransactionFilter eth_getFilterChanges
eth_getFilterLogs eth_uninstallFilter
debug_traceTransaction debug_traceCall trace_transaction trace_block trace_filter trace_get
txpool_status txpool_content txpool_inspect
eth_sendRawTransaction
""".split())

# Operator methods the gateway itself implements (block production and its clock).
GATEWAY_METHODS = frozenset({"evm_mine", "evm_setAutomine", "evm_setIntervalMining", "evm_setNextBlockTimestamp",
                             "evm_increaseTime", "citypoints_status", "citypoints_snapshot", "citypoints_backup"})

# Operator methods that only read; everything else on the operator channel is journaled before it runs.
OPERATOR_READS = frozenset({"anvil_nodeInfo", "anvil_metadata", "anvil_getAutomine", "hardhat_metadata",
                            "anvil_dumpState", "debug_getRawTransaction", "debug_getRawBlock",
                            "debug_getRawReceipts", "debug_getRawHeader", "eth_getHeaderByNumber"})


def refusal(method: str, operator_hint: str) -> dict:
    return {"code": REFUSED,
            "message": f"{method} is refused on the public RPC: it can rewrite the chain's history or state, "
                       f"or needs keys the node does not hold. Sign transactions yourself and use "
                       f"eth_sendRawTransaction; operators use the operator channel ({operator_hint})."}


@dataclass
class ProducerState:
    height: int = 0
    last_timestamp: int = 0
    time_offset: int = 0
    next_timestamp: int | None = None
    dirty: bool = False             # a transaction arrived since the last block
    pending: dict[str, str] = field(default_factory=dict)  # journaled, not yet mined: hash -> raw


class Gateway:
    def __init__(self, engine: Engine, journal: Journal, *, block_period: float, operator_token: str,
                 snapshotter=None):
        self.engine = engine
        self.journal = journal
        self.block_period = block_period
        self.configured_period = block_period or 1.0
        self.operator_token = operator_token
        self.snapshotter = snapshotter      # async callable(gateway) -> str, None when the engine has none
        self.state = ProducerState()
        self.order_lock = asyncio.Lock()    # pool admission and journal order
        self.mine_lock = asyncio.Lock()     # one block (or one snapshot) at a time
        self._wake = asyncio.Event()
        self._durable_waiters: list[tuple[int, asyncio.Future]] = []
        self._mined_waiters: dict[str, asyncio.Future] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._producer: asyncio.Task | None = None
        self.operator_hint = "see ledger_node/README.md"
        self.stats = {"accepted": 0, "blocks": 0, "refused": 0}

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16),
                                              timeout=aiohttp.ClientTimeout(total=600))
        self.journal.on_durable = self._durable_from_thread
        await self.refresh()
        self._producer = asyncio.create_task(self._produce_blocks())

    async def stop_producing(self) -> None:
        if self._producer:
            self._producer.cancel()
            try:
                await self._producer
            except asyncio.CancelledError:
                pass
            self._producer = None
        async with self.mine_lock, self.order_lock:
            pass

    async def close(self) -> None:
        await self.stop_producing()
        if self._session:
            await self._session.close()

    async def refresh(self) -> None:
        block = await self.engine_call("eth_getBlockByNumber", ["latest", False])
        self.state.height = int(block["number"], 16)
        self.state.last_timestamp = int(block["timestamp"], 16)

    def public_app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
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
        try:
            body = await request.json(loads=json.loads)
        except ValueError:
            return web.json_response({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
        if isinstance(body, list):
            if not body:
                return web.json_response({"jsonrpc": "2.0", "id": None,
                                          "error": {"code": -32600, "message": "empty batch"}})
            answers = [await self.handle(item, operator=operator) for item in body]
            return web.json_response(answers, dumps=_dumps)
        return web.json_response(await self.handle(body, operator=operator), dumps=_dumps)

    # ---- one JSON-RPC request ----------------------------------------------------------------------------------

    async def handle(self, req: dict, *, operator: bool) -> dict:
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
        rid, method, params = req.get("id"), req["method"], req.get("params") or []
        try:
            if method == "eth_sendRawTransaction":
                return _answer(rid, await self.send_raw_transaction(params))
            if not operator:
                if method not in PUBLIC_METHODS:
                    self.stats["refused"] += 1
                    return {"jsonrpc": "2.0", "id": rid, "error": refusal(method, self.operator_hint)}
                return _answer(rid, await self.engine_request(method, params))
            if method in GATEWAY_METHODS:
                return _answer(rid, await self.gateway_method(method, params))
            if method in PUBLIC_METHODS or method in OPERATOR_READS:
                return _answer(rid, await self.engine_request(method, params))
            return _answer(rid, await self.admin(method, params))
        except GatewayError as exc:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": exc.code, "message": str(exc)}}

    async def send_raw_transaction(self, params: list) -> dict:
        """Admit to the pool, journal, fsync (shared with concurrent senders), then answer with the hash."""
        if not params or not isinstance(params[0], str):
            raise GatewayError(-32602, "eth_sendRawTransaction expects one hex string")
        raw = params[0]
        async with self.order_lock:
            answer = await self.engine_request("eth_sendRawTransaction", [raw])
            if "error" in answer:
                return answer
            tx_hash = answer["result"]
            seq = self.journal.append({"k": "tx", "raw": raw})
            self.state.pending[tx_hash] = raw
            self.state.dirty = True
            self.stats["accepted"] += 1
            mined = None
            if self.block_period == 0:
                mined = self._loop.create_future()
                self._mined_waiters[tx_hash] = mined
                self._wake.set()
        await self.durable(seq)
        if mined is not None:
            await mined
        return answer

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

    # ---- block production --------------------------------------------------------------------------------------

    async def _produce_blocks(self) -> None:
        while True:
            if self.block_period > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.block_period)
                except asyncio.TimeoutError:
                    pass
            else:
                await self._wake.wait()
            self._wake.clear()
            if self.state.dirty:
                try:
                    await self.mine_block()
                except Exception:  # the engine died or refused: the supervisor notices and stops
                    log.exception("mining failed")
                    await asyncio.sleep(0.5)

    async def mine_block(self, timestamp: int | None = None) -> dict:
        async with self.mine_lock:
            async with self.order_lock:
                number = self.state.height + 1
                ts = self._choose_timestamp(timestamp)
                seq = self.journal.append({"k": "block", "n": number, "ts": ts})
                await self.durable(seq)
                for method, params in self.engine.mine_params(ts):
                    await self.engine_call(method, params)
                block = await self.engine_call("eth_getBlockByNumber", [hex(number), False])
                self.state.height = number
                self.state.last_timestamp = ts
                self.state.next_timestamp = None
                txs = block["transactions"]
                for h in txs:
                    self.state.pending.pop(h, None)
                    waiter = self._mined_waiters.pop(h, None)
                    if waiter and not waiter.done():
                        waiter.set_result(None)
                # A full block leaves executable transactions behind: keep mining. An empty block means
                # what is left cannot run yet (a nonce gap): wait for the next transaction.
                self.state.dirty = bool(txs) and bool(self.state.pending)
                self.journal.append({"k": "mined", "n": number, "hash": block["hash"], "txs": len(txs)})
                self.stats["blocks"] += 1
                if self.state.dirty:  # the block was full: the backlog goes into the next one at once
                    self._wake.set()
                if not self.state.dirty:
                    for h, waiter in list(self._mined_waiters.items()):  # stuck: answer rather than hang
                        if not waiter.done():
                            waiter.set_result(None)
                    self._mined_waiters.clear()
                return block

    def _choose_timestamp(self, requested: int | None) -> int:
        if requested is None:
            requested = self.state.next_timestamp
        if requested is None:
            requested = int(time.time()) + self.state.time_offset
        ts = max(int(requested), self.state.last_timestamp + 1)
        return ts

    # ---- operator channel --------------------------------------------------------------------------------------

    async def gateway_method(self, method: str, params: list):
        if method == "evm_mine":
            ts = params[0] if params else None
            if isinstance(ts, dict):
                ts = ts.get("timestamp")
            if isinstance(ts, str):
                ts = int(ts, 16)
            await self.mine_block(ts)
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
                    "engine": self.engine.name, "journalSegment": self.journal.segment, **self.stats}
        if method == "citypoints_backup":
            from ledger_node.backup import BackupError, backup_running

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
        # evm_setNextBlockTimestamp / evm_increaseTime: the gateway's clock, journaled for replay
        async with self.order_lock:
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
        """An operator call that changes the engine's state: journal it, then run it, in chain order."""
        async with self.mine_lock, self.order_lock:
            seq = self.journal.append({"k": "admin", "method": method, "params": params})
            await self.durable(seq)
            answer = await self.engine_request(method, params)
            await self.refresh()
        if "error" in answer:
            raise GatewayError(answer["error"].get("code", -32000), answer["error"].get("message", "error"))
        return answer["result"]

    # ---- engine ------------------------------------------------------------------------------------------------

    async def engine_request(self, method: str, params: list) -> dict:
        """The engine's whole answer ({result} or {error}) to one call."""
        payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        try:
            async with self._session.post(self.engine.url, json=payload) as resp:
                return await resp.json(content_type=None, loads=json.loads)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise GatewayError(-32603, f"the ledger engine is not answering ({exc.__class__.__name__})") from exc

    async def engine_call(self, method: str, params: list):
        answer = await self.engine_request(method, params)
        if "error" in answer:
            raise GatewayError(answer["error"].get("code", -32000), f"{method}: {answer['error'].get('message')}")
        return answer["result"]


class GatewayError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def _answer(rid, answer) -> dict:
    if isinstance(answer, dict) and ("result" in answer or "error" in answer) and "jsonrpc" in answer:
        return {"jsonrpc": "2.0", "id": rid, **{k: v for k, v in answer.items() if k in ("result", "error")}}
    return {"jsonrpc": "2.0", "id": rid, "result": answer}


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def tx_hash(raw: str) -> str:
    return "0x" + keccak(bytes.fromhex(raw[2:] if raw.startswith("0x") else raw)).hex()
