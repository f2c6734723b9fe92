"""Clients never see a block the journal could lose (`ReadGate`), and reads never hold up blocks or sends
(`ReadLimiter`, at the end).

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
import time

from ledger_node.errors import LedgerNodeError


class GateFailed(LedgerNodeError):
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


# ---- which reads reach the engine, and when ------------------------------------------------------------------------
#
# Reads, sends and block production share the engine. anvil cannot mine while an `eth_call` runs (a call of
# 50,000,000 gas hashing memory took it 1.2 s here, and `evm_mine` waited for it), and a read holds one of the
# gateway's connections to the engine while it runs. So public reads go through `ReadLimiter`: at most `slots` of
# them on the engine at once (sends and mining never wait for one of those: they have the other connections), at
# most `long_slots` long EVM reads (predicted from the client's last ones; a client's first one counts as long), a
# long read starts only if it should end before the next block is due, the producer mines once none runs, and each
# source address has at most `per_client` reads admitted at once. Long reads together hold the engine at most
# `long_share` of the time (a token bucket of engine seconds): the rest of a core is the sends', the blocks' and the
# operator's services'. When a slot frees, the waiting client that used
# the engine least lately goes first, so a flood from some addresses does not queue the others' reads behind it.
# `trusted` addresses (the operator's own services) are never refused nor held back as long.

LIMIT_EXCEEDED = -32005  # EIP-1474 "limit exceeded"
READ_WAIT_S = 5.0        # a read that found no turn within this long is answered LIMIT_EXCEEDED
LONG_READ_S = 0.1        # an EVM read predicted to take this long is a long read
HALF_LIFE_S = 20.0       # a client's record of engine time fades by half in this long
EVM_HALF_LIFE_S = 5.0    # how long a client's EVM reads are expected to take fades by half in this long, so a client
#                          whose reads looked long (a stalled or busy engine slows everyone's) is not refused for good
SECONDS_PER_GAS = 24e-9  # the slowest EVM work measured per gas (anvil 1.7.1 hashing memory, this machine)
LONG_CREDIT_S = 2.0      # the most engine time long reads may save up while there were none


class ReadLimited(LedgerNodeError):
    """A read refused by a limit: answered with LIMIT_EXCEEDED and this message."""


class _Record:
    """A client's engine time lately (fading by half every HALF_LIFE_S), and how long its EVM reads take (a moving
    average of the last few: one slowed by a busy machine does not make a client long for a minute)."""
    __slots__ = ("used", "longest", "at", "evm")

    def __init__(self, at: float):
        self.used, self.longest, self.at, self.evm = 0.0, 0.0, at, None

    def faded(self, now: float) -> tuple[float, float]:
        f = 0.5 ** (max(0.0, now - self.at) / HALF_LIFE_S)
        return self.used * f, self.longest * f

    def add(self, seconds: float, now: float, evm: bool = False) -> None:
        used, longest = self.faded(now)
        self.used, self.longest, self.at = used + seconds, max(longest, seconds), now
        if evm:
            self.evm = seconds if self.evm is None else (self.evm + seconds) / 2


class ReadLimiter:
    def __init__(self, *, slots: int, long_slots: int, per_client: int, trusted: frozenset[str] = frozenset(),
                 long_share: float = 1.0, clock=time.monotonic):
        """`trusted`: addresses of the operator's own services (the API on the node's machine): their reads are
        never refused nor held back as long; they still take turns for the engine's read slots. `long_share`: the
        part of the time long reads may hold the engine, taken together (1.0: no bound beyond `long_slots`)."""
        self.slots, self.long_slots, self.per_client = slots, max(1, min(long_slots, slots)), per_client
        self.long_share = min(1.0, max(0.01, long_share))
        # engine seconds long reads may still take: earned at `long_share` a second up to LONG_CREDIT_S, spent when a
        # long read ends (as long as it took); a long read starts only with some left
        self.long_credit, self.credit_at = LONG_CREDIT_S, clock()
        self._credit_timer: asyncio.TimerHandle | None = None
        self.trusted = trusted
        self.clock = clock
        self.running = 0
        self.running_long = 0
        self.admitted: dict[str, int] = {}
        self.records: dict[str, _Record] = {}
        self.queue: list[list] = []              # [client, future, since, gas]
        self.due: float | None = None            # when the next block is to be mined (clock), None: none waiting
        self.earliest: float | None = None       # with none waiting: the earliest the next block may be mined
        self.rate = _Record(clock())             # the slowest EVM read lately, seconds per gas (in .longest)
        self.long_seen_until = 0.0               # long EVM reads were seen lately: new clients are not trusted
        self._no_long = asyncio.Event()
        self._no_long.set()
        self.stats = {"refused": 0, "timed_out": 0, "long": 0}  # reads refused, given up waiting, started as long

    @contextlib.contextmanager
    def admit(self, client: str):
        """One read of `client` from its arrival to its answer; ReadLimited beyond `per_client` at once."""
        n = self.admitted.get(client, 0)
        if n >= self.per_client and client not in self.trusted:
            self.stats["refused"] += 1
            raise ReadLimited(f"limit exceeded: at most {self.per_client} reads at once from one address ({client}); "
                              f"send the next when an answer comes back")
        self.admitted[client] = n + 1
        try:
            yield
        finally:
            if self.admitted[client] <= 1:
                del self.admitted[client]
            else:
                self.admitted[client] -= 1

    def predicted(self, client: str, now: float, gas: int | None = None) -> float:
        """How long `client`'s next EVM-running read (eth_call, ..., with `gas`) is expected to hold the engine: as
        long as its last ones. A client with none lately is trusted to be short, unless long EVM reads were seen in
        the last minute (a flood): then its gas at the slowest rate per gas seen lately. Other reads do not hold up
        blocks (anvil mines while they run): 0."""
        if not gas or client in self.trusted:
            return 0.0
        record = self.records.get(client)
        if record is None or record.evm is None:
            if now >= self.long_seen_until:
                return 0.0
            return gas * max(SECONDS_PER_GAS, self.rate.faded(now)[1])
        return record.evm * 0.5 ** (max(0.0, now - record.at) / EVM_HALF_LIFE_S)

    def _unknown(self, client: str) -> bool:
        record = self.records.get(client)
        return record is None or record.evm is None

    def block_due(self, when: float | None, earliest: float | None = None) -> None:
        """The block producer: the next block is to be mined at `when` (clock); or none is waiting (None), and the
        next may come at `earliest` if a transaction arrives by then."""
        self.due, self.earliest = when, earliest
        if when is None and earliest is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(max(0.0, earliest - self.clock()) + 0.001, self._dispatch)
        self._dispatch()

    async def quiet(self) -> None:
        """Return once no long read runs on the engine (the block producer, before it mines: anvil mines no block
        while a call runs, and transactions sent meanwhile would wait behind that block). No long read starts
        while a block is due."""
        await self._no_long.wait()

    async def acquire(self, client: str, gas: int | None = None) -> tuple[str, bool, float, int | None]:
        """One of the engine's read slots for `client` (give it back with `release`); ReadLimited if none came
        within READ_WAIT_S. `gas`: the read runs the EVM with this much (eth_call, eth_estimateGas, ...)."""
        waiter = [client, asyncio.get_running_loop().create_future(), self.clock(), gas]
        self.queue.append(waiter)
        self._dispatch()
        fut = waiter[1]
        try:
            if not fut.done():
                await asyncio.wait({fut}, timeout=READ_WAIT_S)
            while not fut.done() and client in self.trusted:  # waits its turn, however long
                await asyncio.wait({fut})
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise
        if not fut.done():
            self._abandon(waiter)
            self.stats["timed_out"] += 1
            raise ReadLimited(f"limit exceeded: the node is busy (reads from {client} take about "
                              f"{self.predicted(client, self.clock(), gas):.2f} s on the engine, longer than blocks "
                              f"leave between them); retry later, or with less gas")
        return client, fut.result(), self.clock(), gas

    def release(self, ticket: tuple[str, bool, float, int | None]) -> None:
        """The read holding `ticket` is answered: its engine time is recorded against its client (and, for a long
        read, spent from the long reads' share)."""
        client, long, started, gas = ticket
        now = self.clock()
        self._ended(long)
        if long:
            self.long_credit = self._credit(now) - (now - started)
            self.credit_at = now
        record = self.records.get(client)
        if record is None:
            record = self.records[client] = _Record(now)
            if len(self.records) > 10_000:
                self._forget(now)
        took = now - started
        if gas:  # no more than that much gas can hold the engine (beyond it, the engine stalled or the machine did)
            took = min(took, 4 * gas * SECONDS_PER_GAS)
        record.add(took, now, evm=bool(gas))
        if gas:
            self.rate.add(took / gas, now)
            if took >= LONG_READ_S:
                self.long_seen_until = now + 3 * HALF_LIFE_S
        self._dispatch()

    def _abandon(self, waiter: list) -> None:
        fut = waiter[1]
        if fut.done() and not fut.cancelled():  # granted meanwhile: give the slot back
            self._ended(fut.result())
            self._dispatch()
        else:
            fut.cancel()
            if waiter in self.queue:
                self.queue.remove(waiter)

    def _credit_earned(self) -> None:
        self._credit_timer = None
        self._dispatch()

    def _credit(self, now: float) -> float:
        """Engine seconds long reads may take now: what was left, plus `long_share` of the time since."""
        return min(LONG_CREDIT_S, self.long_credit + (now - self.credit_at) * self.long_share)

    def _ended(self, long: bool) -> None:
        self.running -= 1
        self.running_long -= long
        if not self.running_long:
            self._no_long.set()

    def _dispatch(self) -> None:
        """Grant free slots: to the waiting client that used the engine least lately (then the oldest read); a long
        reader only within `long_slots`, and only if its read should end before the next block is due (with none
        waiting: before the earliest the next one may come; any, once that is past: a transaction arriving
        meanwhile has its block wait for the read, sends go on)."""
        now = self.clock()
        if self.due is not None:
            window_end = self.due
        elif self.earliest is not None and self.earliest > now:
            window_end = self.earliest
        else:
            window_end = float("inf")
        credit = self._credit(now)
        if credit <= 0 and self.queue and self._credit_timer is None:  # long reads have had their share: look again
            self._credit_timer = asyncio.get_running_loop().call_later(  # once it is earned back
                -credit / self.long_share + 0.001, self._credit_earned)
        while self.running < self.slots and self.queue:
            best = None
            for waiter in self.queue:
                client, _, since, gas = waiter
                predicted = self.predicted(client, now, gas)
                # a client's first EVM read (trusted to be short) still takes a long slot: one at a time
                long = predicted >= LONG_READ_S or bool(gas and self._unknown(client) and client not in self.trusted)
                if long and (self.running_long >= self.long_slots or now + predicted > window_end or credit <= 0):
                    continue
                record = self.records.get(client)
                key = (record.faded(now)[0] if record else 0.0, since)
                if best is None or key < best[0]:
                    best = (key, waiter, long)
            if best is None:
                return
            _, waiter, long = best
            self.queue.remove(waiter)
            self.running += 1
            self.running_long += long
            if long:
                self.stats["long"] += 1
                self._no_long.clear()
            waiter[1].set_result(long)

    def _forget(self, now: float) -> None:
        for client in [c for c, r in self.records.items() if now - r.at > 10 * HALF_LIFE_S]:
            del self.records[client]
