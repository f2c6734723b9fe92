"""Bounds on what one request, and one source, may cost the service (exchange_api/README.md, "Limits"):

- `BodyLimit` (ASGI): a body larger than `max_body_bytes` is answered 413 `body_too_large` before more of it is
  read: at once when Content-Length says so, else as soon as the bytes received pass the limit. A NUL character
  in the path or query (no store keeps one in text: PostgreSQL refuses it) is 422 `invalid_request`.
- `client_address`: the connection's address, or the client X-Forwarded-For names when the connection comes from
  a configured trusted proxy (`trusted_proxies`; none by default, so a client cannot choose its own address), or
  from the service's own front (`front.py`) over a process's unix socket, which only the service's user can open:
  the front wrote that one entry itself, by these same rules.
- `FailureLimiter`: failed authentications per source address in a sliding minute; past the limit the source is
  answered 429 with Retry-After before its key is looked up. It remembers at most `max_sources` sources
  (least recently seen forgotten first), so a flood of addresses costs bounded memory.
- `TokenBuckets`: the request rate limits, a token bucket per API key or client address, at most `max_buckets`
  of them (the stalest forgotten first). Each process keeps its own (the API's, the read process's).
"""
from __future__ import annotations

import ipaddress
import json
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

BODY_TOO_LARGE = "body_too_large"


def _error(code: str, message: str, request_id: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "requestId": request_id}}).encode()


class BodyLimit:
    """Pure ASGI middleware: 413 in the API's error shape for a body over `limit` bytes, without reading past it."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    def __getattr__(self, name):  # app.state, app.openapi(), ... reach the application
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = scope.get("state", {}).get("request_id", "req_unknown")
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"").lower():
            return await _answer(send, 422, "invalid_request", "the path or query holds a NUL character", rid)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0:
                return await _answer(send, 400, "invalid_request", "Content-Length is not a number", rid)
            if declared > self.limit:
                return await self._too_large(send, rid)
        received = 0
        over = False
        started = False

        async def counting_receive():
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True  # what the application gets from here on: the client went away
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if over and not started:
                return  # the application's answer to a cut body is replaced by the 413 below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._too_large(send, rid)

    async def _too_large(self, send, rid: str) -> None:
        await _answer(send, 413, BODY_TOO_LARGE, f"the request body is larger than {self.limit} bytes", rid)


async def _answer(send, status: int, code: str, message: str, rid: str) -> None:
    body = _error(code, message, rid)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def parse_networks(text: str) -> tuple:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip())


def client_address(scope, trusted: tuple) -> str:
    """The client's address: the connection's; through trusted proxies, the right-most X-Forwarded-For entry
    that is not itself a trusted proxy (entries left of it were written by the client and prove nothing). Over a
    unix socket (`server` has no port) the caller is the service's front, which sends exactly one entry: the client
    as it found it by these rules."""
    if scope.get("client") is None and (scope.get("server") or ("", 0))[1] is None:
        forwarded = [v.decode("latin-1").strip() for k, v in scope.get("headers") or () if k == b"x-forwarded-for"]
        return forwarded[0] if len(forwarded) == 1 and _is_address(forwarded[0]) else "unknown"
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not trusted or not _trusted(peer, trusted):
        return peer
    forwarded = [v.decode("latin-1") for k, v in scope.get("headers") or () if k == b"x-forwarded-for"]
    hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain: the proxy's own address, not a name the client chose
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _trusted(address: str, trusted: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


class FailureLimiter:
    """Failed authentications per source in a sliding window, for at most `max_sources` sources (LRU)."""

    def __init__(self, per_window: int, max_sources: int, window_s: float = 60.0):
        self.per_window = per_window
        self.max_sources = max_sources
        self.window_s = window_s
        self._failures: OrderedDict[str, deque] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def clear(self) -> None:
        self._failures.clear()

    def _recent(self, source: str, now: float) -> deque | None:
        times = self._failures.get(source)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, source: str) -> float | None:
        """Seconds until `source` may try again, or None when it may now."""
        now = time.monotonic()
        times = self._recent(source, now)
        if times is None or len(times) < self.per_window:
            return None
        return max(times[0] + self.window_s - now, 0.0)

    def failed(self, source: str) -> None:
        now = time.monotonic()
        times = self._recent(source, now)
        if times is None:
            times = self._failures[source] = deque(maxlen=self.per_window)
            while len(self._failures) > self.max_sources:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(source)
        times.append(now)


@dataclass
class Bucket:
    tokens: float
    at: float


class TokenBuckets(OrderedDict):
    """Token buckets by key (an API key's id, a client address, ...), least recently used first, at most
    `max_buckets`: a flood of addresses costs bounded memory, and the bucket evicted is the one idle longest, so
    nearest to full (little is given away)."""

    def __init__(self, max_buckets: int):
        super().__init__()
        self.max_buckets = max_buckets

    def take(self, key: str, rate: float, burst: int) -> float | None:
        """A token of `key`'s bucket (`rate` a second, at most `burst`): None when allowed, else seconds until the
        next token."""
        now = time.monotonic()
        b = self.get(key)
        if b is None:
            b = self[key] = Bucket(float(burst), now)
            if len(self) > self.max_buckets:
                self.popitem(last=False)
        else:
            self.move_to_end(key)
        b.tokens = min(float(burst), b.tokens + (now - b.at) * rate)
        b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return None
        return (1.0 - b.tokens) / rate
