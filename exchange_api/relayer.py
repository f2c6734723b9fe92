"""The relayer: submits what residents signed (redemption consents, exchange intents), merchants' refunds and
onboarding registrations, from its own accounts (each holding RELAYER_ROLE / ONBOARDING_ROLE).

Crash safety: a transaction is signed, then persisted (relayed_transactions, in the same database transaction
as the record it serves), and only then sent. After a restart `reconcile()` looks at every transaction that
was not seen mined: a receipt settles it; one still in the node's pool is awaited; one the node never got is
re-sent as the same bytes, or re-signed with a fresh nonce when its nonce went to another transaction. A
resident-signed intent can never be executed twice (its nonce is spent on chain: checked with `nonceUsed`
before re-signing); a refund is re-signed only when the chain's refunded total shows it did not happen.

A send is never taken for a failure unless the node's answer says the transaction was not taken and never will
be (`send_outcome`). A send that timed out, a dropped connection, a gateway's "the ledger engine is not answering"
(the transaction may be in the engine already), "already known" (it is): its record stays pending, the tracker
settles it if it mines, and `reconcile()` runs once the node answers again to find out from a receipt, the pool or
the nonce on chain.

Nonces: one counter per relayer account (issuer_sdk's AsyncNonceManager), taken, signed, persisted and sent
under one lock; accounts are used round-robin so several transactions are in flight at once.
Batches: redemptions that reach the relayer together (while it persists the batch before) go out as one
`redeemMany` transaction (`_combine`), and exchanges as one `exchangeMany`: the contract runs each in a call of its
own and skips one it refuses (RedemptionSkipped, ExchangeSkipped), so a batch pays the transaction's base cost, the
first touch of each contract and the shared reads once (gas a redemption: 118,886 alone, 77,208 in a batch of 8;
an exchange: 128,004 alone, 74,087 in a batch of 8). A lone one goes as `redeem` / `exchange` at once; under load
(rounds of them back to back) a round waits BATCH_LINGER_S (10 ms) for more before it is signed (`bench api`: 5.9
redemptions a transaction, 83,725 gas each). The batch is one relayed transaction (kind `redemption_batch`,
`exchange_batch`), each of its members' records names its hash, and it is settled, reconciled and signed again as
any transaction is (services/confirmations.py settles each member from its own event).
Confirmation: `run_tracker` follows new blocks; a transaction it waits for that emitted an outcome event
(`outcome_logs`: Redeemed, RedemptionSkipped, Refunded, Exchanged, ExchangeSkipped) is settled from that event, one
eth_getLogs a block, and only the others' receipts are fetched (a block of 200 redemptions' receipts is ~1 MB of
JSON); it hands them to `on_mined` (the services update records and queue webhooks) before waking the waiters.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from exchange_api import metrics
from exchange_api.chain import EXCHANGE_MANY, NONCE_USED, REDEEM_MANY, ChainClient, ChainRevert, fn, hex0x, unhex
from exchange_api.errors import NodeUnavailable
from exchange_api.store.db import Store
from exchange_api.store.models import Refund, RelayedTransaction
from issuer_sdk.encoding import UnsignedTx, tx_hash
from issuer_sdk.nonces import AsyncNonceManager
from issuer_sdk.signer import LocalSigner, sign_tx

log = logging.getLogger("citypoints.relayer")

# on_mined(mark, receipts): in one store transaction, `mark(session)` marks relayed transactions and returns them
# as (row, receipt or None, error or None), and the records they serve are settled (services/confirmations.py)
Settled = list[tuple[RelayedTransaction, dict | None, tuple | None]]
OnMined = Callable[[Callable[[Session], Settled], list[dict | None]], Awaitable[Settled]]
USED = "ResidentNonceUsed"  # the chain's word that an intent's nonce was used: by this intent elsewhere, or another


MAX_BATCH = 500  # transactions per JSON-RPC batch and database transaction
MAX_SENDS_IN_FLIGHT = 4
BATCH_ITEMS = 100  # redemptions (exchanges) in one redeemMany (exchangeMany) at most (the contracts' MAX_BATCH: 200)
# the batch transaction of each kind that may be batched (Relayer.submit's `batch_item`), and its call
BATCHES = {"redemption": ("redemption_batch", REDEEM_MANY), "exchange": ("exchange_batch", EXCHANGE_MANY)}
BATCH_CALLS = dict(BATCHES.values())
# Under load (items in a round that began within BATCH_BUSY_S), a round with items that may be batched waits
# BATCH_LINGER_S for more before it is signed: bigger batches (less gas each) for a few ms of a caller's answer. One
# that comes alone is never held.
BATCH_LINGER_S = 0.01
BATCH_BUSY_S = 0.1
# records settled in one database transaction (each transaction marked with its records, a batch's redemptions
# counted each: a crash between two chunks leaves the rest to the next round). A block of 200 redemptions settled at
# once held the store's writer ~50 ms, and every request's write waited behind it (the store lets one background
# write go between request writes); chunks of 50 still took 43-53 ms on the busy 2-core machine, 25 about half.
SETTLE_CHUNK = 25
SEND_TIMEOUT_S = 10.0  # the longest a send batch's answer is waited for; after it, its outcome is unknown
RECONCILE_EVERY_S = 1.0  # while sends' outcomes are unknown, reconcile() at most this often (the node may be busy)
HEAD_FRESH_S = 1.0  # a polled head older than this is not vouched for (current_head)
REDEMPTION_RECORD = fn("redemption(bytes32)")  # a redemption's record on chain; its second word: credits refunded


# What a node's answer to eth_sendRawTransaction says of the transaction (send_outcome)
ACCEPTED = "accepted"        # the node has it (its hash came back)
KNOWN = "known"              # the node had it already: as good as accepted
NONCE_TAKEN = "nonce_taken"  # its nonce is used on chain: by this very transaction (a send that timed out and was
#                              retried) or by another one; a receipt for its hash tells which (reconcile)
REFUSED = "refused"          # the node checked it and will never take it as it is
UNKNOWN = "unknown"          # anything else: it may be in the node, or not

_KNOWN_TEXT = ("already known", "already imported", "known transaction")
_NONCE_TAKEN_TEXT = ("nonce too low", "nonce is too low", "already used")
_REFUSED_TEXT = (
    "insufficient funds", "upfront cost exceeds",                        # the relayer account cannot pay the gas
    "intrinsic gas too low", "intrinsic gas too high", "intrinsic gas exceeds",   # its gas: below the cost,
    "exceeds block gas limit", "gas limit exceeds",                                 # or above a block's limit
    "invalid signature", "invalid sender", "invalid chain id", "transaction type not supported",
    "underpriced", "fee cap", "max fee per gas less than", "priority fee", "oversized data",
    "failed to decode", "revert")                                        # a revert found by the node's own check
INVALID_PARAMS = -32602


def send_outcome(answer: dict) -> str:
    """What one JSON-RPC answer to eth_sendRawTransaction means for the transaction sent: ACCEPTED, KNOWN,
    NONCE_TAKEN, REFUSED or UNKNOWN (the constants above). The only place that decides it.

    REFUSED is kept for the node's own validation of the transaction, which is final for those bytes: the relayer
    account cannot pay (insufficient funds), its gas is below the intrinsic cost or above the block's limit, a
    signature, chain id, type or fee the node does not take, bytes it cannot decode (-32602 invalid params), a
    revert (the relayer does not estimate gas; a node that simulates on admission would say so). Such a
    transaction was not taken, so its record fails at once.
    "Nonce too low" is not a refusal of the transaction by itself: it is this transaction's nonce that is used,
    maybe by this transaction (the transport retries a send whose answer was lost), so a receipt decides: none
    (the gateway serves a receipt once its block is journaled) and it is a refusal; one, and it mined.
    Everything else is UNKNOWN and never fails a record: a gateway's -32603 ("the ledger engine is not
    answering", "the engine gave no answer": the engine may hold the transaction), a node that is busy
    (-32005), a missing answer in a batch, "nonce too high" (a gap that fills), any message not known here.
    A timeout or a dropped connection has no answer at all: `_send_batch` takes it as UNKNOWN too."""
    err = answer.get("error")
    if not err:
        return ACCEPTED if answer.get("result") else UNKNOWN
    message = (err.get("message") if isinstance(err, dict) else str(err)) or ""
    text = message.lower()
    if any(t in text for t in _KNOWN_TEXT):
        return KNOWN
    if any(t in text for t in _NONCE_TAKEN_TEXT):
        return NONCE_TAKEN
    if any(t in text for t in _REFUSED_TEXT) or (isinstance(err, dict) and err.get("code") == INVALID_PARAMS):
        return REFUSED
    return UNKNOWN


@dataclass(eq=False)
class _Job:
    kind: str
    subject_id: str
    to: str
    data: bytes
    gas: int
    resident: str | None
    intent_nonce: str | None
    deadline: int | None
    persist_with: Callable | None
    account: "RelayerAccount"
    future: asyncio.Future
    check: "PreCheck | None" = None  # see Relayer.submit; before any nonce
    item: tuple | None = None      # what a batch call takes of it: a redemption or exchange (Relayer.submit)
    members: "list[_Job] | None" = None  # a batch's redemptions or exchanges (_combine); its own future is unused
    refused: "dict[_Job, Exception]" = field(default_factory=dict)  # a batch's members the store refused
    nonce: int = -1
    raw: bytes = b""
    hash: str = ""

    def sign(self, chain_id: int) -> None:
        """Sign with the job's nonce: a batch with its members that are not refused."""
        if self.members is not None:
            self.data = BATCH_CALLS[self.kind].encode([m.item for m in self.members if m not in self.refused])
        self.raw = sign_tx(self.account.signer, UnsignedTx(chain_id, self.nonce, self.gas, unhex(self.to), self.data))
        self.hash = tx_hash(self.raw)


