"""The one JSON-RPC transport over HTTP: every client of a node (the SDK, the API's chain client, the auditor, the
node's own start-up probes and status, the benches) sends through here.

`HttpTransport` (blocking: each thread keeps its own keep-alive connection) and `AsyncHttpTransport` (aiohttp: one
pool of keep-alive connections that concurrent requests share) do the same three things the same way:

- `call(method, params)` is one request, `batch(calls)` a JSON-RPC batch; both return the node's answers as they
  came (`{"result": ...}` or `{"error": ...}`), a batch's in the order of its calls. What an error means is the
  caller's to say (the SDK raises its typed errors, the auditor its own, the node tools a NodeError).
- A request whose transport failed (refused, dropped, timed out, not HTTP 200) is tried again only when every
  method in it is idempotent under the `RetryPolicy`, with pauses that double; after the last try it raises
  `TransportFailure`. Nothing is ever re-signed here: resending a signed transaction sends the same bytes, so the
  same transaction (same hash, same nonce), which the node either takes or already has.
- Bodies are encoded and decoded with orjson (answers hold hex quantities, never large JSON numbers).
- `HttpTransport.send` sends a request now and reads its answer later, each on a keep-alive connection of its own,
  so a caller keeps the node busy without a thread (the auditor's log pipeline).

This module imports nothing of the project but its root exception: the node's own part may use it.
"""
from __future__ import annotations

import asyncio
import http.client
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import urlsplit

import orjson

from ledger_node.errors import LedgerNodeError

READ_METHODS = frozenset({
    "eth_chainId", "eth_blockNumber", "eth_call", "eth_getTransactionCount", "eth_getTransactionReceipt",
    "eth_getTransactionByHash", "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getLogs", "eth_estimateGas",
    "eth_getCode", "eth_getBalance", "eth_getStorageAt", "eth_gasPrice", "net_version", "web3_clientVersion",
})


@dataclass(frozen=True)
class RetryPolicy:
    """How a request whose transport failed is tried again: the one place retries are configured."""

    attempts: int = 4  # tries in all, for an idempotent request whose transport failed
    backoff_s: float = 0.05  # first pause; doubles each time
    max_backoff_s: float = 2.0
    idempotent_methods: frozenset[str] = field(default_factory=lambda: READ_METHODS | {"eth_sendRawTransaction"})
    every_method_idempotent: bool = False  # a reader that sends only reads (the auditor) retries whatever it sends

    def retries(self, methods: list[str]) -> bool:
        return self.every_method_idempotent or all(m in self.idempotent_methods for m in methods)

    def pauses(self) -> Iterator[float]:
        pause = self.backoff_s
        for _ in range(self.attempts - 1):
            yield pause
            pause = min(pause * 2, self.max_backoff_s)


NO_RETRY = RetryPolicy(attempts=1)


class TransportFailure(LedgerNodeError, ConnectionError):
    """No answer from the node: the request could not be sent, or its answer did not come back (after the retries
    the policy allows). `methods` names what was asked."""

    def __init__(self, message: str, *, url: str, methods: list[str]):
        super().__init__(message)
        self.url = url
        self.methods = methods


class BatchRefused(LedgerNodeError):
    """The node answered a batch with one error for the whole of it (too large, over a limit) rather than an
    answer per call."""

    def __init__(self, error: dict):
        super().__init__(f"batch refused: {error.get('message', error)}")
        self.error = error


class _Requests:
    """Request bodies with fresh ids, and a batch's answers put back in the order of its calls."""

    def __init__(self):
        self._ids = itertools.count(1)

    def one(self, method: str, params: list | None) -> dict:
        return {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}

    def many(self, calls: list[tuple[str, list]]) -> list[dict]:
        return [self.one(m, p) for m, p in calls]

    @staticmethod
    def in_order(body: list[dict], answers) -> list[dict]:
        if isinstance(answers, dict):
            raise BatchRefused(answers.get("error") or {"code": -32600, "message": str(answers)})
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        return [by_id.get(r["id"], {"id": r["id"], "error": {"code": -32603, "message": "no answer in the batch"}})
                for r in body]


def error_fields(error) -> tuple[str, int | None, object]:
    """(message, code, data) of an answer's `error`; `data` unwrapped where a node nests it ({"data": "0x..."})."""
    if not isinstance(error, dict):
        return str(error), None, None
    data = error.get("data")
    if isinstance(data, dict):
        data = data.get("data")
    return str(error.get("message", error)), error.get("code"), data


def revert_data(data) -> str | None:
    """The revert's ABI-encoded error (0x + selector + arguments) when `data` holds one."""
    return data if isinstance(data, str) and data.startswith("0x") and len(data) >= 10 else None


def _failure(url: str, methods: list[str], exc: BaseException) -> TransportFailure:
    return TransportFailure(f"{'/'.join(sorted(set(methods)))} to {url} failed: {type(exc).__name__}: {exc}",
                            url=url, methods=methods)


_SYNC_FAILURES = (OSError, http.client.HTTPException, socket.timeout)


