"""Clients never see a block the journal could lose.

The gateway mines while it keeps admitting transactions, so which pending transactions a block takes is known
only once the engine has mined it; the gateway then journals the block (its transactions in order) and waits
for the fsync. A client that saw the block before that record was durable could see it vanish, or come back
different, after a `kill -9`.

So the gate is closed from the moment the gateway asks the engine to mine until the block's record is durable,
and an engine's answer that arrives while it is closed is held until it opens: such an answer may show the new
block, and once the gate opens the block is durable. Answers that arrive while it is open were given before the
block was asked for, or after it became durable. Reads themselves run on; only their answers wait, and most
need not: "latest" is pinned to the last journaled block (`pinned`), and a read that names only journaled blocks,
or a transaction that cannot be in the block being journaled, is answered at once (`shows_only_journaled`).
What still waits, at most one block's mining: "pending" state, filters' changes, traces, the pool.

If a block fails half-way, the engine's chain is no longer known to match the journal: the gate fails, every
held or later answer is refused, and the supervisor stops the node (restart replays the journal).
"""
from __future__ import annotations

import asyncio
import contextlib


class GateFailed(Exception):
    """A block failed half-way; nothing the engine says can be shown any more."""


class ReadGate:
    def __init__(self):
        self._open = asyncio.Event()
        self._open.set()
        self.failure: str | None = None

    async def release(self) -> None:
        """Return once an engine's answer that has just arrived may be shown."""
        await self._open.wait()  # set, then perhaps closed again by the next block: that one was asked for later
        if self.failure:
            raise GateFailed(f"the node is stopping: {self.failure}")

    @contextlib.asynccontextmanager
    async def closed(self):
        self._open.clear()
        try:
            yield
        except BaseException as exc:
            self.failure = f"a block failed half-way ({exc.__class__.__name__}: {exc})"
            raise
        finally:
            self._open.set()


# Reads that name a block, and where: one that says "latest" (or nothing, where that means latest) is pinned to
# the last journaled block, so its answer cannot show a block still being journaled and need not wait.
BLOCK_PARAM = {"eth_getBalance": 1, "eth_getCode": 1, "eth_getTransactionCount": 1, "eth_getStorageAt": 2,
               "eth_call": 1, "eth_getProof": 2, "eth_getBlockByNumber": 0, "eth_getBlockReceipts": 0,
               "eth_getBlockTransactionCountByNumber": 0, "eth_getTransactionByBlockNumberAndIndex": 0,
               "eth_feeHistory": 1, "debug_traceCall": 1}
OMITTED_MEANS_LATEST = frozenset({"eth_getBalance", "eth_getCode", "eth_getTransactionCount", "eth_getStorageAt",
                                  "eth_call", "eth_getProof"})
LATEST = frozenset({"latest", "safe", "finalized"})
# Reads of one transaction by its hash: the answer changes only when its block is journaled.
BY_HASH = frozenset({"eth_getTransactionReceipt", "eth_getTransactionByHash"})
# Reads that never show a block: the chain's constants, and blocks by hash (no one knows an unshown block's hash).
NO_BLOCK = frozenset({"eth_chainId", "net_version", "web3_clientVersion", "web3_sha3", "eth_getBlockByHash",
                      "eth_getBlockTransactionCountByHash", "eth_getTransactionByBlockHashAndIndex"})


def pinned(method: str, params: list, height: int) -> list:
    """`params` with "latest" replaced by the last journaled block (`height`)."""
    if method == "eth_getLogs" and params and isinstance(params[0], dict) and "blockHash" not in params[0]:
        query = dict(params[0])
        for key in ("fromBlock", "toBlock"):
            if query.get(key, "latest") in LATEST:
                query[key] = hex(height)
        return [query, *params[1:]]
    at = BLOCK_PARAM.get(method)
    if at is None:
        return params
    if len(params) > at and params[at] in LATEST:
        return [*params[:at], hex(height), *params[at + 1:]]
    if len(params) == at and method in OMITTED_MEANS_LATEST:
        return [*params, hex(height)]
    return params


def shows_only_journaled(method: str, params: list, height: int, unjournaled) -> bool:
    """Can this (pinned) read's answer show nothing beyond block `height`, whenever the engine gives it?
    `unjournaled(tx_hash)`: may that transaction be in a block not yet journaled (pending, in flight, or in the
    block being journaled)? A transaction is always one of those from the engine's pool to its block's record."""
    if method in NO_BLOCK:
        return True
    if method in BY_HASH:
        return bool(params) and isinstance(params[0], str) and not unjournaled(params[0].lower())
    if method == "eth_getLogs":
        query = params[0] if params and isinstance(params[0], dict) else {}
        return "blockHash" in query or all(_at_most(query.get(key), height) for key in ("fromBlock", "toBlock"))
    at = BLOCK_PARAM.get(method)
    return at is not None and len(params) > at and _at_most(params[at], height)


def _at_most(block, height: int) -> bool:
    if isinstance(block, dict):           # EIP-1898: by hash, or by number
        return "blockHash" in block or _at_most(block.get("blockNumber"), height)
    if block == "earliest":
        return True
    try:
        return int(block, 16) <= height
    except (TypeError, ValueError):
        return False
