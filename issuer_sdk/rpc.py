"""The SDK's JSON-RPC: the project's one transport (ledger_node.jsonrpc: keep-alive connections, batches, the one
retry policy) with the node's answers turned into the SDK's typed errors.

Only idempotent requests are retried: reads, and `eth_sendRawTransaction` of the *same signed bytes*
(a second copy of a transaction is the same transaction: same hash, same nonce; the node either
takes it or says it already has it). Nothing is ever re-signed by a retry here.
"""
from __future__ import annotations

from ledger_node.jsonrpc import (AsyncHttpTransport, BatchRefused, HttpTransport, RetryPolicy, TransportFailure,
                                 error_fields, revert_data)

from issuer_sdk import errors

__all__ = ["RetryPolicy", "RpcTransport", "AsyncRpcTransport", "unwrap"]


def _sdk_error(exc: Exception, attempted: dict | None) -> errors.IssuerError:
    if isinstance(exc, BatchRefused):
        return errors.RpcError(str(exc), attempted=attempted)
    return errors.TransportError(str(exc), attempted=attempted, sent=None)


class RpcTransport:
    """Thread-safe: each thread keeps its own keep-alive connection to the node."""

    def __init__(self, url: str, *, timeout: float = 60.0, retry: RetryPolicy | None = None):
        try:
            self._http = HttpTransport(url, timeout=timeout, retry=retry)
        except ValueError as exc:
            raise errors.ConfigurationError(f"RPC URL must be http(s)://, got {url!r}") from exc
        self.url, self.timeout, self.retry = url, timeout, self._http.retry

    def call(self, method: str, params: list | None = None, *, attempted: dict | None = None):
        """One request; returns `result` or raises RpcError / ContractError (revert data) / TransportError."""
        try:
            answer = self._http.call(method, params)
        except TransportFailure as exc:
            raise _sdk_error(exc, attempted) from exc
        return unwrap(answer, method, attempted)

    def batch(self, calls: list[tuple[str, list]], *, attempted: dict | None = None) -> list[dict]:
        """A JSON-RPC batch; returns the raw answers (each with `result` or `error`) in the order of `calls`."""
        try:
            return self._http.batch(calls)
        except (TransportFailure, BatchRefused) as exc:
            raise _sdk_error(exc, attempted) from exc

    def close(self) -> None:
        self._http.close()

    def drop_connections(self) -> None:
        """Close the sockets under every thread's feet (tests simulate a dropped connection with it)."""
        self._http.drop_connections()


class AsyncRpcTransport:
    """The asynchronous twin of RpcTransport (one aiohttp pool of keep-alive connections)."""

    def __init__(self, url: str, *, timeout: float, retry: RetryPolicy, connections: int = 64):
        self._http = AsyncHttpTransport(url, timeout=timeout, retry=retry, connections=connections)
        self.url, self.timeout, self.retry = url, timeout, retry

    async def call(self, method: str, params: list | None = None, *, attempted: dict | None = None):
        try:
            answer = await self._http.call(method, params)
        except TransportFailure as exc:
            raise _sdk_error(exc, attempted) from exc
        return unwrap(answer, method, attempted)

    async def batch(self, calls: list[tuple[str, list]], *, attempted: dict | None = None) -> list[dict]:
        try:
            return await self._http.batch(calls)
        except (TransportFailure, BatchRefused) as exc:
            raise _sdk_error(exc, attempted) from exc

    async def aclose(self) -> None:
        await self._http.aclose()


def unwrap(answer: dict, method: str, attempted: dict | None = None):
    """`result` of one JSON-RPC answer, or the matching IssuerError."""
    if answer.get("error") is None:
        return answer.get("result")
    message, code, data = error_fields(answer["error"])
    if revert_data(data):
        raise errors.from_revert_data(data, attempted=attempted)
    if "revert" in message.lower():
        raise errors.from_revert_data(None, attempted=attempted)
    raise errors.RpcError(f"{method}: {message}", rpc_code=code, rpc_message=message, data=data, attempted=attempted)