class HttpTransport:
    """Blocking JSON-RPC over HTTP(S); thread-safe, each thread keeps its own keep-alive connection."""

    def __init__(self, url: str, *, timeout: float = 60.0, retry: RetryPolicy | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"a JSON-RPC URL is http(s)://..., not {url!r}")
        self.url = url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.requests = 0  # HTTP requests answered (the audit reports it)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        self._bodies = _Requests()
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._all_lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []  # connections of answered `send`s, kept alive

    def call(self, method: str, params: list | None = None) -> dict:
        """The node's answer to one request."""
        return orjson.loads(self.post(self._bodies.one(method, params), [method]))

    def batch(self, calls: list[tuple[str, list]]) -> list[dict]:
        """The node's answers to a JSON-RPC batch, in the order of `calls` (BatchRefused: no answer per call)."""
        if not calls:
            return []
        body = self._bodies.many(calls)
        return _Requests.in_order(body, orjson.loads(self.post(body, [m for m, _ in calls])))

    def post(self, body, methods: list[str]) -> bytes:
        """Send an encoded-or-not request body; the answer's undecoded bytes."""
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        pauses = self.retry.pauses() if self.retry.retries(methods) else iter(())
        while True:
            try:
                return self._post(payload)
            except _SYNC_FAILURES as exc:
                self._reset_connection()
                pause = next(pauses, None)
                if pause is None:
                    raise _failure(self.url, methods, exc) from exc
                time.sleep(pause)

    def send(self, body, methods: list[str]) -> "PendingPost":
        """Send a request now and read its answer later (`PendingPost.read()`), on a connection of its own: the node
        works on it while the caller does something else (the auditor decodes one range of logs while the node
        serves the next, with no thread). Read the answers of one thread's sends in any order."""
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        conn = self._idle.pop() if self._idle else None
        try:
            if conn is None:
                conn = self._open()
            conn.request("POST", self._path, body=payload,
                         headers={"Content-Type": "application/json", "Connection": "keep-alive"})
        except _SYNC_FAILURES:
            self._forget(conn)
            conn = None  # read() sends it again the ordinary way
        return PendingPost(self, conn, payload, methods)

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
        self._idle = []

    def drop_connections(self) -> None:
        """Shut the sockets under every thread's feet (tests make a dropped connection with it)."""
        with self._all_lock:
            for conn in self._all:
                if conn.sock is not None:
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def _post(self, payload: bytes) -> bytes:
        conn = self._connection()
        conn.request("POST", self._path, body=payload,
                     headers={"Content-Type": "application/json", "Connection": "keep-alive"})
        resp = conn.getresponse()
        data = resp.read()
        self.requests += 1
        if resp.status != 200:
            raise http.client.HTTPException(f"HTTP {resp.status}: {data[:200]!r}")
        if resp.will_close:
            self._reset_connection()
        return data

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _forget(self, conn: http.client.HTTPConnection | None) -> None:
        if conn is not None:
            conn.close()
            with self._all_lock:
                if conn in self._all:
                    self._all.remove(conn)

    def _reset_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._all_lock:
                if conn in self._all:
                    self._all.remove(conn)


class PendingPost:
    """A request `HttpTransport.send` has sent; `read()` waits for its answer (bytes, undecoded). When its
    connection failed, the request is sent again the ordinary way (`post`, under the retry policy)."""

    def __init__(self, transport: HttpTransport, conn: http.client.HTTPConnection | None, payload: bytes,
                 methods: list[str]):
        self._transport, self._conn, self._payload, self._methods = transport, conn, payload, methods

    def cancel(self) -> None:
        """Drop the request unread (its connection is closed)."""
        conn, self._conn = self._conn, None
        self._transport._forget(conn)

    def read(self) -> bytes:
        t, conn = self._transport, self._conn
        self._conn = None
        failure: BaseException = ConnectionError("the request could not be sent")
        if conn is not None:
            try:
                resp = conn.getresponse()
                data = resp.read()
                t.requests += 1
                if resp.status == 200:
                    if resp.will_close:
                        t._forget(conn)
                    else:
                        t._idle.append(conn)
                    return data
                failure = http.client.HTTPException(f"HTTP {resp.status}: {data[:200]!r}")
            except _SYNC_FAILURES as exc:
                failure = exc
            t._forget(conn)
        if not t.retry.retries(self._methods):
            raise _failure(t.url, self._methods, failure)
        return t.post(self._payload, self._methods)


class AsyncHttpTransport:
    """JSON-RPC over aiohttp: one pool of keep-alive connections that concurrent requests share. The session is
    made on first use, in the loop that uses it (httpx cost more CPU than the requests themselves once dozens were
    in flight)."""

    def __init__(self, url: str, *, timeout: float = 60.0, retry: RetryPolicy | None = None, connections: int = 64):
        self.url = url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.connections = connections
        self._bodies = _Requests()
        self._session = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, method: str, params: list | None = None) -> dict:
        return await self._post(self._bodies.one(method, params), [method])

    async def batch(self, calls: list[tuple[str, list]]) -> list[dict]:
        if not calls:
            return []
        body = self._bodies.many(calls)
        return _Requests.in_order(body, await self._post(body, [m for m, _ in calls]))

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _client(self):
        import aiohttp  # only an async caller pays for importing it

        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._loop = loop
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def _post(self, body, methods: list[str]):
        import aiohttp

        pauses = self.retry.pauses() if self.retry.retries(methods) else iter(())
        content = orjson.dumps(body)
        while True:
            try:
                async with self._client().post(self.url, data=content,
                                               headers={"Content-Type": "application/json"}) as resp:
                    raw = await resp.read()
                    if resp.status != 200:
                        raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status,
                                                          message=raw[:200].decode(errors="replace"))
                    return orjson.loads(raw)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                pause = next(pauses, None)
                if pause is None:
                    raise _failure(self.url, methods, exc) from exc
                await asyncio.sleep(pause)


def request(url: str, method: str, params: list | None = None, *, timeout: float = 30.0) -> dict:
    """One request on a connection of its own, not retried (probes: is a node answering there?)."""
    transport = HttpTransport(url, timeout=timeout, retry=NO_RETRY)
    try:
        return transport.call(method, params)
    finally:
        transport.close()
