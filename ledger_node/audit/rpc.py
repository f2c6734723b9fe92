"""The auditor's JSON-RPC: the project's one transport (ledger_node.jsonrpc: keep-alive HTTP, orjson, batches)
with the auditor's errors, batches cut to a size nodes take, and `eth_getLogs` (the ranges: pipeline.py).

The auditor trusts only what any node serves over JSON-RPC. It sends only idempotent reads, so a request whose
connection dropped is sent once more on a fresh one.
"""
from __future__ import annotations

from typing import Any

import orjson

from ledger_node.audit import AuditError
from ledger_node.jsonrpc import BatchRefused, HttpTransport, PendingPost, RetryPolicy, TransportFailure

_READS_RETRIED_ONCE = RetryPolicy(attempts=2, backoff_s=0.0, every_method_idempotent=True)


class RpcError(AuditError):
    """The node answered a request with an error."""

    def __init__(self, method: str, error: dict):
        super().__init__(f"{method}: {error.get('message', error)}")
        self.method = method
        self.code = error.get("code")
        self.message = str(error.get("message", ""))


# Messages nodes use when a log query is too large (anvil, geth, Besu, Alchemy-style).
_TOO_LARGE = ("too many", "more than", "limit", "range", "exceed", "too large", "response size")


def too_large(error: RpcError) -> bool:
    """Whether the node refused a log query as too large (a smaller range may pass)."""
    return any(w in error.message.lower() for w in _TOO_LARGE)


# Messages nodes use when the state of a block is no longer kept (anvil with --prune-history, geth and Besu
# without an archive: "missing trie node", "state ... not available", "historical state ... is not available").
_STATE_GONE = ("blockoutofrange", "missing trie node", "state not available", "historical state", "state unavailable",
               "pruned")


def state_not_kept(error: RpcError) -> bool:
    """Whether the node refused a read at a block because it no longer keeps that block's state."""
    return any(w in error.message.lower().replace("_", "").replace("-", "") for w in _STATE_GONE)


BATCH_BYTES = 4_000_000


def _parts(calls: list[tuple[str, list]], chunk: int):
    """`calls` cut in order into lists of at most `chunk` calls whose params take about BATCH_BYTES at most (a call
    larger than that goes alone)."""
    part, size = [], 0
    for c in calls:
        n = len(orjson.dumps(c[1]))
        if part and (len(part) >= chunk or size + n > BATCH_BYTES):
            yield part
            part, size = [], 0
        part.append(c)
        size += n
    if part:
        yield part


class Rpc:
    def __init__(self, url: str, timeout: float = 300.0):
        self.url = url
        self._http = HttpTransport(url, timeout=timeout, retry=_READS_RETRIED_ONCE)

    @property
    def requests(self) -> int:
        """HTTP requests answered so far (the report counts them)."""
        return self._http.requests

    # --------------------------------------------------------------------------------------------
    # Public
    # --------------------------------------------------------------------------------------------

    def call(self, method: str, params: list | None = None) -> Any:
        answer = self._send(lambda: self._http.call(method, params))
        if "error" in answer:
            raise RpcError(method, answer["error"])
        return answer["result"]

    def batch(self, calls: list[tuple[str, list]], chunk: int = 500) -> list[Any]:
        """Results of `calls` in order; an entry whose call failed is an RpcError instance (not raised). At most
        `chunk` calls and about BATCH_BYTES of params a request: the durable node's public RPC refuses bodies over
        10 MB, which 1,000 state checks of 2,000 balances each (50,000 residents) passed."""
        out: list[Any] = []
        for part in _parts(calls, chunk):
            try:
                answers = self._send(lambda: self._http.batch(part))
            except BatchRefused as exc:
                raise RpcError("batch", exc.error) from exc
            out.extend(RpcError(m, a["error"]) if "error" in a else a["result"] for (m, _), a in zip(part, answers))
        return out

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def get_logs(self, addresses: list[str], from_block: int, to_block: int) -> list[dict]:
        return self.call("eth_getLogs", [{"address": addresses, "fromBlock": hex(from_block),
                                          "toBlock": hex(to_block)}])

    def get_logs_raw(self, addresses: list[str], from_block: int, to_block: int) -> bytes:
        """The undecoded answer body (the benchmark's measure of the node's own limit)."""
        return self._send(lambda: self._http.post(_logs_body(addresses, from_block, to_block), ["eth_getLogs"]))

    def get_logs_later(self, addresses: list[str], from_block: int, to_block: int) -> PendingPost:
        """Send `eth_getLogs` now; `read()` on what is returned waits for its undecoded answer (the node serves it
        while the caller works: pipeline.py), `cancel()` drops it."""
        return self._send(lambda: self._http.send(_logs_body(addresses, from_block, to_block), ["eth_getLogs"]))

    def read_later(self, pending: PendingPost) -> bytes:
        """The answer of a request sent by `get_logs_later` (a transport failure is an AuditError)."""
        return self._send(pending.read)

    def close(self) -> None:
        self._http.close()

    def _send(self, request):
        try:
            return request()
        except TransportFailure as exc:
            raise AuditError(f"no JSON-RPC answer from {self.url}: {exc}") from exc


def _logs_body(addresses: list[str], from_block: int, to_block: int) -> dict:
    return {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs",
            "params": [{"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}]}
