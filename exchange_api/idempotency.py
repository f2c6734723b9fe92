"""Idempotency-Key on every state-changing request (Stripe's rule): the same key with the same body answers
the first answer again (header `Idempotent-Replayed: true`); the same key with another body answers 409
`idempotency_key_reused`; a key whose first request is still running answers 409 `idempotency_in_progress`.
Keys are scoped by the caller (API key, or the resident for resident-signed requests). 4xx answers are kept like
successes (retrying them gives the same answer); 5xx answers are not kept, so a retry runs again.
An answer that carries a secret (a webhook endpoint's signing secret: `idempotent(..., sealed=True)`) is kept
only encrypted (AES-GCM with the PII key, bound to its scope and key), so the table never holds it in clear.
A handler answers what its service returns; the router's `answer` turns that into the status and body kept and
sent (routers/__init__.py), so the HTTP status of a success is chosen there only.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.exc import IntegrityError

from exchange_api import crypto
from exchange_api.errors import ApiError, Conflict, InvalidRequest
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
    claim: asyncio.Future
    answer: Answer  # the router's translation of the handler's result
    kept: bool = False  # the handler recorded its answer in its own write (`kept_row`)


_SLOT: ContextVar[Slot | None] = ContextVar("idempotency_slot", default=None)


class _KeyTaken(Exception):
    pass


def current() -> Slot | None:
    return _SLOT.get()


async def claimed() -> None:
    """A taking-part handler awaits this before its first side effect: until then its checks (signature,
    simulation) run while the key's claim is being written."""
    slot = _SLOT.get()
    if slot is not None:
        try:
            await slot.claim
        except IntegrityError:
            raise _KeyTaken() from None


def kept_row(slot: Slot, result) -> tuple:
    """(statement, params) that records the answer to `result` (what the handler will return), for the handler to
    write with its own rows (one database write fewer). The handler sets `slot.kept` once that write committed."""
    return KEEP, _kept(slot.scope, slot.key, *slot.answer(result))


class Idempotency:
    """Runs a state-changing request under its Idempotency-Key (see the module docstring)."""

    def __init__(self, store: Store, pii_key: bytes):
        self.store = store
        self.pii_key = pii_key  # seals answers that carry a secret (`sealed=True`)

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

        def claim(s):
            s.execute(CLAIM, {"scope": scope, "key": key, "request_hash": digest})

        store = self.store
        claim_write = asyncio.ensure_future(store.write(claim, isolated=False))  # a taken key is rare
        slot = Slot(scope, key, claim_write, answer)
        if not overlap:
            try:
                await claim_write
            except IntegrityError:
                return await self._replay(scope, key, digest)
        keep = (lambda p: self._seal(scope, key, p)) if sealed else (lambda p: p)
        token = _SLOT.set(slot if overlap else None)
        try:
            status, payload = answer(await handler())
        except _KeyTaken:
            return await self._replay(scope, key, digest)
        except ApiError as exc:
            try:
                await claim_write  # a handler that failed before claimed(): whose key is it?
            except IntegrityError:
                return await self._replay(scope, key, digest)
            if exc.status >= 500:
                await store.write(lambda s: _forget(s, scope, key))
                raise
            payload, status = exc.body(request.state.request_id), exc.status
            await store.write(lambda s: _keep(s, scope, key, status, keep(payload)), isolated=False)
            return JSONResponse(payload, status, headers=exc.headers)
        except BaseException:
            if await _ours(claim_write):  # an unexpected failure: let a retry run again
                await store.write(lambda s: _forget(s, scope, key))
            raise
        finally:
            _SLOT.reset(token)
        if not slot.kept:
            await store.write(lambda s: _keep(s, scope, key, status, keep(payload)), isolated=False)
        return JSONResponse(payload, status)

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


async def _ours(claim_write: asyncio.Future) -> bool:
    try:
        await claim_write
        return True
    except Exception:  # noqa: BLE001 - taken by another request, or never written
        return False


SEALED = "$sealed"


def _keep(s, scope, key, status, payload):
    s.execute(KEEP, _kept(scope, key, status, payload))


def _kept(scope, key, status, payload) -> dict:
    return {"k_scope": scope, "k_key": key, "status_code": status, "body": json.dumps(payload)}


def _forget(s, scope, key):
    s.execute(FORGET, {"k_scope": scope, "k_key": key})
