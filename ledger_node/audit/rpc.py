"""A small, fast JSON-RPC client for the auditor: one keep-alive HTTP connection, orjson when installed,
JSON-RPC batches, and `eth_getLogs` over large adaptive block ranges.

Only idempotent reads go through here, so a dropped connection is retried once on a fresh one.
"""
from __future__ import annotations

import http.client
import itertools
from typing import Any, Iterator
from urllib.parse import urlparse

from ledger_node.audit import AuditError

try:  # orjson parses the big eth_getLogs answers 3-5x faster than json
    import orjson as _json

    def _dumps(obj) -> bytes:
        return _json.dumps(obj)
except ImportError:  # pragma: no cover - fallback keeps the auditor dependency-free
    import json as _json

    def _dumps(obj) -> bytes:
        return _json.dumps(obj, separators=(",", ":")).encode()

_loads = _json.loads


class RpcError(AuditError):
    """The node answered a request with an error."""

    def __init__(self, method: str, error: dict):
        super().__init__(f"{method}: {error.get('message', error)}")
        self.method = method
        self.code = error.get("code")
        self.message = str(error.get("message", ""))


# Messages nodes use when a log query is too large (anvil, geth, Besu, Alchemy-style).
_TOO_LARGE = ("too many", "more than", "limit", "range", "exceed", "too large", "response size")


class Rpc:
    def __init__(self, url: str, timeout: float = 300.0):
        u = urlparse(url)
        self.url = url
        self._host, self._port = u.hostname or "127.0.0.1", u.port or (443 if u.scheme == "https" else 80)
        self._path = u.path or "/"
        self._https = u.scheme == "https"
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._ids = itertools.count(1)
        self.requests = 0

    # --------------------------------------------------------------------------------------------
    # Public
    # --------------------------------------------------------------------------------------------

    def call(self, method: str, params: list | None = None) -> Any:
        answer = _loads(self.raw({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}))
        if "error" in answer:
            raise RpcError(method, answer["error"])
        return answer["result"]

    def batch(self, calls: list[tuple[str, list]], chunk: int = 500) -> list[Any]:
        """Results of `calls` in order; an entry whose call failed is an RpcError instance (not raised)."""
        out: list[Any] = []
        for i in range(0, len(calls), chunk):
            part = calls[i:i + chunk]
            base = next(self._ids) * 100_000
            body = [{"jsonrpc": "2.0", "id": base + k, "method": m, "params": p} for k, (m, p) in enumerate(part)]
            answer = _loads(self.raw(body))
            if isinstance(answer, dict):  # the node refused the whole batch
                raise RpcError("batch", answer.get("error", {"message": str(answer)}))
            by_id = {a["id"]: a for a in answer}
            for k, (m, _) in enumerate(part):
                a = by_id.get(base + k)
                if a is None:
                    out.append(RpcError(m, {"message": "no answer in batch"}))
                elif "error" in a:
                    out.append(RpcError(m, a["error"]))
                else:
                    out.append(a["result"])
        return out

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def iter_logs(self, addresses: list[str], from_block: int, to_block: int, step: int = 10_000
                  ) -> Iterator[tuple[int, int, list[dict]]]:
        """Yield (from, to, logs) for consecutive ranges covering [from_block, to_block], every address at once.
        The range halves when the node refuses a query as too large and grows back after successes."""
        start, size = from_block, max(1, step)
        while start <= to_block:
            end = min(to_block, start + size - 1)
            try:
                logs = self.get_logs(addresses, start, end)
            except RpcError as exc:
                if size > 1 and any(w in exc.message.lower() for w in _TOO_LARGE):
                    size = max(1, size // 2)
                    continue
                raise
            yield start, end, logs
            start = end + 1
            if size < step:
                size = min(step, size * 2)

    def get_logs(self, addresses: list[str], from_block: int, to_block: int) -> list[dict]:
        return self.call("eth_getLogs", [{"address": addresses, "fromBlock": hex(from_block),
                                          "toBlock": hex(to_block)}])

    def get_logs_raw(self, addresses: list[str], from_block: int, to_block: int) -> bytes:
        """The undecoded answer body (the benchmark's measure of the node's own limit)."""
        return self.raw({"jsonrpc": "2.0", "id": next(self._ids), "method": "eth_getLogs",
                         "params": [{"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}]})

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --------------------------------------------------------------------------------------------
    # Transport
    # --------------------------------------------------------------------------------------------

    def raw(self, payload) -> bytes:
        body = _dumps(payload)
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request("POST", self._path, body, {"Content-Type": "application/json",
                                                        "Connection": "keep-alive"})
                resp = conn.getresponse()
                data = resp.read()
                self.requests += 1
                if resp.status != 200:
                    raise AuditError(f"{self.url} answered HTTP {resp.status}: {data[:200]!r}")
                return data
            except (http.client.HTTPException, ConnectionError, OSError) as exc:
                self.close()
                if attempt:
                    raise AuditError(f"no JSON-RPC answer from {self.url}: {exc}") from exc
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn
