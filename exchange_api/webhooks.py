"""Webhooks to merchants: each event is POSTed as JSON to every endpoint of the merchant, signed like Stripe's:

    CityPoints-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

Receivers check the HMAC and that t is within a tolerance (default 300 s) with `verify_signature`.
Deliveries are rows (webhook_deliveries) retried with exponential backoff (settings.webhook_backoff_s doubling,
up to webhook_max_attempts), so they survive restarts; each row is the endpoint's delivery log (attempts, last
status code and error, next retry), readable by its merchant, and a merchant can ask for one again (one more
attempt). Events: redemption.confirmed, redemption.failed, refund.confirmed, refund.failed. The endpoints (the
merchant's resource) and the queueing of events are services/webhooks.py's; this module guards URLs, signs and
delivers.

No foreign requests: a URL must be https (http only with `webhook_allow_http`, for development), name a host,
carry no user:password@, and parse. Its host must not resolve to an internal address (private, loopback,
link-local, CGNAT, multicast, reserved, unspecified, documentation, and IPv6 forms embedding one: IPv4-mapped,
6to4, NAT64, Teredo) unless the operator allows private targets (`webhook_allow_private_targets`, off by
default). Checked when the endpoint is created and again at every delivery, against the addresses the name
resolves to then; the request goes to the address that was checked (Host header and TLS SNI/certificate of the
name), so a name that resolves differently a moment later (DNS rebinding) cannot redirect it. Redirects are not
followed, proxies from the environment are not used, and the answer's body is not read.

Fairness: at most one delivery per endpoint is in flight, deliveries to different endpoints run side by side
(up to `webhook_max_in_flight`), and each has a deadline (`webhook_timeout_s`, from resolving the name to the
answer's status line): a slow receiver delays only its own deliveries.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select

from exchange_api import crypto, metrics
from exchange_api.errors import InvalidRequest
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import WebhookDelivery, WebhookEndpoint, utcnow
from ledger_node.signed_payload import SignatureError, check, sign  # noqa: F401 (sign, SignatureError: this module's API)

log = logging.getLogger("citypoints.webhooks")
HEADER = "CityPoints-Signature"


def verify_signature(payload: bytes, header: str, secret: str, *, tolerance: int = 300,
                     now: float | None = None) -> dict:
    """Check a delivery; returns the parsed event or raises SignatureError."""
    check(payload, header, secret, tolerance=tolerance, now=now)
    return json.loads(payload)


# -- where a URL leads (the SSRF guard) ----------------------------------------------------------------------

class TargetRefused(Exception):
    """The URL's host resolves to an address this service does not send to, or does not resolve."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, IDNA (ASCII); an IPv6 literal without brackets
    port: int
    path: str  # path and query, at least "/"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _bad_url(reason: str) -> InvalidRequest:
    return InvalidRequest(f"url: {reason}", code="invalid_webhook_url", field="url")


def parse_url(url: str, *, allow_http: bool) -> Target:
    """The URL's parts, or InvalidRequest (422 invalid_webhook_url) saying what is wrong with it."""
    if any(ord(c) <= 0x20 or c == "\x7f" or c == "\\" for c in url):
        raise _bad_url("spaces, control characters and backslashes are not allowed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad_url("not a parseable URL") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise _bad_url("must be https://" if scheme in ("http", "https") else "must be an https:// URL")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise _bad_url("must not carry a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _bad_url("must name a host")
    try:
        ip = ipaddress.ip_address(host)
        host = str(ip)
    except ValueError:
        if ":" in host or "[" in parts.netloc:
            raise _bad_url("not a valid IP address") from None
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise _bad_url("not a valid host name") from None
        labels = host.split(".")
        if len(host) > 253 or not all(0 < len(x) <= 63 and x.replace("-", "").isalnum() for x in labels):
            raise _bad_url("not a valid host name")
    if port == 0:
        raise _bad_url("not a valid port")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


_V4_INTERNAL = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "240.0.0.0/4")]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPATIBLE = ipaddress.ip_network("::/96")


def internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address a webhook may not reach (without webhook_allow_private_targets)."""
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 or ip in _V4_COMPATIBLE else None)
        if embedded is not None:
            return True if ip in _V4_COMPATIBLE else internal(embedded)
        if ip.teredo is not None or ip.is_site_local:
            return True
    elif any(ip in net for net in _V4_INTERNAL):
        return True
    return (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified)


async def resolve(target: Target, *, allow_private: bool, timeout: float) -> str:
    """The address to connect to: every address the host resolves to is checked (one internal address refuses
    the name), then the first is used. Raises TargetRefused."""
    try:
        addresses = [ipaddress.ip_address(target.host)]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM),
                                           timeout)
        except (OSError, asyncio.TimeoutError):
            raise TargetRefused("the host name does not resolve") from None
        addresses = []
        for family, *_, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
                if ip not in addresses:
                    addresses.append(ip)
        if not addresses:
            raise TargetRefused("the host name does not resolve")
    if not allow_private:
        for ip in addresses:
            if internal(ip):
                raise TargetRefused("the host resolves to an internal address (private, loopback, link-local, "
                                    "shared, multicast or reserved): webhooks go to public addresses only")
    return str(addresses[0])


async def checked_target(settings: Settings, url: str) -> tuple[Target, str]:
    """A URL a merchant gives: parsed and resolved now (422 when either fails)."""
    target = parse_url(url, allow_http=settings.webhook_allow_http)
    try:
        address = await resolve(target, allow_private=settings.webhook_allow_private_targets,
                                timeout=settings.webhook_timeout_s)
    except TargetRefused as exc:
        raise InvalidRequest(f"url: {exc}", code="webhook_url_not_allowed", field="url") from None
    return target, address


@dataclass
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    retry: bool = True  # False: another attempt cannot go better (the stored URL does not parse)


class Dispatcher:
    """Delivers due rows: one in flight per endpoint, endpoints side by side (see the module docstring)."""

    def __init__(self, store: Store, settings: Settings, pii_key: bytes):
        self.store = store
        self.settings = settings
        self.pii_key = pii_key  # the endpoints' signing secrets are kept sealed with it
        self._wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self.busy: set[str] = set()  # endpoints with a delivery in flight
        self._tasks: set[asyncio.Task] = set()

    def wake(self) -> None:
        self._wake.set()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping
                pass
        if self._client is not None:
            await self._client.aclose()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.start_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database outage: try again shortly
                log.warning("webhooks: %s", type(exc).__name__)
            try:  # a finished delivery, a new event or a redelivery wakes it; retries come due by the clock
                await asyncio.wait_for(self._wake.wait(), 0.5)
            except asyncio.TimeoutError:
                pass

    async def start_due(self) -> int:
        """Start the oldest due delivery of each endpoint that has none in flight (oldest first, as many as
        there are free slots); the number started."""
        free = self.settings.webhook_max_in_flight - len(self.busy)
        if free <= 0:
            return 0
        t, busy = time.time(), list(self.busy)

        def load(s):
            heads = select(func.min(WebhookDelivery.seq)).where(
                WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= t)
            if busy:
                heads = heads.where(WebhookDelivery.endpoint_id.not_in(busy))
            seqs = list(s.scalars(heads.group_by(WebhookDelivery.endpoint_id)
                                  .order_by(func.min(WebhookDelivery.seq)).limit(free)))
            if not seqs:
                return []
            return s.execute(select(WebhookDelivery, WebhookEndpoint).join(
                WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.seq.in_(seqs))).all()
        due = await self.store.run(load)
        for d, ep in due:
            if ep.id in self.busy:
                continue
            self.busy.add(ep.id)
            task = asyncio.create_task(self._deliver(d, ep), name=f"webhook-{ep.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(due)

    async def _deliver(self, d: WebhookDelivery, ep: WebhookEndpoint) -> None:
        settings = self.settings
        try:
            try:
                outcome = await asyncio.wait_for(self._post(d, ep), settings.webhook_timeout_s)
            except asyncio.TimeoutError:
                metrics.WEBHOOKS.labels("unreachable").inc()
                outcome = Outcome(False, None, f"no answer within {settings.webhook_timeout_s:g} s")

            def save(s):
                row = s.get(WebhookDelivery, d.seq)
                if row is None or row.id != d.id:  # gone (SQLite may give its number to a later event): not ours
                    return
                row.attempts += 1
                row.last_attempt_at = utcnow()
                row.last_status_code = outcome.status_code
                limit = row.attempt_limit or settings.webhook_max_attempts
                if outcome.ok:
                    row.status, row.last_error = "delivered", None
                elif row.status != "pending":  # the endpoint was deleted meanwhile
                    row.last_error = outcome.error
                elif row.attempts >= limit or not outcome.retry:
                    row.status, row.last_error = "failed", outcome.error
                else:
                    row.last_error = outcome.error
                    row.next_attempt_at = time.time() + settings.webhook_backoff_s * 2 ** (row.attempts - 1)
            await self.store.write(save, background="webhooks")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a database outage: the row stays due and is tried again
            log.warning("webhooks: delivery %s not recorded: %s", d.id, type(exc).__name__)
        finally:
            self.busy.discard(ep.id)
            self._wake.set()

    async def _post(self, d: WebhookDelivery, ep: WebhookEndpoint) -> Outcome:
        settings = self.settings
        if ep.deleted_at is not None:
            return Outcome(False, None, "endpoint deleted", retry=False)
        try:
            target = parse_url(ep.url, allow_http=settings.webhook_allow_http)
        except InvalidRequest as exc:
            return Outcome(False, None, exc.message, retry=False)
        try:
            address = await resolve(target, allow_private=settings.webhook_allow_private_targets,
                                    timeout=settings.webhook_timeout_s)
        except TargetRefused as exc:
            metrics.WEBHOOKS.labels("refused_target").inc()
            return Outcome(False, None, str(exc)[:300])
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=settings.webhook_timeout_s, trust_env=False,
                                             follow_redirects=False)
        secret = crypto.unseal_bytes(self.pii_key, "webhook", ep.secret).decode()
        body = d.payload.encode()
        literal = f"[{address}]" if ":" in address else address
        headers = {"Host": target.host_header, "Content-Type": "application/json", HEADER: sign(secret, body),
                   "CityPoints-Event-Id": d.id, "User-Agent": "CityPoints-Webhooks/1"}
        # the address checked above, never the name again: Host and TLS (SNI, certificate) still name the host
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            async with self._client.stream("POST", f"{target.scheme}://{literal}:{target.port}{target.path}",
                                           content=body, headers=headers, extensions=extensions) as resp:
                code = resp.status_code  # the body is not read
            ok = 200 <= code < 300
            metrics.WEBHOOKS.labels("delivered" if ok else "refused").inc()
            return Outcome(ok, code, None if ok else f"HTTP {code}")
        except httpx.HTTPError as exc:
            metrics.WEBHOOKS.labels("unreachable").inc()
            return Outcome(False, None, type(exc).__name__)
