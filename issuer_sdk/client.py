"""IssuerClient: the synchronous SDK an issuing system uses to issue, revoke and look up its points.

    client = IssuerClient.from_deployment(signer=keystore_signer("issuer.json"), scheme=1, salt=salt)
    client.issue(resident, 20, "volunteer-shift-8812")          # -> IssueResult(status="issued", ...)
    summary = client.issue_many(records)                          # any iterable, in gas-sized batches
    for batch in client.stream(records): ...                      # the same, one BatchResult per confirmed batch

Retries and reruns are safe: the sequence book (var/issuer-books/, or `book=`) gives each ref the same sequence
number every time, the ledger never takes a number twice, and a retry of a send re-sends the same signed bytes.
Nonces are the client's own (thread-safe). Every failure is an `IssuerError`.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector as _selector

from issuer_sdk import errors
from issuer_sdk.encoding import UnsignedTx, address_bytes, tx_hash, word_address
from issuer_sdk.ledger import (Allowance, BatchResult, Issuance, IssueManySummary, IssueResult, LedgerCodec,
                               RefStatus, RevokeResult, event_fields, checksum, item_words, load_abi, reason_word)
from issuer_sdk.nonces import NonceManager
from issuer_sdk.refs import RefHasher
from issuer_sdk.rpc import RetryPolicy, RpcTransport, unwrap
from issuer_sdk.sequence_book import SequenceBook
from issuer_sdk.signer import Signer, sign_tx
from ledger_node.domain import UINT32_MAX


BOOK_READ_BLOCKS = 50_000  # blocks an eth_getLogs of the book's reading
REF_USED = 1  # IPointsLedger.RefState.Used
STATUS_BATCH = 500  # refs a JSON-RPC batch of `statuses` (the node's public port takes at most 1,000 calls a batch)


@dataclass(frozen=True)
class ClientConfig:
    """Every tunable of the client in one place (retries included)."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    request_timeout_s: float = 60.0
    confirm_timeout_s: float = 120.0
    poll_first_s: float = 0.0005  # receipt polling starts fast (automine answers within a millisecond)...
    poll_max_s: float = 0.05  # ...and backs off to this
    rebroadcast_after_s: float = 2.0  # unconfirmed this long: if the node no longer knows it, re-send it
    max_batch_items: int = 1000
    max_in_flight: int = 4  # batches sent and not yet confirmed, per stream
    gas_per_item_bound: int = 80_000  # sizes batches so they fit the block gas limit
    gas_per_item_floor: int = 40_000  # a first batch of duplicates must not teach a too-small gas figure
    gas_margin: float = 1.3  # over the learnt gas an item; an out-of-gas batch is re-sent (whole call reverted)
    gas_base: int = 150_000
    block_fill: float = 0.9  # a batch uses at most this share of the block gas limit
    single_gas: int = 400_000  # gas limit of issue / revoke (zero gas price: unused gas costs nothing)
    book_read_s: float = 1.0  # the sequence book reads the chain's new events at most this often (and at a stream)


def _coerce(item) -> Issuance:
    if isinstance(item, Issuance):
        return item
    if isinstance(item, dict):
        return Issuance(item["resident"], item["amount"], item["ref"], item.get("reason"), item.get("source"))
    return Issuance(*item)


