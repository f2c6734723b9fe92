"""The FastAPI application: `create_app()` (uvicorn: `exchange_api.app:create_app --factory`).

Every answer carries `X-Request-Id`; every error has DESIGN.md's shape with a stable code. Validation errors
name the field but never echo the input (it may be personal data).
"""
from __future__ import annotations

import itertools
import logging
import gc
import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from exchange_api import metrics
from exchange_api.errors import ApiError
from exchange_api.routers import (exchanges, health, onboarding, public, redemption_requests, redemptions, refunds,
                                  residents, webhooks)
from exchange_api.relayer_lease import LeaseHeld
from exchange_api.runtime import Runtime
from exchange_api.settings import Settings, get_settings

log = logging.getLogger("citypoints.api")
WALLET_DIST = Path(__file__).resolve().parent / "wallet" / "dist"

DESCRIPTION = """CityPoints Exchange API: merchants redeem residents' points, residents read balances and sign
consents and exchange intents, the onboarding authority registers residents, auditors read clearing.

Merchants authenticate with `Authorization: Bearer <key>`. Every state-changing request accepts `Idempotency-Key`.
Errors: `{"error": {"code", "message", "requestId"}}`. Credits are integers in credit cents (2 decimals);
rates are credit cents per point scaled by 1e6."""


def create_app(settings: Settings | None = None, *, background: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = Runtime(settings)
        app.state.rt = rt
        try:
            await rt.start(background=background)
        except LeaseHeld as exc:  # another process relays for this store: say so, plainly, and do not start
            log.error("not starting: %s", exc)
            await rt.stop()
            raise
        # what start-up built (routes, schemas, ABI tables, compiled statements) lives as long as the process:
        # out of the collector's sight, a full collection takes ~7 ms instead of 100-130 ms, a stall every few
        # seconds for every request in flight
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await rt.stop()

    app = FastAPI(title="CityPoints Exchange API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs", openapi_url="/openapi.json", redoc_url=None)
    for module in (health, redemptions, refunds, redemption_requests, residents, exchanges, onboarding, webhooks,
                   public):
        app.include_router(module.router)
    _errors(app)
    if WALLET_DIST.is_dir():  # the wallet page (a later issue) is served as static files when built
        from fastapi.staticfiles import StaticFiles
        app.mount("/wallet", StaticFiles(directory=WALLET_DIST, html=True), name="wallet")
    return RequestContext(app)


_ID_PREFIX = secrets.token_hex(4)  # this process; the counter numbers its requests
_ID_COUNTER = itertools.count(1)


class RequestContext:
    """Pure ASGI middleware: a request id for every request (X-Request-Id), and the Prometheus metrics."""

    def __init__(self, app: FastAPI):
        self.app = app

    def __getattr__(self, name):  # let callers reach app.state, app.openapi(), ...
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = f"req_{_ID_PREFIX}{next(_ID_COUNTER):08x}"
        scope.setdefault("state", {})["request_id"] = rid
        t0 = time.perf_counter()
        status = [500]

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.LATENCY.labels(path, scope["method"]).observe(time.perf_counter() - t0)
            metrics.REQUESTS.labels(path, scope["method"], str(status[0])).inc()


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "req_unknown")


def _errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body(_request_id(request)), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(loc) or None
        kind = first.get("type", "invalid")
        message = f"{field or 'request'}: {first.get('msg', 'invalid')}" if kind != "json_invalid" \
            else "the body is not valid JSON"
        err = ApiError(message, code="invalid_request", status=422 if kind != "json_invalid" else 400, field=field)
        return JSONResponse(err.body(_request_id(request)), err.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        err = ApiError(str(exc.detail), code=code, status=exc.status_code)
        return JSONResponse(err.body(_request_id(request)), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        err = ApiError("internal error; the request id helps the operator find it", code="internal_error",
                       status=500)
        return JSONResponse(err.body(_request_id(request)), 500)
