"""The auditor's JSON-RPC: the project's one transport (ledger_node.jsonrpc: keep-alive HTTP, orjson, batches)
with the auditor's errors, batches cut to a size nodes take, and `eth_getLogs` over large adaptive block ranges.

The auditor trusts only what any node serves over JSON-RPC. It sends only idempotent reads, so a request whose
connection dropped is sent once more on a fresh one.
"""
from __future__ import annotations

from typing import Any, Iterator

from ledger_node.audit import AuditError
from ledger_node.jsonrpc import BatchRefused, HttpTransport, RetryPolicy, TransportFailure

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
        """Results of `calls` in order; an entry whose call failed is an RpcError instance (not raised)."""
        out: list[Any] = []
        for i in range(0, len(calls), chunk):
            part = calls[i:i + chunk]
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
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs",
                "params": [{"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}]}
        return self._send(lambda: self._http.post(body, ["eth_getLogs"]))

    def close(self) -> None:
        self._http.close()

    def _send(self, request):
        try:
            return request()
        except TransportFailure as exc:
            raise AuditError(f"no JSON-RPC answer from {self.url}: {exc}") from exc