@dataclass(frozen=True)
class PreCheck:
    """A job's check before any nonce is taken (Relayer.submit): `refuse(session, items)` reads the store once for
    every item of a batch that names the same `refuse` and gives, per item, an exception refusing its job or None.
    `may_refuse(item)` False says, from memory, that `refuse` would give None: the store is not read for it."""
    refuse: Callable[[Session, list], list]
    item: object
    may_refuse: Callable[[object], bool] | None = None

    def needs_store(self) -> bool:
        return self.may_refuse is None or self.may_refuse(self.item)


def _refusals(s, jobs: list[_Job]) -> list:
    """Each checked job's refusal (or None), one `refuse(session, items)` call per distinct check function."""
    groups: dict[Callable, list[int]] = {}
    for i, job in enumerate(jobs):
        groups.setdefault(job.check.refuse, []).append(i)
    out: list = [None] * len(jobs)
    for refuse, positions in groups.items():
        for i, refusal in zip(positions, refuse(s, [jobs[i].check.item for i in positions]), strict=True):
            out[i] = refusal
    return out


RELAYED = RelayedTransaction.__table__
INSERT_RELAYED = insert(RELAYED)  # one statement, compiled once; rows passed as parameters


def _row(job: _Job) -> dict:
    return dict(tx_hash=job.hash, kind=job.kind, subject_id=job.subject_id, resident=job.resident,
                intent_nonce=job.intent_nonce, deadline=job.deadline, to=job.to, data=hex0x(job.data),
                raw=hex0x(job.raw), gas=job.gas, relayer=job.account.address, relayer_nonce=job.nonce, status="signed")


