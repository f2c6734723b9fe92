"""The FastAPI applications: `create_app()`, the API (uvicorn: `exchange_api.app:create_app --factory`), and
`create_read_app()`, the read process's (read_replica.py): the routers in `READ_ROUTERS` only, which the API hosts
too; `read_routes()` is what the front (front.py) sends to the read process. `citypoints serve` runs both behind
the front (service.py).

Every answer carries `X-Request-Id`; every error has docs/DESIGN.md's shape with a stable code. Validation errors
name the field but never echo the input (it may be personal data).
"""
from __future__ import annotations

import itertools
import logging
import gc
import re
import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from exchange_api import metrics
from exchange_api.errors import ApiError, NotFound
from exchange_api.read_replica import ReadRuntime
from exchange_api.routers import (eligibility, exchanges, health, identity_trail, merchant_applications,
                                  merchant_keys, offers, onboarding, pos, public, recoveries, redemption_requests,
                                  redemptions, refunds, residents, vouchers, webhooks)
from exchange_api.relayer_lease import LeaseHeld
from exchange_api.request_limits import BodyLimit, FailureLimiter, parse_networks
from exchange_api.runtime import Runtime
from exchange_api.settings import Settings, get_settings
from ledger_node import paths

log = logging.getLogger("citypoints.api")
WALLET_DIST = Path(__file__).resolve().parent / "wallet" / "dist"
CONSOLE_DIST = Path(__file__).resolve().parent / "console" / "dist"  # the consortium's read-only console
POS_DIST = Path(__file__).resolve().parent / "pos" / "dist"  # the merchants' point-of-sale page
PAGES = ("/wallet", "/console", "/pos")  # static pages (exchange_api/wallet/build.mjs builds both): they get PAGE_CSP
SWAGGER_UI = paths.NODE_MODULES / "swagger-ui-dist"  # npm swagger-ui-dist (package.json), served at /docs/
SWAGGER_FILES = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}

DESCRIPTION = """CityPoints Exchange API: merchants redeem residents' points, residents read balances and sign
consents and exchange intents, the onboarding authority registers residents, auditors read clearing.

Merchants authenticate with `Authorization: Bearer <key>`. Every state-changing request accepts `Idempotency-Key`.
Errors: `{"error": {"code", "message", "requestId", "field"?}}`. Credits are integers in credit cents (2 decimals);
rates are credit cents per point scaled by 1e6.

Limits: every integer is checked against the type it takes on chain (credits uint96, scheme ids and exchange
amounts uint256, signed deadlines uint64): out of range is 422 `invalid_request` naming the field. A body over
1 MiB (`CITYPOINTS_MAX_BODY_BYTES`) is 413 `body_too_large`. Requests are rate-limited per API key (token bucket:
`CITYPOINTS_RATE_LIMIT_PER_S` a second, bursts of `CITYPOINTS_RATE_LIMIT_BURST`; public calls without a key per
client address): 429 `rate_limited` with `Retry-After`. A client address that sent more than
`CITYPOINTS_AUTH_FAILURES_PER_MIN` (10) wrong API keys in a minute is answered 429 `too_many_auth_failures` with
`Retry-After` until the minute has passed. `X-Forwarded-For` counts only from `CITYPOINTS_TRUSTED_PROXIES`."""

# Security headers on every answer; pages get the policy their content needs (no inline scripts anywhere)
# FastAPI's OpenTelemetry hooks, off: the service measures itself (metrics.py, /metrics), and with them on FastAPI
# asked OpenTelemetry for its providers on every request (1% of the API process's time at 200 redemptions a second)
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
              "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]


# the reads the read process hosts (a wallet's, from the indexer's tables), and its own health and metrics
READ_ROUTERS = (residents.reads, public.reads, offers.reads)
READ_PROCESS_ROUTERS = (*READ_ROUTERS, health.reads)


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
                  docs_url=None, openapi_url="/openapi.json", redoc_url=None, telemetry=NO_TELEMETRY)
    _limits(app, settings)
    for router in (health.router, redemptions.router, refunds.router, redemption_requests.router, residents.reads,
                   residents.router, exchanges.router, onboarding.router, webhooks.router, public.reads,
                   public.router, offers.reads, offers.router, vouchers.router, eligibility.router,
                   recoveries.router, pos.router, identity_trail.router, merchant_keys.router,
                   merchant_applications.router):
        app.include_router(router)
    _docs(app)
    _errors(app)
    if WALLET_DIST.is_dir():  # the wallet page (a later issue) is served as static files when built
        from fastapi.staticfiles import StaticFiles
        app.mount("/wallet", StaticFiles(directory=WALLET_DIST, html=True), name="wallet")
    if CONSOLE_DIST.is_dir():  # the consortium's console, read-only: public reads (statements with an auditor key)
        from fastapi.staticfiles import StaticFiles
        app.mount("/console", StaticFiles(directory=CONSOLE_DIST, html=True), name="console")
    if POS_DIST.is_dir():  # the merchants' point-of-sale page: signs in with a key, then its session cookie
        from fastapi.staticfiles import StaticFiles
        app.mount("/pos", StaticFiles(directory=POS_DIST, html=True), name="pos")
    return RequestContext(SecurityHeaders(BodyLimit(app, settings.max_body_bytes)))


