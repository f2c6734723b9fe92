"""JSON-RPC over persistent HTTP connections, with the SDK's one retry policy.

Only idempotent requests are retried: reads, and `eth_sendRawTransaction` of the *same signed bytes*
(a second copy of a transaction is the same transaction: same hash, same nonce; the node either
takes it or says it already has it). Nothing is ever re-signed by a retry here.
"""
from __future__ import annotations

import http.client
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from issuer_sdk import errors


@dataclass(frozen=True)
class RetryPolicy:
    """The one place retries are configured (ClientConfig.retry)."""

    attempts: int = 4  # tries in all, for an idempotent request whose transport failed
    backoff_s: float = 0.05  # first pause; doubles each time
    max_backoff_s: float = 2.0
    idempotent_methods: frozenset[str] = field(default_factory=lambda: frozenset({
        "eth_chainId", "eth_blockNumber", "eth_call", "eth_getTransactionCount", "eth_getTransactionReceipt",
        "eth_getTransactionByHash", "eth_getBlockByNumber", "eth_getLogs", "eth_estimateGas", "eth_getCode",
        "net_version", "eth_sendRawTransaction",
    }))

    def pauses(self):
        pause = self.backoff_s
        for _ in range(self.attempts - 1):
            yield pause
            pause = min(pause * 2, self.max_backoff_s)


_TRANSPORT_FAILURES = (OSError, http.client.HTTPException, socket.timeout)


class RpcTransport:
    """Thread-safe: each thread keeps its own keep-alive connection to the node."""

    def __init__(self, url: str, *, timeout: float = 60.0, retry: RetryPolicy | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise errors.ConfigurationError(f"RPC URL must be http(s)://, got {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._local = threading.local()
        self._ids = itertools.count(1)
        self._all: list[http.client.HTTPConnection] = []
        self._all_lock = threading.Lock()

    # -- public --------------------------------------------------------------------------------------------

    def call(self, method: str, params: list | None = None, *, attempted: dict | None = None):
        """One request; returns `result` or raises RpcError / ContractError (revert data) / TransportError."""
        answer = self._send_with_retry([method], {"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                                                  "params": params or []}, attempted)
        return unwrap(answer, method, attempted)

    def batch(self, calls: list[tuple[str, list]], *, attempted: dict | None = None) -> list[dict]:
        """A JSON-RPC batch; returns the raw answers (each with `result` or `error`) in the order of `calls`."""
        if not calls:
            return []
        first = next(self._ids)
        body = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        for _ in range(len(calls) - 1):
            next(self._ids)
        answers = self._send_with_retry([m for m, _ in calls], body, attempted)
        if isinstance(answers, dict):  # the node refused the batch as a whole
            raise errors.RpcError(f"batch refused: {answers.get('error')}", attempted=attempted)
        by_id = {a.get("id"): a for a in answers}
        return [by_id.get(first + i, {"error": {"code": -32603, "message": "no answer"}}) for i in range(len(calls))]

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    def drop_connections(self) -> None:
        """Close the sockets under every thread's feet (tests simulate a dropped connection with it)."""
        with self._all_lock:
            for conn in self._all:
                if conn.sock is not None:
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    # -- internals -----------------------------------------------------------------------------------------

    def _send_with_retry(self, methods: list[str], body, attempted):
        retryable = all(m in self.retry.idempotent_methods for m in methods)
        payload = json.dumps(body, separators=(",", ":")).encode()
        pauses = self.retry.pauses() if retryable else iter(())
        while True:
            try:
                return self._post(payload)
            except _TRANSPORT_FAILURES as exc:
                self._reset_connection()
                pause = next(pauses, None)
                if pause is None:
                    raise errors.TransportError(
                        f"{'/'.join(sorted(set(methods)))} to {self.url} failed: {type(exc).__name__}: {exc}",
                        attempted=attempted, sent=None) from exc
                time.sleep(pause)

    def _post(self, payload: bytes):
        conn = self._connection()
        conn.request("POST", self._path, body=payload,
                     headers={"Content-Type": "application/json", "Connection": "keep-alive"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise http.client.HTTPException(f"HTTP {resp.status}: {data[:200]!r}")
        if resp.will_close:
            self._reset_connection()
        return json.loads(data)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _reset_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._all_lock:
                if conn in self._all:
                    self._all.remove(conn)


def unwrap(answer: dict, method: str, attempted: dict | None = None):
    """`result` of one JSON-RPC answer, or the matching IssuerError."""
    if "error" not in answer or answer["error"] is None:
        return answer.get("result")
    err = answer["error"]
    data = err.get("data") if isinstance(err, dict) else None
    if isinstance(data, dict):
        data = data.get("data")
    message = err.get("message", str(err)) if isinstance(err, dict) else str(err)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        raise errors.from_revert_data(data, attempted=attempted)
    if "revert" in message.lower():
        raise errors.from_revert_data(None, attempted=attempted)
    raise errors.RpcError(f"{method}: {message}", rpc_code=err.get("code") if isinstance(err, dict) else None,
                          rpc_message=message, data=data, attempted=attempted)