def _filler_row(job: _Job, raw: bytes) -> dict:
    """A zero-value transfer to the relayer itself that takes the nonce `job` could not use."""
    return dict(tx_hash=tx_hash(raw), kind="filler", subject_id=job.subject_id, to=job.account.address, data="0x",
                raw=hex0x(raw), gas=21_000, relayer=job.account.address, relayer_nonce=job.nonce, status="signed")


@dataclass
class Mined:
    receipt: dict
    ok: bool
    error: tuple | None  # (contract error name, args) when reverted


class RelayerAccount:
    def __init__(self, chain: ChainClient, private_key: str):
        self.signer = LocalSigner(private_key)
        self.address = self.signer.address
        self.chain = chain
        self.nonces = AsyncNonceManager(self._pending)

    async def _pending(self) -> int:
        return int(await self.chain.request("eth_getTransactionCount", [self.address, "pending"]), 16)


class Relayer:
    def __init__(self, chain: ChainClient, store: Store, relayer_keys: list[str], *,
                 onboarding_key: str | None = None, poll_s: float = 0.02, send_timeout_s: float = SEND_TIMEOUT_S):
        self.chain = chain
        self.send_timeout_s = send_timeout_s
        self.store = store
        self.accounts = [RelayerAccount(chain, k) for k in relayer_keys]
        self.onboarding = RelayerAccount(chain, onboarding_key) if onboarding_key else None
        self._rr = itertools.count()
        self._queue: list[_Job] = []
        self._queued = asyncio.Event()
        self._sender: asyncio.Task | None = None
        self._unsent: list[_Job] = []          # persisted, not sent yet (_start_sends)
        self._sending: set[asyncio.Task] = set()
        self._resend_needed = False  # a send's outcome is unknown: reconcile() once the node answers
        self.unanswered_sends = 0    # sends whose outcome was unknown (metrics, tests)
        self._reconcile_after = 0.0  # time.monotonic() before which the tracker does not reconcile again
        self._waiters: dict[str, asyncio.Future] = {}
        self._since: dict[str, float] = {}
        self.on_mined: OnMined | None = None
        self.poll_s = poll_s
        self._last_block: int | None = None
        self.head: int | None = None  # the node's head as last polled, and when (time.monotonic())
        self.on_new_head: Callable[[], None] | None = None  # told when the polled head moves (Indexer.wake)
        self.head_at = float("-inf")
        # eth_getLogs filter ({address, topics}) of the events that show a transaction succeeded (the services'
        # outcome events): a transaction that emitted one is settled from it, without fetching its receipt
        self.outcome_logs: dict | None = None
        self.lease = None  # the service's RelayerLease (relayer_lease.py): nothing is signed without it

    @property
    def addresses(self) -> list[str]:
        return [a.address for a in self.accounts]

    # -- sending -----------------------------------------------------------------------------------------

    async def submit(self, *, kind: str, subject_id: str, to: str, data: bytes, gas: int,
                     resident: str | None = None, intent_nonce: str | None = None, deadline: int | None = None,
                     persist_with: Callable | None = None, account: RelayerAccount | None = None,
                     check: PreCheck | None = None, batch_item: tuple | None = None) -> str:
        """Sign, persist (with `persist_with(session, tx_hash)` in the same transaction), send; the tx hash.
        `persist_with` may write through the session, and may return rows, [(statement, params)], which the relayer
        writes with the batch's other rows of the same statement in one executemany.

        Submissions queue up and go out in batches (`_persist_batch`, `_send_batch`). The caller has its hash as
        soon as the transaction is persisted: from then on it is the relayer's to deliver (a send whose outcome is
        unknown leaves it `signed` and `reconcile()` finds out when the node is back; one the node refuses for
        good, `send_outcome`, fails its record as a revert in a block would). Raises what `persist_with` raised
        (nothing was sent). `check` (PreCheck): read for the whole batch in one query (for the jobs its memory cannot
        clear) before any nonce is taken; a job it refuses raises its exception here, and nothing is signed,
        persisted or sent. `batch_item` (what the kind's batch call takes of it: (consent, signature) for
        Redemption.redeemMany, the signed intent's fields for Exchange.exchangeMany): a redemption or exchange that
        may go in one transaction with others of its kind (`_combine`); its hash is then the batch's.
        """
        if self.lease is not None:
            self.lease.require()
        if account is None:
            if not self.accounts:
                raise NodeUnavailable("no relayer account is configured (CITYPOINTS_RELAYER_KEYS)")
            account = self.accounts[next(self._rr) % len(self.accounts)]
        job = _Job(kind, subject_id, to, data, gas, resident, intent_nonce, deadline, persist_with, account,
                   asyncio.get_running_loop().create_future(), check, batch_item)
        self._queue.append(job)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_loop(), name="relayer-sender")
        self._queued.set()
        h = await job.future
        metrics.RELAYED.labels(kind).inc()
        return h

    async def stop(self) -> None:
        """Stop sending (a batch persisted but not sent is reconciled at the next start)."""
        self._unsent.clear()
        for task in [self._sender, *self._sending]:
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

    async def _send_loop(self) -> None:
        """Batches one after another: everything queued while the previous batch was being persisted. A
        persisted batch is sent in the background while the next one is signed and persisted (the node holds
        a transaction whose nonce comes early until the ones before it arrive)."""
        busy_until = 0.0
        while True:
            if not self._queue:
                self._queued.clear()
                await self._queued.wait()
            if any(job.item is not None for job in self._queue[:BATCH_ITEMS]):
                if time.monotonic() < busy_until and len(self._queue) < BATCH_ITEMS:
                    await asyncio.sleep(BATCH_LINGER_S)
                busy_until = time.monotonic() + BATCH_BUSY_S
            jobs, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                sendable = await self._persist_batch(jobs)
            except BaseException as exc:  # the batch's own failure (a database outage): its callers get it
                for job in jobs:
                    job.account.nonces.reset()  # nonces taken but not used: ask the node again
                    if not job.future.done():
                        job.future.set_exception(exc if isinstance(exc, Exception) else NodeUnavailable(str(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue
            self._unsent.extend(sendable)
            self._start_sends()

    def _start_sends(self, done: asyncio.Task | None = None) -> None:
        """Send what is persisted and not sent yet, in JSON-RPC batches, at most MAX_SENDS_IN_FLIGHT at a time.
        Persisting never waits for a send: while the node mines a block it takes transactions slowly, and the
        callers are answered at the persist."""
        self._sending.discard(done)
        while self._unsent and len(self._sending) < MAX_SENDS_IN_FLIGHT:
            jobs, self._unsent = self._unsent[:MAX_BATCH], self._unsent[MAX_BATCH:]
            task = asyncio.create_task(self._send_batch(jobs))
            self._sending.add(task)
            task.add_done_callback(self._start_sends)

    def _combine(self, jobs: list[_Job]) -> list[_Job]:
        """The jobs as transactions: the redemptions (exchanges) that may be batched (`item`), when more than one,
        go in redeemMany (exchangeMany) transactions of up to BATCH_ITEMS, each from its first member's account."""
        out = [job for job in jobs if job.item is None]
        for kind, (batch_kind, _) in BATCHES.items():
            items = [job for job in jobs if job.item is not None and job.kind == kind]
            for i in range(0, len(items), BATCH_ITEMS):
                members = items[i:i + BATCH_ITEMS]
                if len(members) == 1:
                    out.append(members[0])
                    continue
                out.append(_Job(batch_kind, members[0].subject_id, members[0].to, b"", sum(m.gas for m in members),
                                None, None, None, None, members[0].account, None, members=members))
        return out

    async def _persist_batch(self, jobs: list["_Job"]) -> list["_Job"]:
        """Sign every transaction (`_combine`) with its account's next nonce, persist them all in one database
        transaction and answer their callers; the transactions to send. A job whose record cannot be written (its
        consent was used before) leaves its nonce to a zero-value filler transaction to the relayer itself, so the
        account's later transactions are not stuck behind a gap; a batch is signed again without such members (on
        the same nonce: nothing was sent), and filled only when none is left."""
        checked = [job for job in jobs if job.check is not None and job.check.needs_store()]
        if checked:  # one round trip for the batch, before nonces: a refused job leaves no gap to fill
            started = time.perf_counter()
            try:
                refusals = await self.store.run(lambda s: _refusals(s, checked))
            except Exception as exc:  # noqa: BLE001 - the store is away: every checked job's caller learns it
                refusals = [exc] * len(checked)
            metrics.STAGE.labels("pre-check read").observe(time.perf_counter() - started)  # a batch's, when any
            for job, refusal in zip(checked, refusals):
                if refusal is not None and not job.future.done():
                    job.future.set_exception(refusal)
            jobs = [job for job in jobs if not job.future.done()]
        txs = self._combine(jobs)
        chain_id = self.chain.chain_id
        for job in txs:
            async with job.account.nonces.reserve() as n:
                job.nonce = n
                job.sign(chain_id)

        def rows_of(s, job, h):  # the rows persist_with returns (what it writes itself is in the session already)
            if job.members is not None:
                return [row for m in job.members if m not in job.refused for row in rows_of(s, m, h)]
            return (job.persist_with(s, h) or ()) if job.persist_with is not None else ()

        def insert_job(s, job):  # in the job's own savepoint: its rows at once
            s.execute(INSERT_RELAYED, _row(job))
            for statement, params in rows_of(s, job, job.hash):
                s.execute(statement, params)

        def insert_all(s):  # each statement's rows of the whole batch in one executemany (~1/8 of the cost a row)
            rows: dict = {INSERT_RELAYED: [_row(job) for job in txs]}
            for job in txs:
                for statement, params in rows_of(s, job, job.hash):
                    rows.setdefault(statement, []).append(params)
            for statement, params in rows.items():
                if params:  # none when the pre-check refused every job of the batch
                    s.execute(statement, params)

        def refused_members(s, job) -> dict:  # a batch's members whose rows the store refuses (tried, then undone)
            refused, trial = {}, s.begin_nested()
            try:
                for m in job.members:
                    try:
                        with s.begin_nested():
                            for statement, params in rows_of(s, m, job.hash):
                                s.execute(statement, params)
                    except Exception as exc:  # noqa: BLE001 - handed to this member's caller
                        refused[m] = exc
            finally:
                trial.rollback()
            return refused

        def persist(s):  # database work, and signing a batch again (it may run twice: each run starts afresh)
            for job in txs:
                if job.refused:  # refused in an earlier run of this function: the whole batch again
                    job.refused = {}
                    job.sign(chain_id)
            try:
                with s.begin_nested():  # usually every record goes in: one savepoint for all of them
                    insert_all(s)
                return [(None, None)] * len(txs)
            except Exception:  # noqa: BLE001 - some record was refused: find which, one savepoint each
                pass
            outcomes = []
            for job in txs:
                try:
                    if job.members is not None:
                        job.refused = refused_members(s, job)
                        if len(job.refused) == len(job.members):
                            raise next(iter(job.refused.values()))
                        if job.refused:
                            job.sign(chain_id)  # without them, on the same nonce
                    with s.begin_nested():
                        insert_job(s, job)
                    outcomes.append((None, None))
                except Exception as exc:  # noqa: BLE001 - handed to this job's callers
                    filler = sign_tx(job.account.signer, UnsignedTx(chain_id, job.nonce, 21_000,
                                                                    unhex(job.account.address), b""))
                    s.execute(INSERT_RELAYED, _filler_row(job, filler))
                    outcomes.append((exc, filler))
            return outcomes
        persisted = await self.store.write(persist, isolated=False)
        for job, (failure, filler) in zip(txs, persisted):
            if filler is not None:
                job.raw, job.hash = filler, tx_hash(filler)
            for caller in job.members or [job]:
                if caller.future.done():
                    continue
                refusal = job.refused.get(caller) or failure
                if refusal is not None:
                    caller.future.set_exception(refusal)
                else:  # persisted: the caller has its answer; the send is the relayer's job
                    caller.hash = job.hash
                    caller.future.set_result(job.hash)
        return txs

    async def _send_batch(self, jobs: list["_Job"]) -> None:
        """Send a persisted batch in one JSON-RPC batch. Each answer is read by `send_outcome`: a transaction the
        node refuses for good fails its record as a mined revert would, so the merchant learns it from the record
        and its webhook; any answer that leaves a doubt (none within `send_timeout_s`, a dropped connection, an
        error that does not say the node checked the transaction and will not take it) leaves the record pending:
        the tracker settles it if it mines, and reconcile() decides once the node answers again."""
        for job in jobs:  # each with its own transaction, or the filler that took its nonce
            self._watch(job.hash)
        try:
            answers = await asyncio.wait_for(
                self.chain.batch([("eth_sendRawTransaction", [hex0x(job.raw)]) for job in jobs]), self.send_timeout_s)
        except (NodeUnavailable, asyncio.TimeoutError) as exc:
            self._unanswered(jobs, f"no answer: {type(exc).__name__}")
            return
        refused, doubtful, nonce_taken = [], [], []
        for job, answer in zip(jobs, answers):
            outcome = send_outcome(answer)
            if outcome in (ACCEPTED, KNOWN):
                continue
            why = (answer.get("error") or {}).get("message") or outcome
            if outcome == REFUSED:
                log.warning("relayer: the node refused %s %s: %s", job.kind, job.subject_id, why)
                job.account.nonces.reset()  # the node did not take this nonce: ask it again next time
                refused.append(job)
            elif outcome == NONCE_TAKEN:
                job.account.nonces.reset()  # this counter is behind the chain, whoever took the nonce
                nonce_taken.append(job)
            else:
                doubtful.append((job, why))
        if nonce_taken:  # by this very transaction (a retried send) when it has a receipt; else by another one
            try:
                receipts = await self.chain.batch([("eth_getTransactionReceipt", [job.hash]) for job in nonce_taken])
            except NodeUnavailable:
                receipts = [{"error": "no answer"}] * len(nonce_taken)
            for job, receipt in zip(nonce_taken, receipts):
                if receipt.get("error"):
                    doubtful.append((job, "nonce too low, receipt unknown"))
                elif not receipt.get("result"):
                    log.warning("relayer: the nonce of %s %s went to another transaction", job.kind, job.subject_id)
                    refused.append(job)
                # mined: the tracker settles it from its receipt
        if doubtful:
            self._unanswered([job for job, _ in doubtful], doubtful[-1][1])
        if refused:
            await self._settle_refused(refused)

    def _unanswered(self, jobs: list["_Job"], why: str) -> None:
        """Sends whose outcome is unknown: their records stay pending (still watched: a receipt settles them) and
        reconcile() runs once the node answers (receipt, pool, nonce on chain; the same bytes sent again)."""
        self.unanswered_sends += len(jobs)
        self._resend_needed = True
        log.warning("relayer: %d send(s) without a definite answer (%s): pending until the chain says",
                    len(jobs), why)

    async def _settle_refused(self, jobs: list["_Job"]) -> None:
        """Fail the records of transactions the node refused for good (`send_outcome` REFUSED only)."""
        rejected = ("TransactionRejected", ())
        try:
            await self._record(lambda s: [(row, None, rejected) for row in _mark_refused(s, [job.hash for job in jobs])])
        except Exception as exc:  # noqa: BLE001 - reconcile() settles them later
            log.warning("relayer: could not settle refused transactions: %s", type(exc).__name__)
        for job in jobs:
            fut = self._waiters.pop(job.hash, None)
            self._unwatch(job.hash)
            if fut is not None and not fut.done():
                fut.set_result(Mined({}, False, rejected))

    async def _record(self, mark: Callable[[Session], Settled], receipts: list[dict | None] = ()) -> Settled:
        """Mark relayed transactions (`mark(session)` returns them with their receipts and errors) and settle the
        records they serve (`on_mined`), in one transaction."""
        if self.on_mined is None:
            return await self.store.write(mark, isolated=False, background="settlement")
        return await self.on_mined(mark, list(receipts))

    async def wait(self, h: str, timeout: float) -> Mined | None:
        """The mined outcome of `h`, or None when not mined within `timeout` seconds."""
        fut = self._waiters.get(h)
        if fut is None:
            fut = self._watch(h)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            return None

    def _watch(self, h: str) -> asyncio.Future:
        fut = self._waiters.get(h)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._waiters[h] = fut
            self._since[h] = time.monotonic()
        return fut

    def _unwatch(self, h: str) -> None:
        self._waiters.pop(h, None)
        self._since.pop(h, None)

    @property
    def in_flight(self) -> int:
        return len(self._waiters)

    # -- confirmations -----------------------------------------------------------------------------------

    async def run_tracker(self) -> None:
        poller = asyncio.create_task(self._poll_head(), name="relayer-head")
        try:
            await self._track()
        finally:
            poller.cancel()

    async def _poll_head(self) -> None:
        """The node's head every `poll_s`, apart from the tracker: a tracker waiting on receipts (from an engine busy
        dumping its state for tens of seconds) made the head look stale, and every redemption then went to a
        simulation on that same busy engine and was refused (node_unavailable). The gateway answers the head
        itself; while it answers, no block is mined that the indexed view lacks."""
        while True:
            try:
                self._saw_head(await self.chain.block_number())
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the node is away: the head goes stale, as it should
                await asyncio.sleep(0.5)
            await asyncio.sleep(self.poll_s)

    def _saw_head(self, head: int) -> None:
        if self.head is not None and head != self.head and self.on_new_head is not None:  # a new block, or a reorg
            self.on_new_head()
        self.head, self.head_at = head, time.monotonic()

    async def _track(self) -> None:
        sweep_at = time.monotonic() + 1.0
        while True:
            try:
                await self.track_once(sweep=time.monotonic() >= sweep_at)
                if time.monotonic() >= sweep_at:
                    sweep_at = time.monotonic() + 1.0
                if self._resend_needed and (self.lease is None or self.lease.held) \
                        and time.monotonic() >= self._reconcile_after:
                    # a send's outcome is unknown (the node was away, slow, or answered with a doubt): find out
                    self._reconcile_after = time.monotonic() + RECONCILE_EVERY_S
                    await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # node or database outage: keep following once they are back
                log.warning("relayer tracker: %s", type(exc).__name__)
                await asyncio.sleep(0.5)
            await asyncio.sleep(self.poll_s)

    def current_head(self) -> int | None:
        """The node's head if polled within HEAD_FRESH_S (the tracker polls every `poll_s`), else None: the node is
        away, stuck, or nobody follows it."""
        return self.head if time.monotonic() - self.head_at <= HEAD_FRESH_S else None

    async def track_once(self, *, sweep: bool = False) -> None:
        head = await self.chain.block_number()
        self._saw_head(head)
        if self._last_block is None or head < self._last_block:
            self._last_block = head - 1
        candidates: set[str] = set()
        known: dict[str, dict] = {}
        if self._waiters and head > self._last_block:
            frm = self._last_block + 1
            calls = [("eth_getBlockByNumber", [hex(b), False]) for b in range(frm, head + 1)]
            if self.outcome_logs is not None:
                calls.append(("eth_getLogs", [{"fromBlock": hex(frm), "toBlock": hex(head), **self.outcome_logs}]))
            answers = await self.chain.batch(calls)
            for b in answers[:head + 1 - frm]:
                for h in (b.get("result") or {}).get("transactions", []):
                    if h in self._waiters:
                        candidates.add(h)
            if self.outcome_logs is not None:
                known = _outcomes_from_logs(answers[-1].get("result") or [], candidates)
        self._last_block = head
        if sweep:  # anything waited for more than a second: look it up directly (missed or reorganised blocks)
            old = time.monotonic() - 1.0
            candidates.update(h for h, t in self._since.items() if t < old)
        if candidates:
            await self._settle(sorted(candidates), known)

    async def _settle(self, hashes: list[str], known: dict[str, dict] | None = None) -> None:
        """Settle the mined ones among `hashes`: `known` outcomes (from their events) as they are, the rest from
        their receipts."""
        known = known or {}
        rest = [h for h in hashes if h not in known]
        answers = await self.chain.batch([("eth_getTransactionReceipt", [h]) for h in rest]) if rest else []
        receipts = [*known.values(), *(a.get("result") for a in answers if a.get("result"))]
        if not receipts:
            return
        outcomes = {}
        for r in receipts:
            ok = int(r["status"], 16) == 1
            outcomes[r["transactionHash"]] = Mined(r, ok, None if ok else await self._revert_reason(r))
        mined = list(outcomes.items())
        for chunk in self._settle_chunks(mined):  # a write each: the requests' writes go in between
            await self._record(lambda s, chunk=chunk: [(row, chunk[row.tx_hash].receipt, chunk[row.tx_hash].error)
                                                       for row in _mark_mined(s, chunk)],
                               [m.receipt for m in chunk.values()])
            for h, m in chunk.items():
                fut = self._waiters.pop(h, None)
                self._since.pop(h, None)
                if fut is not None and not fut.done():
                    fut.set_result(m)

    def _settle_chunks(self, mined: list[tuple[str, "Mined"]]) -> list[dict[str, "Mined"]]:
        """`mined` in chunks of about SETTLE_CHUNK records each: a transaction counts the records its outcome events
        settle (a batch, each of its redemptions), at least one."""
        outcomes = set(self.outcome_logs["topics"][0]) if self.outcome_logs else set()
        chunks, chunk, weight = [], {}, 0
        for h, m in mined:
            chunk[h] = m
            weight += max(1, sum(1 for lg in m.receipt.get("logs", ()) if lg["topics"][:1] and
                                 lg["topics"][0] in outcomes))
            if weight >= SETTLE_CHUNK:
                chunks.append(chunk)
                chunk, weight = {}, 0
        return chunks + [chunk] if chunk else chunks

    async def _revert_reason(self, receipt: dict) -> tuple:
        tx = await self.chain.request("eth_getTransactionByHash", [receipt["transactionHash"]])
        block = int(receipt["blockNumber"], 16)
        try:
            await self.chain.request("eth_call", [{"from": tx["from"], "to": tx["to"], "data": tx["input"],
                                                   "gas": tx["gas"]}, hex(max(block - 1, 0))])
        except ChainRevert as exc:
            return (exc.name, exc.args_)
        except Exception:  # noqa: BLE001
            pass
        return (None, ())

    # -- after a restart ----------------------------------------------------------------------------------

    async def reconcile(self) -> dict[str, int]:
        """Finish every transaction persisted but not seen mined (see the module docstring). A node that does not
        answer stops it; the tracker runs it again once the node answers (`_resend_needed`)."""
        self._resend_needed = False
        try:
            return await self._reconcile()
        except BaseException:
            self._resend_needed = True
            raise

    async def _reconcile(self) -> dict[str, int]:
        rows = await self.store.run(lambda s: list(s.scalars(select(RelayedTransaction).where(
            RelayedTransaction.status.in_(("signed", "sent"))).order_by(RelayedTransaction.created_at))))
        counts = {"mined": 0, "in_pool": 0, "resent": 0, "resigned": 0, "dropped": 0, "unknown": 0}
        by_address = {a.address: a for a in self.accounts + ([self.onboarding] if self.onboarding else [])}
        for row in rows:
            if await self._mined_now(row):
                counts["mined"] += 1
                continue
            if await self.chain.request("eth_getTransactionByHash", [row.tx_hash]):
                self._watch(row.tx_hash)
                counts["in_pool"] += 1
                continue
            # the node never got it (or lost it): the same bytes first
            self._watch(row.tx_hash)
            outcome = send_outcome((await self.chain.batch([("eth_sendRawTransaction", [row.raw])]))[0])
            if outcome in (ACCEPTED, KNOWN):
                counts["resent"] += 1
                continue
            if outcome == UNKNOWN:  # still no answer that settles it: never re-signed on a doubt
                self._resend_needed = True
                counts["unknown"] += 1
                continue
            if outcome == NONCE_TAKEN and await self._mined_now(row):  # by this very transaction, meanwhile
                counts["mined"] += 1
                continue
            self._unwatch(row.tx_hash)  # its nonce went to another transaction, or the node refuses it for good
            if row.kind == "filler" or await self._already_done(row):
                if row.intent_nonce and row.resident:  # used as of the head: by this intent elsewhere, or another
                    head = await self.chain.block_number()  # (confirmations settles its records from the index)

                    def used(s, row=row, head=head):
                        _set_status(s, row.tx_hash, "replaced")
                        return [(row, {"status": "0x0", "blockNumber": hex(head)}, (USED, ()))]
                    await self._record(used)
                else:
                    await self.store.write(lambda s, h=row.tx_hash: _set_status(s, h, "replaced"))
                counts["dropped"] += 1
                continue
            if row.deadline is not None and row.deadline < time.time():
                def expire(s, row=row):
                    _set_status(s, row.tx_hash, "failed")
                    return [(row, None, ("ResidentSignatureExpired", ()))]
                await self._record(expire)
                counts["dropped"] += 1
                continue
            account = by_address.get(row.relayer) or (self.accounts[0] if self.accounts else None)
            if account is None:
                continue
            account.nonces.reset()

            def link(s, h, old=row.tx_hash):
                _set_status(s, old, "replaced")
            new_hash = await self.submit(kind=row.kind, subject_id=row.subject_id, to=row.to, data=unhex(row.data),
                                         gas=row.gas, resident=row.resident, intent_nonce=row.intent_nonce,
                                         deadline=row.deadline, persist_with=link, account=account)
            await self._record(lambda s, row=row, new_hash=new_hash: [(row, {"replacedBy": new_hash}, None)])
            counts["resigned"] += 1
        return counts

    async def _mined_now(self, row: RelayedTransaction) -> bool:
        """Whether `row`'s transaction has a receipt; if so it is settled from it."""
        if not await self.chain.request("eth_getTransactionReceipt", [row.tx_hash]):
            return False
        self._watch(row.tx_hash)
        await self._settle([row.tx_hash])
        return True

    async def _already_done(self, row: RelayedTransaction) -> bool:
        """Whether the chain already shows what `row` was sent to do (so it must not be re-signed)."""
        if row.intent_nonce and row.resident:
            contract = self.chain.addresses["Exchange" if row.kind == "exchange" else "Redemption"]
            out = await self.chain.call(contract, NONCE_USED.encode(row.resident, unhex(row.intent_nonce)))
            return int.from_bytes(out[-32:], "big") == 1
        if row.kind == "onboarding" and row.resident:
            from exchange_api.chain import IS_RESIDENT
            out = await self.chain.call(self.chain.addresses["Membership"], IS_RESIDENT.encode(row.resident))
            return int.from_bytes(out[-32:], "big") == 1
        if row.kind == "refund":
            return await self._refund_applied(row)
        return False

    async def _refund_applied(self, row: RelayedTransaction) -> bool:
        """Whether the chain applied this refund: its redemption's refunded total on chain covers the refunds
        confirmed in the store and this one."""
        def load(s):
            f = s.scalar(select(Refund).where(Refund.id == row.subject_id))
            if f is None:
                return None, 0
            done = sum(s.scalars(select(Refund.credits).where(
                Refund.redemption_id == f.redemption_id, Refund.status == "confirmed")))
            return f, done
        f, done = await self.store.run(load)
        if f is None:
            return True
        out = await self.chain.call(self.chain.addresses["Redemption"],
                                    REDEMPTION_RECORD.encode(unhex(f.redemption_id)))
        return int.from_bytes(out[32:64], "big") >= done + f.credits


def _outcomes_from_logs(logs: list[dict], hashes: set[str]) -> dict[str, dict]:
    """What a receipt would tell of each of `hashes` that emitted an outcome event: it succeeded (a reverted
    transaction leaves no logs), its block, and those events. The receipts of the rest are fetched."""
    outcomes: dict[str, dict] = {}
    for lg in logs:
        h = lg["transactionHash"]
        if h in hashes:
            outcome = outcomes.get(h)
            if outcome is None:
                outcome = outcomes[h] = {"transactionHash": h, "blockNumber": lg["blockNumber"], "status": "0x1",
                                         "logs": []}
            outcome["logs"].append(lg)
    return outcomes


def _set_status(s, h: str, status: str) -> None:
    row = s.get(RelayedTransaction, h)
    if row is not None:
        row.status = status


def _mark_refused(s, hashes: list[str]) -> list[RelayedTransaction]:
    rows = list(s.scalars(select(RelayedTransaction).where(RelayedTransaction.tx_hash.in_(hashes))))
    for row in rows:
        row.status = "failed"
    return rows


MARK_MINED = RELAYED.update().where(RELAYED.c.tx_hash == bindparam("_hash")).values(
    status=bindparam("_status"), block_number=bindparam("_block"))


def _mark_mined(s, outcomes: dict[str, Mined]) -> list:
    """Mark the relayed transactions of `outcomes` mined or failed (one select, one executemany update); the rows
    changed, as they were before (a row settled before, by a sweep and a block both seeing it, is left out)."""
    rows = s.execute(select(RELAYED).where(RELAYED.c.tx_hash.in_(list(outcomes)),
                                           RELAYED.c.status.not_in(("mined", "failed")))).all()
    if rows:
        s.execute(MARK_MINED, [{"_hash": row.tx_hash, "_status": "mined" if outcomes[row.tx_hash].ok else "failed",
                                "_block": int(outcomes[row.tx_hash].receipt["blockNumber"], 16)} for row in rows])
    return rows