class _ClientCore:
    """What IssuerClient and AsyncIssuerClient share: set-up, and every request's encoding and every answer's
    decoding. The I/O between (sync, or awaited) is each client's own."""

    def __init__(self, rpc_url: str, ledger_address: str, signer: Signer, scheme: int, salt: bytes | str, *,
                 chain_id: int | None = None, abi: list[dict] | None = None, config: ClientConfig | None = None,
                 book: SequenceBook | str | Path | None = None):
        self.config = config or ClientConfig()
        self.rpc = self._transport(rpc_url)
        self.ledger = checksum(ledger_address)
        self._ledger_bytes = address_bytes(self.ledger)
        self.signer = signer
        self.scheme = int(scheme)
        self.hash_ref = RefHasher(salt)
        self.codec = LedgerCodec(abi if abi is not None else load_abi())
        self.chain_id = chain_id
        self.nonces = self._nonce_manager()
        self._gas_per_item: int | None = None
        self._block_gas_limit: int | None = None
        self._unconfirmed: dict[str, bytes] = {}  # tx hash -> signed bytes, until confirmed (for rebroadcast)
        self.book = book if isinstance(book, SequenceBook) else SequenceBook(book or default_book_path(
            self.ledger, self.scheme, signer.address))
        self._book_read_at = float("-inf")

    @classmethod
    def from_deployment(cls, signer: Signer, scheme: int, salt: bytes | str, *,
                        deployment: str | Path | dict | None = None, rpc_url: str | None = None,
                        abi: list[dict] | None = None, config: ClientConfig | None = None,
                        book: SequenceBook | str | Path | None = None):
        """Configured from var/deployment.json (or the given path or dict); `rpc_url` overrides its rpcUrl."""
        dep = read_deployment(deployment)
        return cls(rpc_url or dep["rpcUrl"], dep["contracts"]["PointsLedger"], signer, scheme, salt,
                   chain_id=dep.get("chainId"), abi=abi, config=config, book=book)

    def _transport(self, rpc_url: str):
        raise NotImplementedError

    def _nonce_manager(self):
        raise NotImplementedError

    # -- requests and outcomes ---------------------------------------------------------------------------------

    def _issue_request(self, resident: str, amount: int, ref, reason: int | None) -> tuple[bytes, bytes, dict]:
        """(ref32, call data, what is attempted) of a single issue; raises on a malformed item."""
        ref32 = self.hash_ref(ref)
        item_words(Issuance(resident, amount, ref, reason), ref32)  # validates
        if reason is not None:
            reason_word(reason)
        ref32 = self.book.assign([ref32])[0]
        data = self.codec.issue_data(self.scheme, resident, amount, ref32, reason)
        return ref32, data, {"operation": "issueWithReason" if reason is not None else "issue", "scheme": self.scheme,
                             "resident": resident, "amount": amount, "ref": ref, "reason": reason}

    def _issue_result(self, receipt: dict, ref, ref32: bytes) -> IssueResult:
        skipped, _ = self.codec.batch_outcome(receipt, self.ledger)
        if not skipped:
            self.book.import_issued([ref32], int(receipt["blockNumber"], 16))
        return IssueResult(ref, ref32, "duplicate" if skipped else "issued", receipt["transactionHash"],
                           int(receipt["blockNumber"], 16),
                           None if skipped else self.codec.single_balance_after(receipt, self.ledger))

    def _revoke_request(self, resident: str, amount: int, ref, reason: int) -> tuple[bytes, bytes, dict]:
        ref32 = self.hash_ref(ref)
        item_words(Issuance(resident, amount, ref), ref32)
        reason_word(reason)
        ref32 = self.book.assign([ref32])[0]  # revocations share the issuer's sequence numbers
        data = self.codec.revoke_data(self.scheme, resident, amount, ref32, reason)
        return ref32, data, {"operation": "revoke", "scheme": self.scheme, "resident": resident, "amount": amount,
                             "ref": ref, "reason": reason}

    def _revoke_result(self, receipt: dict, ref, ref32: bytes) -> RevokeResult:
        status, balance_after = self.codec.revoke_outcome(receipt, self.ledger)
        if status == "revoked":
            self.book.import_issued([ref32], int(receipt["blockNumber"], 16))
        return RevokeResult(ref, ref32, status, receipt["transactionHash"], int(receipt["blockNumber"], 16),
                            balance_after)

    def _record_batch(self, prepared: "_Prepared", skipped: list[int], block: int) -> None:
        """A confirmed batch's issued refs into the book: they are never renumbered."""
        out = set(skipped)
        self.book.import_issued([r for i, r in enumerate(prepared.refs) if i not in out], block)

    def _status_of(self, ref, event_hash: bytes) -> tuple[RefStatus | None, bytes | None]:
        """The status the book alone can tell (never given a number: unused; seen issued: used), else (None, the
        on-chain ref whose number the ledger is to be asked about)."""
        known = self.book.ref_of(event_hash)
        if known is None:
            return RefStatus(ref, None, False), None
        ref32, block = known
        return (RefStatus(ref, ref32, True), None) if block is not None else (None, ref32)

    def _ref_state_call(self, ref32: bytes) -> bytes:
        return self.codec.ref_state_fn.encode(self.scheme, ref32)

    def _book_sync_steps(self, force: bool):
        """The book's reading of the chain, as JSON-RPC requests (method, params) it yields and answers it is
        sent back (each client runs it with its own I/O): the scheme's PointsIssued and PointsRevoked logs (every
        issuer account's: they share the scheme's sequence numbers) since
        the block the book last read, all of them when the chain is not the one it read (a new book, a reset
        chain, a reorganisation below that block). At most once a `book_read_s` unless `force`."""
        now = time.monotonic()
        if not force and now - self._book_read_at < self.config.book_read_s:
            return
        head = yield "eth_getBlockByNumber", ["latest", False]
        start, synced = 0, self.book.synced
        if synced is not None:
            block = yield "eth_getBlockByNumber", [hex(synced[0]), False]
            if block is not None and block["hash"] == synced[1]:
                start = synced[0] + 1
            else:
                self.book.forget_chain()
        end = int(head["number"], 16)
        scheme = "0x" + self.scheme.to_bytes(32, "big").hex()
        for lo in range(start, end + 1, BOOK_READ_BLOCKS):
            span = {"address": self.ledger, "fromBlock": hex(lo), "toBlock": hex(min(end, lo + BOOK_READ_BLOCKS - 1))}
            for log in (yield "eth_getLogs", [{**span, "topics": [self.codec.issued.topic0, scheme]}]):
                f = event_fields(self.codec.issued, log["data"], ("refs", "skipped"))
                out = set(f["skipped"])
                self.book.import_issued([_word(r) for i, r in enumerate(f["refs"]) if i not in out],
                                        int(log["blockNumber"], 16))
            for log in (yield "eth_getLogs", [{**span, "topics": [self.codec.revoked.topic0, scheme]}]):
                self.book.import_issued([_word(event_fields(self.codec.revoked, log["data"], ("ref",))["ref"])],
                                        int(log["blockNumber"], 16))
        self.book.set_synced(end, head["hash"])
        self._book_read_at = now

    def _allowance_calls(self, resident: str | None) -> list[bytes]:
        calls = [self.codec.scheme_info_fn.encode(self.scheme), self.codec.quota_used_fn.encode(self.scheme),
                 self.codec.today_fn.encode()]
        if resident is not None:
            calls.append(self.codec.received_fn.encode(self.scheme, resident))
        return calls

    def _allowance_of(self, answers: list[str], resident: str | None) -> Allowance:
        info = self.codec.decode_scheme_info(answers[0])
        return Allowance(self.scheme, self.codec.decode_uint(answers[2]), info["issuerDailyQuota"],
                         self.codec.decode_uint(answers[1]),
                         info["residentDailyCap"] if resident is not None else None,
                         self.codec.decode_uint(answers[3]) if resident is not None else None)

    def _call_object(self, data: bytes, *, sender: bool = False) -> dict:
        call = {"to": self.ledger, "data": "0x" + data.hex()}
        return {"from": self.signer.address, **call} if sender else call

    # -- batches and gas -----------------------------------------------------------------------------------------

    def _batch_size_within(self, block_gas_limit: int) -> int:
        fit = int(block_gas_limit * self.config.block_fill - self.config.gas_base) // self.config.gas_per_item_bound
        return max(1, min(self.config.max_batch_items, fit))

    def _batch_gas_within(self, prepared: "_Prepared", block_gas_limit: int) -> int:
        """Until a mined batch taught the gas an item takes, the bound; then what was learnt, with a margin.
        (No eth_estimateGas: it would run every batch twice. An underestimate is caught: see _check_receipt.)"""
        n = len(prepared.items)
        per_item = self._gas_per_item or self.config.gas_per_item_bound
        margin = self.config.gas_margin if self._gas_per_item else 1.0
        return min(int(n * per_item * margin) + self.config.gas_base, int(block_gas_limit * self.config.block_fill))

    def _learn_gas(self, gas_used: int, issued: int) -> None:
        """The gas an item takes, from a batch's gas over its issued items (duplicates cost little)."""
        self._gas_per_item = learnt_gas_per_item(self._gas_per_item, gas_used, issued, self.config.gas_per_item_floor)

    def _log_scan_at(self, head: int) -> "LogScan":
        return LogScan(self.ledger, self.codec.topic_issued, self.scheme, self.signer.address, head)

    @staticmethod
    def _out_of_gas(receipt: dict, gas: int) -> bool:
        """A failed transaction that used (almost) all its gas ran out: the whole call reverted, safe to re-send."""
        return int(receipt["gasUsed"], 16) >= gas * 0.97

    def _resend_gas(self, gas: int, estimate: int, block_gas_limit: int, attempted: dict) -> int | None:
        """The gas to re-send an out-of-gas transaction with, or None when no more would fit; a batch's gas an
        item is raised to match."""
        new_gas = gas_after_out_of_gas(gas, estimate, self.config, int(block_gas_limit * self.config.block_fill))
        if new_gas <= gas:
            return None
        if attempted.get("count"):
            self._gas_per_item = max(self._gas_per_item or 0, new_gas // attempted["count"])
        return new_gas

    def _send_refusal(self, exc: errors.RpcError) -> str | None:
        """What a refused eth_sendRawTransaction means: "known" (the node has this transaction: a success),
        "nonce_used" (the nonce is taken: ours if the node has our hash, else a conflict), or None."""
        text = exc.rpc_message.lower()
        if "already known" in text or "already imported" in text or "known transaction" in text:
            return "known"
        if "nonce too low" in text or "nonce is too low" in text or "already used" in text:
            return "nonce_used"
        return None

    def _nonce_conflict(self, exc: errors.RpcError, h: str, attempted: dict) -> errors.NonceConflict:
        return errors.NonceConflict(f"nonce {attempted.get('nonce')} was used by another transaction of "
                                    f"{self.signer.address}", rpc_code=exc.rpc_code, rpc_message=exc.rpc_message,
                                    attempted=attempted, tx_hash=h)


class IssuerClient(_ClientCore):
    def __init__(self, rpc_url: str, ledger_address: str, signer: Signer, scheme: int, salt: bytes | str, *,
                 chain_id: int | None = None, abi: list[dict] | None = None, config: ClientConfig | None = None,
                 book: SequenceBook | str | Path | None = None):
        super().__init__(rpc_url, ledger_address, signer, scheme, salt, chain_id=chain_id, abi=abi, config=config,
                         book=book)
        if self.chain_id is None:
            self.chain_id = int(self.rpc.call("eth_chainId"), 16)

    def _transport(self, rpc_url: str) -> RpcTransport:
        return RpcTransport(rpc_url, timeout=self.config.request_timeout_s, retry=self.config.retry)

    def _nonce_manager(self) -> NonceManager:
        return NonceManager(self._pending_nonce)

    # -- issuing ---------------------------------------------------------------------------------------------

    def issue(self, resident: str, amount: int, ref: str | bytes | int, *, reason: int | None = None) -> IssueResult:
        """Issue one item; status "duplicate" when the ref was used before (nothing issued, not an error)."""
        self.read_chain_into_book()
        ref32, data, attempted = self._issue_request(resident, amount, ref, reason)
        return self._issue_result(self._send_and_confirm(data, self.config.single_gas, attempted), ref, ref32)

    def issue_to_identity(self, identity_hash: str | bytes, amount: int, ref: str | bytes | int, *,
                          reason: int | None = None, rules_version: int | None = None) -> IssueResult:
        """Issue one item to a person by their keyed identity hash (the API's resident lookup answers it, never the
        identity itself): to their account if they have joined, else held on chain under the hash until they do
        (PointsLedger.issueToIdentities; registration moves it). Status "duplicate" as `issue`. `rules_version`:
        the published rules version applied (then `reason` names its rule), as `issue_many` cites."""
        h = bytes.fromhex(identity_hash[2:]) if isinstance(identity_hash, str) and identity_hash.startswith("0x") \
            else bytes(identity_hash) if isinstance(identity_hash, (bytes, bytearray)) else b""
        if len(h) != 32 or not any(h):
            raise errors.InvalidIssuance("identity_hash must be 32 bytes (0x + 64 hex digits), not zero",
                                     attempted={"identity_hash": identity_hash})
        self.read_chain_into_book()
        ref32, _, attempted = self._issue_request(self.signer.address, amount, ref, reason)  # validates amount, ref
        if rules_version is not None and reason is None:
            raise errors.InvalidIssuance("an issuance citing rules names its rule: give `reason`",
                                         attempted={"identity_hash": identity_hash, "rules_version": rules_version})
        data = self.codec.identities_data(self.scheme, rules_version or 0, [h], [amount], [ref32],
                                          [] if reason is None else [reason])
        attempted = {**attempted, "operation": "issueToIdentities", "resident": None, "identity_hash": "0x" + h.hex()}
        return self._issue_result(self._send_and_confirm(data, self.config.single_gas, attempted), ref, ref32)

    def issue_many(self, items: Iterable, *, keep_results: bool = False,
                   rules_version: int | None = None) -> IssueManySummary:
        """Issue every item of `items` (Issuance, tuples or dicts) in batches; returns the totals.

        `rules_version` cites that published version of the scheme's rules on every batch
        (PointsLedger.issueBatchCitingRules): every item then needs its reason code, the rule of that version it
        applied (see `rules_citation` to find the version of a rules hash). Memory stays flat whatever the input
        length unless `keep_results`. On a failure the error carries `summary` (what was confirmed before it)."""
        summary = IssueManySummary()
        try:
            for batch in self.stream(items, rules_version=rules_version):
                summary.add(batch, keep_results)
        except errors.IssuerError as exc:
            exc.summary = summary
            raise
        return summary

    def stream(self, items: Iterable, *, rules_version: int | None = None) -> Iterator[BatchResult]:
        """Issue `items` in batches, yielding each BatchResult as its block confirms, in input order.

        Two threads share the work: a sender thread hashes refs, encodes and signs each batch and sends it as
        soon as fewer than `max_in_flight` are unconfirmed (so the next batch is encoded while the node mines
        the last), and the caller's thread confirms them. (A third thread that only encoded made the sender
        wait for the interpreter lock: up to its 5 ms switch interval after each request, while the encoder
        held it.) If a batch fails, nothing more is sent; batches already in flight are awaited and yielded
        (marked `after_failure`), then the failure is raised."""
        self.read_chain_into_book(force=True)
        scan = self._log_scan()  # before the first send: nothing this stream sends is in a block read before
        slots = threading.Semaphore(self.config.max_in_flight)
        sent: queue.Queue = queue.Queue()
        stop = threading.Event()
        sender = threading.Thread(target=self._sender, args=(self._prepare_batches(items, rules_version), slots, sent, stop),
                                  daemon=True, name="issuer-sdk-sender")
        sender.start()
        inflight: deque[_InFlight] = deque()
        failure: errors.IssuerError | None = None
        done_sending = False
        try:
            while True:
                while not done_sending:  # take what was sent; wait only when nothing is in flight
                    try:
                        x = sent.get(block=not inflight)
                    except queue.Empty:
                        break
                    if x is _DONE:
                        done_sending = True
                    elif isinstance(x, _Raised):
                        done_sending = True
                        stop.set()
                        if not isinstance(x.exc, errors.IssuerError):
                            raise x.exc
                        failure = failure or x.exc
                    else:
                        inflight.append(x)
                if not inflight:
                    break
                before = len(inflight)
                failure = yield from self._settle_oldest(inflight, failure, scan)
                for _ in range(before - len(inflight)):
                    slots.release()
                if failure is not None:
                    stop.set()
        finally:
            stop.set()
            sender.join(timeout=5)
            for f in inflight:  # left unconfirmed by an exception: nothing will rebroadcast them now
                self._unconfirmed.pop(f.tx_hash, None)
        if failure is not None:
            raise failure

    def _sender(self, batches: Iterator["_Prepared"], slots: threading.Semaphore, sent: queue.Queue,
                stop: threading.Event) -> None:
        try:
            for prepared in batches:
                while not slots.acquire(timeout=0.05):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                sent.put(self._send_batch(prepared))
        except BaseException as exc:  # a malformed item, a failed send: handed to the confirming thread
            sent.put(_Raised(exc))
        finally:
            sent.put(_DONE)

    def revoke(self, resident: str, amount: int, ref: str | bytes | int, reason: int = 0) -> RevokeResult:
        """Correction: take back `amount` from `resident`. `ref` is this correction's own id (same namespace
        as issuance refs); status "duplicate" when it was used before."""
        self.read_chain_into_book()
        ref32, data, attempted = self._revoke_request(resident, amount, ref, reason)
        return self._revoke_result(self._send_and_confirm(data, self.config.single_gas, attempted), ref, ref32)

    # -- reading ---------------------------------------------------------------------------------------------

    def status(self, ref: str | bytes | int) -> RefStatus:
        return self.statuses([ref])[0]

    def statuses(self, refs: list) -> list[RefStatus]:
        """Whether each ref was issued, in order: the sequence book answers (after reading the chain's new events),
        and the ledger for numbers given but not seen issued, in JSON-RPC batches of STATUS_BATCH eth_calls (the
        dry run of `citypoints issue` asks it which refs the ledger would skip)."""
        self.read_chain_into_book(force=True)
        out: list[RefStatus | None] = []
        ask: list[tuple[int, bytes]] = []
        for ref in refs:
            known, ref32 = self._status_of(ref, self.hash_ref(ref))
            out.append(known)
            if known is None:
                ask.append((len(out) - 1, ref32))
        for i in range(0, len(ask), STATUS_BATCH):
            chunk = ask[i:i + STATUS_BATCH]
            answers = self._call_many([self._ref_state_call(r) for _, r in chunk])
            for (k, r), a in zip(chunk, answers):
                out[k] = RefStatus(refs[k], r, self.codec.decode_uint(a) == REF_USED)
        return out

    def read_chain_into_book(self, force: bool = False) -> None:
        """Bring the sequence book up to the chain's head (see `_book_sync_steps`)."""
        steps = self._book_sync_steps(force)
        answer = None
        while True:
            try:
                method, params = steps.send(answer)
            except StopIteration:
                return
            answer = self.rpc.call(method, params, attempted={"operation": "read the sequence book's events",
                                                               "method": method})

    def balance(self, resident: str) -> int:
        return self.codec.decode_uint(self._call(self.codec.balance_fn.encode(resident, self.scheme)))

    def allowance(self, resident: str | None = None) -> Allowance:
        return self._allowance_of(self._call_many(self._allowance_calls(resident)), resident)

    def quota_remaining(self) -> int:
        return self.allowance().quota_remaining

    def cap_remaining(self, resident: str) -> int:
        return self.allowance(resident).cap_remaining

    def close(self) -> None:
        self.rpc.close()
        self.book.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- batches ---------------------------------------------------------------------------------------------

    def _prepare_batches(self, items: Iterable, rules_version: int | None = None) -> Iterator["_Prepared"]:
        return prepare_batches(items, self._batch_size(), self.scheme, self.hash_ref, self.codec, self.book.assign,
                               rules_version=rules_version)

    def rules_citation(self, rules_sha256: str, version: int | None = None, *,
                       required: bool = True) -> int | None:
        """The version of this scheme's published rules whose document hash is `rules_sha256` (hex): the newest
        such version, or `version` after checking that its hash is this one. Raises RulesNotPublished (nothing
        is sent) when the registry holds no such version, so a run never cites rules it does not apply; with
        `required=False` a scheme that has published no rules at all (or a ledger without a registry) gives None:
        there is nothing to cite, and the batches go uncited as before."""
        registry = "0x" + self._call(self.codec.scheme_registry_fn.encode())[-40:]
        want = bytes.fromhex(rules_sha256.removeprefix("0x"))
        attempted = {"operation": "rules_citation", "scheme": self.scheme, "rulesSha256": want.hex(),
                     "version": version, "registry": registry}
        if int(registry, 16) == 0:
            if not required and version is None:
                return None
            raise errors.RulesNotPublished("the ledger knows no SchemeRegistry: no rules are published",
                                           attempted=attempted)
        latest = self.codec.decode_uint(self._call_at(registry, _RULES_VERSION + abi_encode(["uint256"], [self.scheme])))
        if latest == 0 and not required and version is None:
            return None
        candidates = [version] if version is not None else list(range(latest, 0, -1))
        hashes = self._call_many_at(registry, [_RULES_HASH + abi_encode(["uint256", "uint32"], [self.scheme, v])
                                               for v in candidates if 0 < v <= latest]) if latest else []
        for v, h in zip([v for v in candidates if 0 < v <= latest], hashes):
            if bytes.fromhex(h[2:].rjust(64, "0")) == want:
                return v
        if version is not None:
            found = hashes[0] if hashes else None
            raise errors.RulesNotPublished(
                f"version {version} of scheme {self.scheme}'s rules is "
                f"{'not published' if found is None else 'the document with sha256 ' + found[2:]}, not this one "
                f"(sha256 {want.hex()})", attempted=attempted)
        raise errors.RulesNotPublished(
            f"no published version of scheme {self.scheme}'s rules (latest: {latest or 'none'}) has sha256 "
            f"{want.hex()}: governance publishes a rules document with `citypoints gov propose publish-rules`",
            attempted=attempted)

    def _call_at(self, to: str, data: bytes) -> str:
        return self.rpc.call("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])

    def _call_many_at(self, to: str, datas: list[bytes]) -> list[str]:
        answers = self.rpc.batch([("eth_call", [{"to": to, "data": "0x" + d.hex()}, "latest"]) for d in datas])
        return [unwrap(a, "eth_call") for a in answers]

    def _send_batch(self, prepared: "_Prepared") -> "_InFlight":
        attempted = _batch_attempted(self.scheme, prepared)
        gas = self._batch_gas_within(prepared, self._gas_limit_of_block())
        h, nonce = self._send(prepared.data, gas, attempted)
        attempted["nonce"] = nonce
        return _InFlight(prepared, h, gas, attempted, time.monotonic())

    def _settle_oldest(self, inflight: deque, failure, scan: "LogScan"):
        """Wait until the oldest batch in flight is mined; yield it and every later one already mined.

        Confirmation reads the account's mined nonce and this issuer's PointsIssued logs (the outcome of
        each batch: skipped indices, issued amount) rather than full receipts, which carry one TransferSingle
        log an item (about 900 KB for 1,000 items, as long to fetch and parse as a quarter of the batch's own
        execution). A batch mined without its PointsIssued log failed: only then is its receipt read. The first
        batch that issues anything teaches the gas an item takes (`_gas_of`)."""
        first = inflight[0]
        mined = self._wait_mined(first.attempted["nonce"], first.attempted, first.tx_hash)
        while inflight and inflight[0].attempted["nonce"] < mined:
            f = inflight.popleft()
            self._unconfirmed.pop(f.tx_hash, None)
            hit = self._claim_log(scan, f)
            if hit is not None:
                block, data = hit
                skipped, issued_amount = self.codec.outcome_from_data(data)
                self._record_batch(f.prepared, skipped, block)
                gas_used = None
                if self._gas_per_item is None and len(skipped) < len(f.prepared.items):
                    gas_used = self._gas_of(f, block)
                    self._learn_gas(gas_used, len(f.prepared.items) - len(skipped))
            else:  # failed: the receipt decodes the failure (or re-sends a batch that ran out of gas)
                receipt = self._wait_receipts([f.tx_hash], f.attempted, need=1)[f.tx_hash]
                try:
                    receipt = self._check_receipt(receipt, f.prepared.data, f.gas, f.attempted)
                except errors.IssuerError as exc:
                    if failure is None:
                        failure = exc
                    continue
                skipped, issued_amount = self.codec.batch_outcome(receipt, self.ledger)
                if len(skipped) < len(f.prepared.items):  # duplicates cost little: learn from issued items
                    self._learn_gas(int(receipt["gasUsed"], 16), len(f.prepared.items) - len(skipped))
                block, gas_used = int(receipt["blockNumber"], 16), int(receipt["gasUsed"], 16)
                self._record_batch(f.prepared, skipped, block)
            yield BatchResult(f.prepared.items, f.tx_hash, block, skipped, issued_amount, gas_used,
                              after_failure=failure is not None)
        return failure

    def _rebroadcast_if_dropped(self, h: str, attempted: dict) -> None:
        """A node may drop a transaction it accepted (anvil with a block time drops one that does not fit the
        block being built; a restarted node forgets its pool). Re-send the same signed bytes: same hash, same
        nonce, so it can never count twice."""
        raw = self._unconfirmed.get(h)
        if raw is not None and self.rpc.call("eth_getTransactionByHash", [h], attempted=attempted) is None:
            self._send_raw(raw, {**attempted, "rebroadcast": h})

    def _wait_mined(self, nonce: int, attempted: dict, h: str) -> int:
        """Poll the account's mined transaction count until it passes `nonce`; returns the count."""
        deadline = time.monotonic() + self.config.confirm_timeout_s
        pause = self.config.poll_first_s
        check_at = time.monotonic() + self.config.rebroadcast_after_s
        while True:
            if time.monotonic() > check_at:
                self._rebroadcast_if_dropped(h, attempted)
                check_at = time.monotonic() + self.config.rebroadcast_after_s
            mined = int(self.rpc.call("eth_getTransactionCount", [self.signer.address, "latest"],
                                      attempted=attempted), 16)
            if mined > nonce:
                return mined
            if time.monotonic() > deadline:
                raise errors.ConfirmationTimeout(f"not mined within {self.config.confirm_timeout_s:.0f}s",
                                                 attempted=attempted, tx_hash=h, sent=True)
            time.sleep(pause)
            pause = min(pause * 2, self.config.poll_max_s)

    def _read_logs(self, scan: "LogScan") -> None:
        scan.add(self.rpc.call("eth_getLogs", scan.params(), attempted=scan.attempted()))

    def _claim_log(self, scan: "LogScan", f: "_InFlight") -> tuple[int, bytes] | None:
        """The mined batch's PointsIssued log, or None: it failed. The logs are read only if an earlier read
        did not bring it already. A node may count a transaction as mined a moment before it serves the block
        that holds it (anvil does), so a missing log is looked for again a few times before the batch is taken
        for failed; its receipt then tells, a costly read if it did not fail (about 900 KB for 1,000 items)."""
        hit = scan.claim(f.tx_hash)
        pause = self.config.poll_first_s
        for look in range(LOG_LOOKS):
            if hit is not None:
                break
            if look:
                time.sleep(pause)
                pause *= 2
            self._read_logs(scan)
            hit = scan.claim(f.tx_hash)
        return hit

    def _log_scan(self) -> "LogScan":
        return self._log_scan_at(int(self.rpc.call("eth_blockNumber"), 16))

    def _gas_of(self, f: "_InFlight", block: int) -> int:
        """Gas used by a mined batch: its block's gasUsed when the batch had the block to itself (a header of a
        few hundred bytes), else its receipt's (one log an item: about 900 KB for 1,000 items)."""
        header = self.rpc.call("eth_getBlockByNumber", [hex(block), False], attempted=f.attempted)
        if [h.lower() for h in header["transactions"]] == [f.tx_hash.lower()]:
            return int(header["gasUsed"], 16)
        return int(self._wait_receipts([f.tx_hash], f.attempted, need=1)[f.tx_hash]["gasUsed"], 16)

    def _batch_size(self) -> int:
        return self._batch_size_within(self._gas_limit_of_block())

    # -- sending and confirming ------------------------------------------------------------------------------

    def _send_and_confirm(self, data: bytes, gas: int, attempted: dict) -> dict:
        h, nonce = self._send(data, gas, attempted)
        attempted = {**attempted, "nonce": nonce}
        try:
            receipt = self._wait_receipts([h], attempted, need=1)[h]
        finally:
            self._unconfirmed.pop(h, None)
        return self._check_receipt(receipt, data, gas, attempted)

    def _send(self, data: bytes, gas: int, attempted: dict) -> tuple[str, int]:
        """Sign with the next nonce and send; returns (tx hash, nonce). Re-signs once after a nonce conflict."""
        for attempt in range(2):
            try:
                with self.nonces.reserve() as nonce:
                    raw = sign_tx(self.signer, UnsignedTx(self.chain_id, nonce, gas, self._ledger_bytes, data))
                    h = self._send_raw(raw, {**attempted, "nonce": nonce})
                    self._unconfirmed[h] = raw
                    return h, nonce
            except errors.NonceConflict:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _send_raw(self, raw: bytes, attempted: dict) -> str:
        h = tx_hash(raw)
        try:
            answer = self.rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()], attempted=attempted)
        except errors.RpcError as exc:
            return self._already_sent(exc, h, attempted)
        except errors.TransportError as exc:
            exc.tx_hash = h
            raise
        return answer or h

    def _already_sent(self, exc: errors.RpcError, h: str, attempted: dict) -> str:
        """A re-sent transaction the node already has is a success; another one at our nonce is a conflict."""
        refusal = self._send_refusal(exc)
        if refusal == "known" or (refusal == "nonce_used" and self.rpc.call("eth_getTransactionByHash", [h])):
            return h
        if refusal == "nonce_used":
            raise self._nonce_conflict(exc, h, attempted) from exc
        exc.tx_hash = h
        raise exc

    def _wait_receipts(self, hashes: list[str], attempted: dict, need: int) -> dict[str, dict]:
        """Poll until at least the first `need` hashes have receipts; returns every receipt found."""
        deadline = time.monotonic() + self.config.confirm_timeout_s
        pause = self.config.poll_first_s
        check_at = time.monotonic() + self.config.rebroadcast_after_s
        while True:
            if time.monotonic() > check_at:
                self._rebroadcast_if_dropped(hashes[0], attempted)
                check_at = time.monotonic() + self.config.rebroadcast_after_s
            if len(hashes) == 1:
                found = self.rpc.call("eth_getTransactionReceipt", hashes, attempted=attempted)
                receipts = {hashes[0]: found} if found else {}
            else:
                answers = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes], attempted=attempted)
                receipts = {h: a["result"] for h, a in zip(hashes, answers) if a.get("result")}
            if all(h in receipts for h in hashes[:need]):
                return receipts
            if time.monotonic() > deadline:
                raise errors.ConfirmationTimeout(f"no receipt within {self.config.confirm_timeout_s:.0f}s",
                                                 attempted=attempted, tx_hash=hashes[0], sent=True)
            time.sleep(pause)
            pause = min(pause * 2, self.config.poll_max_s)

    def _check_receipt(self, receipt: dict, data: bytes, gas: int, attempted: dict) -> dict:
        """The receipt if it succeeded; re-sends with more gas if it ran out; else the error."""
        if int(receipt["status"], 16) == 1:
            return receipt
        h = receipt["transactionHash"]
        block = int(receipt["blockNumber"], 16)
        if self._out_of_gas(receipt, gas):
            new_gas = self._resend_gas(gas, self._estimate(data, attempted), self._gas_limit_of_block(), attempted)
            if new_gas is not None:
                return self._send_and_confirm(data, new_gas, {**attempted, "resentAfterOutOfGas": h})
        raise self._revert_reason(data, block, attempted, h, receipt)

    def _revert_reason(self, data: bytes, block: int, attempted: dict, h: str, receipt: dict) -> errors.IssuerError:
        call = self._call_object(data, sender=True)
        for at in (block, block - 1):
            try:
                self.rpc.call("eth_call", [call, hex(at)], attempted=attempted)
            except errors.ContractError as exc:
                exc.attempted, exc.tx_hash, exc.receipt = attempted, h, receipt
                return exc
            except errors.IssuerError:
                break
        return errors.TransactionReverted("reverted; the node did not say why", attempted=attempted, tx_hash=h,
                                          receipt=receipt)

    def _estimate(self, data: bytes, attempted: dict) -> int:
        return int(self.rpc.call("eth_estimateGas", [self._call_object(data, sender=True)], attempted=attempted), 16)

    def _call(self, data: bytes) -> str:
        return self.rpc.call("eth_call", [self._call_object(data), "latest"],
                             attempted={"operation": "call", "ledger": self.ledger})

    def _call_many(self, datas: list[bytes]) -> list[str]:
        answers = self.rpc.batch([("eth_call", [self._call_object(d), "latest"]) for d in datas])
        return [unwrap(a, "eth_call") for a in answers]

    def _pending_nonce(self) -> int:
        return int(self.rpc.call("eth_getTransactionCount", [self.signer.address, "pending"]), 16)

    def _gas_limit_of_block(self) -> int:
        if self._block_gas_limit is None:
            block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
            self._block_gas_limit = int(block["gasLimit"], 16)
        return self._block_gas_limit


