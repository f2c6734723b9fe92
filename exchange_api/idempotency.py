"""Idempotency-Key on every state-changing request (Stripe's rule): the same key with the same body answers
the first answer again (header `Idempotent-Replayed: true`); the same key with another body answers 409
`idempotency_key_reused`; a key whose first request is still running answers 409 `idempotency_in_progress`.
Keys are scoped by the caller (API key, or the resident for resident-signed requests). 4xx answers are kept like
successes (retrying them gives the same answer); 5xx answers are not kept, so a retry runs again.
An answer that carries a secret (a webhook endpoint's signing secret: `idempotent(..., sealed=True)`) is kept
only encrypted (AES-GCM with the PII key, bound to its scope and key), so the table never holds it in clear.
A handler answers what its service returns; the router's `answer` turns that into the status and body kept and
sent (routers/__init__.py), so the HTTP status of a success is chosen there only.

A key is claimed by a row written before the handler runs, except for a handler that takes part
(`run(..., overlap=True)`: a redemption): there the row goes in with the handler's own rows (`row`), its answer in
it when known then, in the same transaction, and the handler looks for the key among the rows (`KeyTaken`) with
whatever else it reads before its first side effect (the relayer's check of its batch, one read for the batch). The
claim's write was a second trip through the store's one writer on a redemption's path, behind a background write at
worst (68 ms at p99 at 200 redemptions a second on the 2-core machine); a read of the key per request cost more CPU
than the write saved (4.24 against 3.56 ms a redemption). Two requests with one key in this process: the second is
409 `idempotency_in_progress` (or `idempotency_key_reused`) at once; in two processes, the second's row is refused by
the key at its write and it is answered as a replay. The relayer's check reads the store only for a key that
`KeptKeys`, a Bloom filter of the keys the store keeps (loaded at start, grown by every key this process writes),
cannot clear: a fresh key, nearly every request's, costs no read; a key another process wrote since the load is
refused by the store's unique key at the write, as above.
"""
from __future__ import annotations

import base64
import hashlib
import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from exchange_api import crypto
from exchange_api.errors import ApiError, Conflict, InvalidRequest
from exchange_api.id_filter import MIN_CAPACITY, IdFilter
from exchange_api.store.db import Store
from exchange_api.store.models import IdempotencyRecord

R = TypeVar("R")
Answer = Callable[[Any], tuple[int, dict]]  # a service's result -> (HTTP status, body)
RECORDS = IdempotencyRecord.__table__  # Core statements: three per request, the ORM's bookkeeping is not needed
CLAIM = insert(RECORDS)
_THIS = (RECORDS.c.scope == bindparam("k_scope"), RECORDS.c.key == bindparam("k_key"))
KEEP = update(RECORDS).where(*_THIS)
FORGET = delete(RECORDS).where(*_THIS, RECORDS.c.status_code.is_(None))


@dataclass
class Slot:
    """The Idempotency-Key a request holds, for handlers that take part (`Idempotency.run(..., overlap=True)`)."""
    scope: str
    key: str
    request_hash: str
    answer: Answer  # the router's translation of the handler's result
    written: bool = False  # the handler wrote the key's row with its own rows (`row`)
    kept: bool = False  # ... with its answer in it


_SLOT: ContextVar[Slot | None] = ContextVar("idempotency_slot", default=None)


class KeyTaken(Exception):
    """Raised by a taking-part handler that found its key held by another request's row: answered as a replay."""


def key_id(scope: str, key: str) -> str:
    """A kept key's id in `KeptKeys`: 256 bits of blake2b over its scope and key."""
    return "0x" + hashlib.blake2b(f"{scope}\n{key}".encode(), digest_size=32).hexdigest()


def kept_key_ids(s) -> list[str]:
    return [key_id(scope, key) for scope, key in s.execute(select(RECORDS.c.scope, RECORDS.c.key))]


class KeptKeys(IdFilter):
    """The keys the store keeps, as `id_filter.IdFilter`: `possible(key_id(scope, key))`."""

    def __init__(self, capacity: int = MIN_CAPACITY):
        super().__init__(kept_key_ids, "idempotency keys", capacity)


