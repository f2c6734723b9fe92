"""The front: the service's public port (`citypoints serve`, service.py). Each request is sent whole to one process
behind it: the reads the read process serves (`app.read_routes()`: a wallet's balances, history, caps, balance
proof, schemes, rates, supply, periods, and the read process's health and metrics) to it, everything else to the
API process. Per request, not per connection: a browser or a merchant's client sends both kinds over the same
keep-alive connections. The processes listen on unix sockets in a directory only the service's user can enter, so
the front is the only way in and every rule (API keys, limits, headers) is the processes' own.

What the front itself does to a request, and why:
- the body is read whole, up to `max_body_bytes` (413 `body_too_large` past it, at once when Content-Length says
  so), and sent on with its length: the processes see one framing whatever the client sent (no chunked or
  `Expect` games between two parsers);
- `X-Forwarded-For` is replaced by the one client address it finds by the API's own rule
  (`request_limits.client_address`: the connection's address, or through `trusted_proxies` what they name), which
  the processes believe because it comes over their socket;
- hop-by-hop headers stop here (RFC 9110 7.6.1); a request target that is not a path (absolute-form, `*`) is 400.
A process that cannot be reached answers 503 `service_unavailable` in the API's error shape (a write may have been
carried out before its connection failed: merchants retry with the same Idempotency-Key, as after any lost answer).
Answers stream back as they come (the point of sale's server-sent events too).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from yarl import URL

from exchange_api.app import API_CSP, SECURITY_HEADERS, new_request_id
from exchange_api.errors import ApiError, InvalidRequest, Unavailable
from exchange_api.request_limits import BODY_TOO_LARGE, client_address

log = logging.getLogger("citypoints.front")

# RFC 9110 7.6.1's hop-by-hop fields, and what the front sets itself (Host stays: the processes build links with it)
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade", "expect", "content-length",
                        "x-forwarded-for"})
AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")  # aiohttp's defaults, never added
UPSTREAM_KEEPALIVE_S = 30.0  # idle connections to a process are closed by the front first (uvicorn: 75 s)
CLIENT_KEEPALIVE_S = 5.0  # an idle client connection, as uvicorn kept it when it faced clients itself


@dataclass
class Backend:
    """One process behind the front: its name (for logs and errors) and a connection pool on its socket."""
    name: str
    socket: str
    session: aiohttp.ClientSession | None = None

    def open(self) -> None:
        """No cookie jar (a cookie one client was given must never ride on another's request) and no headers of
        the client library's own: the process gets what the client sent."""
        connector = aiohttp.UnixConnector(path=self.socket, limit=1000, keepalive_timeout=UPSTREAM_KEEPALIVE_S)
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                             cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=AUTO_HEADERS,
                                             timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


class Front:
    def __init__(self, *, api: Backend, reads: Backend, routes: list[tuple[frozenset[str], re.Pattern]],
                 max_body_bytes: int, trusted_proxies: tuple):
        self.api, self.reads = api, reads
        self.routes = routes
        self.max_body_bytes = max_body_bytes
        self.trusted_proxies = trusted_proxies

    def backend(self, method: str, path: str) -> Backend:
        """The read process for a route it serves, else the API process."""
        for methods, pattern in self.routes:
            if method in methods and pattern.match(path):
                return self.reads
        return self.api

    def open(self) -> None:
        self.api.open()
        self.reads.open()

    async def close(self) -> None:
        await self.api.close()
        await self.reads.close()

    async def forward(self, request: web.BaseRequest) -> web.StreamResponse:
        if not request.raw_path.startswith("/"):
            return _error(InvalidRequest("the request target must be a path", status=400))
        too_large = ApiError(f"the request body is larger than {self.max_body_bytes} bytes", code=BODY_TOO_LARGE,
                             status=413)
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return _error(too_large)
        chunks, size = [], 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > self.max_body_bytes:
                return _error(too_large)
            chunks.append(chunk)
        body = b"".join(chunks)
        backend = self.backend(request.method, request.path)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        headers.append(("X-Forwarded-For", self._client(request)))
        try:
            upstream = await backend.session.request(
                request.method, URL("http://citypoints" + request.raw_path, encoded=True), headers=headers,
                data=body if body else None, allow_redirects=False)
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("front: the %s process did not answer: %s", backend.name, type(exc).__name__)
            return _error(Unavailable(f"the service's {backend.name} process is not answering; retry shortly (a "
                                      "write: with the same Idempotency-Key)", headers={"Retry-After": "1"}))
        try:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    response.headers.add(k, v)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            upstream.release()

    def _client(self, request: web.BaseRequest) -> str:
        """The client by the API's own rule, from this connection's address and what trusted proxies wrote."""
        scope = {"client": (request.remote or "unknown", 0), "server": ("front", 0),
                 "headers": [(b"x-forwarded-for", v.encode("latin-1"))
                             for v in request.headers.getall("X-Forwarded-For", ())]}
        return client_address(scope, self.trusted_proxies)


def _error(err: ApiError) -> web.Response:
    """An answer of the front's own, in the API's error shape and with its headers."""
    rid = new_request_id()
    out = web.json_response(err.body(rid), status=err.status, headers={"X-Request-Id": rid, **err.headers})
    for k, v in SECURITY_HEADERS:
        out.headers[k.decode()] = v.decode()
    out.headers["Content-Security-Policy"] = API_CSP
    return out


async def start(front: Front, host: str, port: int) -> web.ServerRunner:
    """Listen on host:port (OSError when it cannot). aiohttp's low-level server: no application, router or
    middlewares, one handler. Bodies pass as sent (auto_decompress off: a gzip body is the API's to refuse, and
    cannot grow past the cap here); a client that leaves cancels its request to the process (as uvicorn tells an
    application)."""
    server = web.Server(front.forward, handler_cancellation=True, access_log=None, auto_decompress=False,
                        keepalive_timeout=CLIENT_KEEPALIVE_S)
    runner = web.ServerRunner(server, handle_signals=False)
    front.open()
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, shutdown_timeout=10, backlog=2048).start()
    except BaseException:
        await stop(front, runner)
        raise
    return runner


async def stop(front: Front, runner: web.ServerRunner) -> None:
    """Stop taking connections, let the requests in flight end (10 s at most), close the pools."""
    await runner.cleanup()
    await front.close()
