"""Idempotency-Key on every state-changing request (Stripe's rule): the same key with the same body answers
the first answer again (header `Idempotent-Replayed: true`); the same key with another body answers 409
`idempotency_key_reused`; a key whose first request is still running answers 409 `idempotency_in_progress`.
Keys are scoped by the caller (API key, or the resident for resident-signed requests). 4xx answers are kept like
successes (retrying them gives the same answer); 5xx answers are not kept, so a retry runs again.
"""
from __future__ import annotations

import hashlib
import json
from typing import Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.exc import IntegrityError

from exchange_api.errors import ApiError, Conflict, InvalidRequest
from exchange_api.store.models import IdempotencyRecord

Handler = Callable[[], Awaitable[tuple[int, dict]]]
RECORDS = IdempotencyRecord.__table__  # Core statements: three per request, the ORM's bookkeeping is not needed
CLAIM = insert(RECORDS)
_THIS = (RECORDS.c.scope == bindparam("k_scope"), RECORDS.c.key == bindparam("k_key"))
KEEP = update(RECORDS).where(*_THIS)
FORGET = delete(RECORDS).where(*_THIS, RECORDS.c.status_code.is_(None))


async def idempotent(rt, request: Request, scope: str, body, handler: Handler) -> JSONResponse:
    key = request.headers.get("idempotency-key")
    if key is None:
        status, payload = await handler()
        return JSONResponse(payload, status)
    if not key or len(key) > 255:
        raise InvalidRequest("Idempotency-Key must be 1 to 255 characters", code="invalid_idempotency_key",
                             field="Idempotency-Key")
    digest = hashlib.sha256(json.dumps([request.method, request.url.path, body], sort_keys=True,
                                       default=str).encode()).hexdigest()

    def claim(s):
        s.execute(CLAIM, {"scope": scope, "key": key, "request_hash": digest})

    try:
        await rt.store.write(claim, isolated=False)  # a taken key is rare: the group reruns isolated
    except IntegrityError:
        prior = await rt.store.run(lambda s: s.get(IdempotencyRecord, (scope, key)))
        if prior is None:
            raise Conflict("this Idempotency-Key is being used; retry", code="idempotency_in_progress")
        if prior.request_hash != digest:
            raise Conflict("this Idempotency-Key was used with another request",
                           code="idempotency_key_reused", field="Idempotency-Key")
        if prior.status_code is None:
            raise Conflict("the first request with this Idempotency-Key is still running",
                           code="idempotency_in_progress")
        return JSONResponse(json.loads(prior.body), prior.status_code, headers={"Idempotent-Replayed": "true"})
    try:
        status, payload = await handler()
    except ApiError as exc:
        if exc.status >= 500:
            await rt.store.write(lambda s: _forget(s, scope, key))
            raise
        payload = exc.body(request.state.request_id)
        await rt.store.write(lambda s: _keep(s, scope, key, exc.status, payload), isolated=False)
        return JSONResponse(payload, exc.status, headers=exc.headers)
    except BaseException:
        await rt.store.write(lambda s: _forget(s, scope, key))
        raise
    await rt.store.write(lambda s: _keep(s, scope, key, status, payload), isolated=False)
    return JSONResponse(payload, status)


def _keep(s, scope, key, status, payload):
    s.execute(KEEP, {"k_scope": scope, "k_key": key, "status_code": status, "body": json.dumps(payload)})


def _forget(s, scope, key):
    s.execute(FORGET, {"k_scope": scope, "k_key": key})