def _word(value: str | bytes) -> bytes:
    """A bytes32 the event codec gave (0x-hex) as bytes."""
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def default_book_path(ledger: str, scheme: int, issuer: str) -> Path:
    """var/issuer-books/<ledger>-<scheme>-<issuer>.sqlite of this checkout (CITYPOINTS_HOME moves it)."""
    from ledger_node import paths

    return paths.var_dir() / "issuer-books" / f"{ledger.lower()}-{scheme}-{issuer.lower()}.sqlite"


def read_deployment(deployment: str | Path | dict | None = None) -> dict:
    if isinstance(deployment, dict):
        return deployment
    if deployment is None:
        from ledger_node import paths  # var/deployment.json of this checkout (CITYPOINTS_HOME moves it)

        deployment = paths.deployment_file()
    try:
        dep = json.loads(Path(deployment).read_text())
    except FileNotFoundError:
        raise errors.ConfigurationError(f"no deployment file {deployment}; run `citypoints deploy`") from None
    if "PointsLedger" not in dep.get("contracts", {}):
        raise errors.ConfigurationError(f"{deployment} has no PointsLedger address")
    return dep


# -- helpers (shared with the async client) ----------------------------------------------------------------------

def prepare_batches(items: Iterable, size: int, scheme: int, hash_ref, codec: LedgerCodec, assign, *,
                    rules_version: int | None = None) -> Iterator["_Prepared"]:
    """Validate, hash and encode `items` into batches of at most `size`; `assign` (the sequence book's) gives each
    batch's on-chain refs, durably, before the batch is encoded. With `rules_version` every batch cites it, and an
    item without a reason code is refused."""
    if rules_version is not None and (type(rules_version) is not int or not 0 < rules_version <= UINT32_MAX):
        raise errors.InvalidIssuance(f"a rules version is a uint32 above 0, got {rules_version!r}",
                                     attempted={"rulesVersion": rules_version})
    batch: list[Issuance] = []
    residents: list[bytes] = []
    amounts: list[bytes] = []
    refs: list[bytes] = []
    reasons: list[int | None] = []
    with_reason = False
    for raw in items:
        item = _coerce(raw)
        try:
            r, a, f = item_words(item, hash_ref(item.ref))
            if item.reason is not None:
                reason_word(item.reason)
                with_reason = True
            elif rules_version is not None:
                raise ValueError(f"item {item.ref!r} has no reason code: a batch citing rules names each item's rule")
        except (ValueError, TypeError) as exc:
            raise errors.InvalidIssuance(f"{exc} (item {len(batch) + 1} of its batch)",
                                         attempted={"item": item}) from None
        batch.append(item)
        residents.append(r)
        amounts.append(a)
        refs.append(f)
        reasons.append(item.reason)
        if len(batch) >= size:
            yield _prepared(batch, residents, amounts, assign(refs), reasons, with_reason, scheme, codec, rules_version)
            batch, residents, amounts, refs, reasons, with_reason = [], [], [], [], [], False
    if batch:
        yield _prepared(batch, residents, amounts, assign(refs), reasons, with_reason, scheme, codec, rules_version)