def create_read_app(settings: Settings | None = None) -> FastAPI:
    """The read process's application (uvicorn: `exchange_api.app:create_read_app --factory`): READ_ROUTERS with
    the API's handlers, dependencies, errors, limits and headers, over a ReadRuntime; no OpenAPI document of its
    own (the API's has these operations)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = ReadRuntime(settings)
        app.state.rt = rt
        try:
            await rt.start()
        except BaseException:
            await rt.stop()
            raise
        gc.collect()
        gc.freeze()  # as the API's: start-up's objects out of the collector's sight
        try:
            yield
        finally:
            await rt.stop()

    app = FastAPI(title="CityPoints Exchange API (reads)", lifespan=lifespan, docs_url=None, openapi_url=None,
                  redoc_url=None, telemetry=NO_TELEMETRY)
    _limits(app, settings)
    for router in READ_PROCESS_ROUTERS:
        app.include_router(router)
    _errors(app)
    return RequestContext(SecurityHeaders(BodyLimit(app, settings.max_body_bytes)))


def read_routes() -> list[tuple[frozenset[str], re.Pattern]]:
    """(methods, path pattern) of every route the read process serves: the front sends a request that matches one
    to the read process, anything else to the API."""
    return [(frozenset(r.methods), r.path_regex) for router in READ_PROCESS_ROUTERS for r in router.routes]


def _limits(app: FastAPI, settings: Settings) -> None:
    """Failed authentications per client address (each process counts its own) and whose X-Forwarded-For counts."""
    app.state.auth_failures = FailureLimiter(settings.auth_failures_per_min, settings.auth_failure_sources)
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CityPoints Exchange API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"><p>Loading the API reference… (the machine-readable document:
<a href="/openapi.json">/openapi.json</a>)</p></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>"""
DOCS_INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null,
  deepLinking: true, presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});"""


def _docs(app: FastAPI) -> None:
    """Swagger UI from this installation's files (npm swagger-ui-dist), not a CDN: /docs works offline."""

    @app.get("/docs", include_in_schema=False)
    async def docs_page():
        return HTMLResponse(DOCS_PAGE)

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init():
        return Response(DOCS_INIT, media_type="text/javascript")

    @app.get("/docs/{asset}", include_in_schema=False)
    async def docs_asset(asset: str):
        path = SWAGGER_UI / asset
        if asset not in SWAGGER_FILES or not path.is_file():
            raise NotFound("no such file (Swagger UI's files come from npm swagger-ui-dist: make setup)")
        return FileResponse(path, media_type=SWAGGER_FILES[asset], headers={"Cache-Control": "max-age=86400"})


class SecurityHeaders:
    """Pure ASGI middleware: X-Content-Type-Options, X-Frame-Options, Referrer-Policy and a
    Content-Security-Policy on every answer (the pages' own policy on /wallet and /console, Swagger UI's on /docs)."""

    def __init__(self, app):
        self.app = app

    def __getattr__(self, name):
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        csp = PAGE_CSP if path.startswith(PAGES) else DOCS_CSP if path.startswith("/docs") else API_CSP
        extra = SECURITY_HEADERS + [(b"content-security-policy", csp.encode())]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", ())}
                message["headers"] = list(message.get("headers", ())) + [h for h in extra if h[0] not in present]
            await send(message)
        await self.app(scope, receive, send_with_headers)


_ID_PREFIX = secrets.token_hex(4)  # this process; the counter numbers its requests
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A request id unique to this process's requests (every process of the service has its own prefix)."""
    return f"req_{_ID_PREFIX}{next(_ID_COUNTER):08x}"


class RequestContext:
    """Pure ASGI middleware: a request id for every request (X-Request-Id), and the Prometheus metrics."""

    def __init__(self, app: FastAPI):
        self.app = app

    def __getattr__(self, name):  # let callers reach app.state, app.openapi(), ...
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = new_request_id()
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

    @app.exception_handler(sqlalchemy.exc.DataError)
    async def unstorable(request: Request, exc: sqlalchemy.exc.DataError):
        # a value the database cannot hold (a NUL character in a text, ...); the transaction was rolled back
        log.warning("unstorable value in %s %s: %s", request.method, request.url.path, exc.orig)
        err = ApiError("the request holds a value that cannot be stored (e.g. a NUL character)",
                       code="invalid_request", status=422)
        return JSONResponse(err.body(_request_id(request)), 422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        err = ApiError("internal error; the request id helps the operator find it", code="internal_error",
                       status=500)
        return JSONResponse(err.body(_request_id(request)), 500)