def current() -> Slot | None:
    return _SLOT.get()


def row(slot: Slot, result=None) -> tuple:
    """(statement, params): the key's row, for the handler to write with its own rows (one database write fewer),
    with the answer to `result` (what the handler will return) when known, else as a claim. The handler sets
    `slot.written` (and `slot.kept` with an answer) once that write committed; a row the key refuses (another
    request's, written meanwhile) fails the handler's write with IntegrityError, answered as a replay."""
    return CLAIM, _row(slot, *(slot.answer(result) if result is not None else (None, None)))


def _row(slot: Slot, status: int | None, payload: dict | None) -> dict:
    return {"scope": slot.scope, "key": slot.key, "request_hash": slot.request_hash, "status_code": status,
            "body": None if payload is None else json.dumps(payload)}


class Idempotency:
    """Runs a state-changing request under its Idempotency-Key (see the module docstring)."""

    def __init__(self, store: Store, pii_key: bytes):
        self.store = store
        self.pii_key = pii_key  # seals answers that carry a secret (`sealed=True`)
        self._running: dict[tuple[str, str], str] = {}  # keys of taking-part handlers running here: request hash
        self.kept = KeptKeys()  # the keys the store keeps: loaded by `start`, each key written here added

    async def run(self, request: Request, scope: str, body, handler: Callable[[], Awaitable[R]],
                  answer: Callable[[R], tuple[int, dict]], *, overlap: bool = False,
                  sealed: bool = False) -> JSONResponse:
        """`handler()` once per key and request; `answer(result)` its status and body, kept for a replay."""
        key = request.headers.get("idempotency-key")
        if key is None:
            status, payload = answer(await handler())
            return JSONResponse(payload, status)
        if not key or len(key) > 255:
            raise InvalidRequest("Idempotency-Key must be 1 to 255 characters", code="invalid_idempotency_key",
                                 field="Idempotency-Key")
        digest = hashlib.sha256(json.dumps([request.method, request.url.path, body], sort_keys=True,
                                           default=str).encode()).hexdigest()

        keep = (lambda p: self._seal(scope, key, p)) if sealed else (lambda p: p)
        if overlap:
            return await self._run_taking_part(request, scope, key, digest, handler, answer, keep)

        def claim(s):
            s.execute(CLAIM, {"scope": scope, "key": key, "request_hash": digest})
        store = self.store
        try:
            await store.write(claim, isolated=False)
        except IntegrityError:
            return await self._replay(scope, key, digest)
        self.kept.add([key_id(scope, key)])
        try:
            status, payload = answer(await handler())
        except ApiError as exc:
            if exc.status >= 500:
                await store.write(lambda s: _forget(s, scope, key))
                raise
            payload, status = exc.body(request.state.request_id), exc.status
            await store.write(lambda s: _keep(s, scope, key, status, keep(payload)), isolated=False)
            return JSONResponse(payload, status, headers=exc.headers)
        except BaseException:  # an unexpected failure: let a retry run again
            await store.write(lambda s: _forget(s, scope, key))
            raise
        await store.write(lambda s: _keep(s, scope, key, status, keep(payload)), isolated=False)
        return JSONResponse(payload, status)

    async def _run_taking_part(self, request: Request, scope: str, key: str, digest: str,
                               handler: Callable[[], Awaitable[R]], answer: Answer, keep) -> JSONResponse:
        """`run` for a handler that writes the key's row with its own rows (see the module docstring)."""
        running = self._running.get((scope, key))
        if running is not None:
            if running != digest:
                raise Conflict("this Idempotency-Key was used with another request", code="idempotency_key_reused",
                               field="Idempotency-Key")
            raise Conflict("the first request with this Idempotency-Key is still running",
                           code="idempotency_in_progress")
        store = self.store
        slot = Slot(scope, key, digest, answer)
        self._running[(scope, key)] = digest
        token = _SLOT.set(slot)
        try:
            status, payload = answer(await handler())
        except KeyTaken:  # held by another request, as the handler found
            return await self._replay(scope, key, digest)
        except IntegrityError:  # the handler's write refused: by the key's row when another request wrote it
            if slot.written or not await self._held(scope, key):
                raise
            return await self._replay(scope, key, digest)
        except ApiError as exc:
            if exc.status >= 500:
                if slot.written:
                    await store.write(lambda s: _forget(s, scope, key))
                raise
            if not slot.written and await self._held(scope, key):  # refused as a retry of another request?
                return await self._replay(scope, key, digest)
            payload, status = exc.body(request.state.request_id), exc.status
            try:
                await self._record(slot, status, keep(payload))
            except IntegrityError:
                return await self._replay(scope, key, digest)
            return JSONResponse(payload, status, headers=exc.headers)
        except BaseException:
            if slot.written:  # an unexpected failure: let a retry run again
                await store.write(lambda s: _forget(s, scope, key))
            raise
        finally:
            _SLOT.reset(token)
            if slot.written:  # before the key stops answering "in progress" here: the batch check then sees it
                self.kept.add([key_id(scope, key)])
            self._running.pop((scope, key), None)
        if not slot.kept:
            try:
                await self._record(slot, status, keep(payload))
            except IntegrityError:
                return await self._replay(scope, key, digest)
        return JSONResponse(payload, status)

    def start(self) -> None:
        """Loads the kept keys in the background (until loaded, every key is looked up in the store)."""
        self.kept.start_reload(self.store)

    async def _held(self, scope: str, key: str) -> bool:
        return await self.store.run(lambda s: s.get(IdempotencyRecord, (scope, key))) is not None

    async def _record(self, slot: Slot, status: int, payload: dict) -> None:
        """The answer kept under the slot's key: in its row when the handler wrote one, else in a new row (which
        fails with IntegrityError when another request wrote the key meanwhile)."""
        if slot.written:
            await self.store.write(lambda s: _keep(s, slot.scope, slot.key, status, payload), isolated=False)
        else:
            await self.store.write(lambda s: s.execute(CLAIM, _row(slot, status, payload)))
            self.kept.add([key_id(slot.scope, slot.key)])

    async def _replay(self, scope: str, key: str, digest: str) -> JSONResponse:
        """The answer for a key claimed before: the first answer again, or 409 when it differs or still runs."""
        prior = await self.store.run(lambda s: s.get(IdempotencyRecord, (scope, key)))
        if prior is None:
            raise Conflict("this Idempotency-Key is being used; retry", code="idempotency_in_progress")
        if prior.request_hash != digest:
            raise Conflict("this Idempotency-Key was used with another request",
                           code="idempotency_key_reused", field="Idempotency-Key")
        if prior.status_code is None:
            raise Conflict("the first request with this Idempotency-Key is still running",
                           code="idempotency_in_progress")
        return JSONResponse(self._unseal(scope, key, json.loads(prior.body)), prior.status_code,
                            headers={"Idempotent-Replayed": "true"})

    def _seal(self, scope: str, key: str, payload: dict) -> dict:
        blob = crypto.seal_bytes(self.pii_key, f"idempotency:{scope}:{key}", json.dumps(payload).encode())
        return {SEALED: base64.b64encode(blob).decode()}

    def _unseal(self, scope: str, key: str, stored: dict) -> dict:
        if isinstance(stored, dict) and set(stored) == {SEALED}:
            blob = base64.b64decode(stored[SEALED])
            return json.loads(crypto.unseal_bytes(self.pii_key, f"idempotency:{scope}:{key}", blob))
        return stored


SEALED = "$sealed"


def _keep(s, scope, key, status, payload):
    s.execute(KEEP, _kept(scope, key, status, payload))


def _kept(scope, key, status, payload) -> dict:
    return {"k_scope": scope, "k_key": key, "status_code": status, "body": json.dumps(payload)}


def _forget(s, scope, key):
    s.execute(FORGET, {"k_scope": scope, "k_key": key})