def _prepared(batch, residents, amounts, refs, reasons, with_reason, scheme, codec, rules_version) -> "_Prepared":
    data = codec.batch_data(scheme, residents, amounts, refs,
                            [reason_word(x) for x in reasons] if with_reason else None, rules_version)
    return _Prepared(batch, data, with_reason, rules_version, refs)


def learnt_gas_per_item(known: int | None, gas_used: int, issued: int, floor: int) -> int:
    """What a batch teaches of the gas an item takes: never below `floor` (a batch of duplicates is cheap), and
    never lowered by a later, cheaper batch."""
    return max(known or 0, (gas_used - 21_000) // max(issued, 1), floor)


def gas_after_out_of_gas(gas: int, estimate: int, config: ClientConfig, cap: int) -> int:
    """Gas to re-send a transaction that ran out with `gas`: the estimate with its margin, yet at least `gas`
    with the margin, since the estimate runs on the chain as it is now, which batches mined since (a re-sent
    one writing the same residents first) can have made cheaper than the state the transaction met. At most
    `cap` (the share of the block gas limit a batch may take)."""
    return min(cap, max(int(estimate * config.gas_margin) + config.gas_base, int(gas * config.gas_margin)))


# the SchemeRegistry's two views a citation is checked with (the SDK carries no registry ABI)
_RULES_VERSION = _selector("rulesVersion(uint256)")
_RULES_HASH = _selector("rulesHash(uint256,uint32)")

LOG_LOOKS = 4  # reads of the logs for a mined batch whose log is missing (see IssuerClient._claim_log)


class LogScan:
    """A stream's reading of its issuer's PointsIssued logs (one scheme).

    Each query starts at the last block a log came from, first at the head when the stream began (every batch
    of the stream is mined after it): a mined block has all its logs, but a node refuses a range that starts
    past its head, and that block may be the head. Logs read before their batch settles (one sent while the
    query ran) wait until it does."""

    def __init__(self, ledger: str, topic: bytes, scheme: int, issuer: str, head: int):
        self._next = head
        self._filter = {"address": ledger, "topics": [
            "0x" + topic.hex(), "0x" + scheme.to_bytes(32, "big").hex(), "0x" + word_address(issuer).hex()]}
        self._found: dict[str, tuple[int, str]] = {}  # tx hash -> (block, data as 0x-hex)

    def params(self) -> list:
        return [{**self._filter, "fromBlock": hex(self._next), "toBlock": "latest"}]

    def attempted(self) -> dict:
        return {"operation": "eth_getLogs", "fromBlock": self._next}

    def add(self, logs: list[dict]) -> None:
        for log in logs:
            block = int(log["blockNumber"], 16)
            self._found[log["transactionHash"].lower()] = (block, log["data"])
            self._next = max(self._next, block)

    def claim(self, tx_hash: str) -> tuple[int, bytes] | None:
        """(block, data) of the batch's log if it was read. Logs of earlier blocks are dropped then: an account's
        transactions are mined in nonce order, and batches settle in nonce order."""
        hit = self._found.pop(tx_hash.lower(), None)
        if hit is None:
            return None
        block, data = hit
        self._found = {h: v for h, v in self._found.items() if v[0] >= block}
        return block, bytes.fromhex(data[2:])


@dataclass
class _Prepared:
    items: list[Issuance]
    data: bytes
    with_reason: bool
    rules_version: int | None = None
    refs: list[bytes] = field(default_factory=list)  # on-chain refs, in item order


@dataclass
class _InFlight:
    prepared: _Prepared
    tx_hash: str
    gas: int
    attempted: dict
    sent_at: float


def _batch_attempted(scheme: int, prepared: _Prepared) -> dict:
    items = prepared.items
    if prepared.rules_version is not None:
        return {"operation": "issueBatchCitingRules", "scheme": scheme, "rulesVersion": prepared.rules_version,
                "count": len(items), "firstRef": items[0].ref, "lastRef": items[-1].ref,
                "amount": sum(i.amount for i in items)}
    return {"operation": "issueBatchWithReason" if prepared.with_reason else "issueBatch", "scheme": scheme,
            "count": len(items), "firstRef": items[0].ref, "lastRef": items[-1].ref,
            "amount": sum(i.amount for i in items)}


_DONE = object()  # the sender's last word on its queue


@dataclass
class _Raised:
    exc: BaseException
