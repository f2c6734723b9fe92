"""Webhook URLs lead nowhere internal: malformed or plain-http URLs are 422, targets that resolve to private,
loopback, link-local, ... addresses are refused at creation unless the operator allows them, and again at every
delivery against the address the name resolves to then. Receivers here run on 127.0.0.1, so a test that needs
one turns the operator's development settings on explicitly (the `local_webhooks` fixture)."""
from __future__ import annotations

import ipaddress
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from exchange_api.services.webhooks import enqueue
from exchange_api.store.models import WebhookEndpoint
from exchange_api.webhooks import internal

from .conftest import auth


class Receiver:
    """A webhook receiver on 127.0.0.1: records each delivery (event id, Host header, when) and answers `status`
    after `delay` seconds."""

    def __init__(self, delay: float = 0.0, status: int = 200):
        self.events: list[dict] = []
        self.delay, self.status = delay, status
        self.in_flight = self.max_in_flight = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                outer.events.append({"id": self.headers["CityPoints-Event-Id"], "host": self.headers["Host"],
                                     "signature": self.headers["CityPoints-Signature"], "at": time.monotonic(),
                                     "body": body})
                time.sleep(outer.delay)
                with lock:
                    outer.in_flight -= 1
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.events) >= n, f"{len(self.events)} webhook deliveries, wanted {n}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def emit(live, merchant: int, n: int = 1) -> None:
    """`n` events for the merchant's endpoints, queued as the confirmations do (enqueue), and the dispatcher woken."""
    live.rt.store.call(lambda s: enqueue(s, [(merchant, "redemption.confirmed", {"object": "redemption", "id": f"r{i}"})
                                             for i in range(n)]))
    live.rt.webhooks.wake()


def count_endpoints(live) -> int:
    return live.rt.store.call(lambda s: s.scalar(select(func.count()).select_from(WebhookEndpoint)))


@pytest.mark.parametrize("address, refused", [
    ("8.8.8.8", False), ("93.184.216.34", False), ("2606:4700:4700::1111", False), ("::ffff:8.8.8.8", False),
    ("10.0.0.1", True), ("172.16.5.4", True), ("192.168.1.1", True), ("127.0.0.1", True), ("0.0.0.0", True),
    ("169.254.169.254", True), ("100.64.0.1", True), ("224.0.0.1", True), ("240.0.0.1", True),
    ("255.255.255.255", True), ("198.18.0.1", True), ("192.0.2.1", True), ("::1", True), ("::", True),
    ("fe80::1", True), ("fc00::1", True), ("fec0::1", True), ("ff02::1", True), ("2001:db8::1", True),
    ("::ffff:10.0.0.1", True), ("::ffff:169.254.169.254", True), ("::127.0.0.1", True), ("64:ff9b::a00:1", True),
    ("2002:a00:1::", True), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),
])
def test_internalAddresses_areRefusedPublicOnesNot(address, refused):
    assert internal(ipaddress.ip_address(address)) is refused


def test_webhookUrls_malformedOrPlainHttp_are422AndNothingIsStored(api, keys, live):
    h = auth(keys["merchant2"])
    before = count_endpoints(live)
    cases = {
        "http://": "invalid_webhook_url", "http://example.com/hook": "invalid_webhook_url",
        "https://": "invalid_webhook_url", "https://[::1": "invalid_webhook_url", "http://[::1": "invalid_webhook_url",
        "https://user:secret@example.com/hook": "invalid_webhook_url", "https://@example.com/": "invalid_webhook_url",
        "https://exa mple.com/": "invalid_webhook_url", "https://example.com:99999/": "invalid_webhook_url",
        "https://exa_mple.com/": "invalid_webhook_url", "https://[not-an-ip]/": "invalid_webhook_url",
    }
    for url, code in cases.items():
        resp = api.post("/v1/webhook_endpoints", json={"url": url}, headers=h)
        assert resp.status_code == 422, (url, resp.text)
        err = resp.json()["error"]
        assert err["code"] == code and err["field"] == "url", (url, err)
        assert "secret" not in err["message"]  # the URL's password is never echoed
    assert count_endpoints(live) == before
    assert api.get("/v1/webhook_endpoints", headers=h).status_code == 200


def test_webhookUrls_toInternalTargets_areRefusedUnlessTheOperatorAllowsThem(api, keys, live):
    h = auth(keys["merchant2"])
    before = count_endpoints(live)
    for url in ("https://169.254.169.254/latest/meta-data", "https://10.0.0.1/x", "https://127.0.0.1:8545/",
                "https://[::1]/", "https://[::ffff:10.0.0.1]/", "https://100.64.0.1/", "https://0.0.0.0/",
                "https://2130706433/", "https://0x7f.1/", "https://localhost/hook", "https://224.0.0.1/"):
        resp = api.post("/v1/webhook_endpoints", json={"url": url}, headers=h)
        assert resp.status_code == 422, (url, resp.text)
        assert resp.json()["error"]["code"] == "webhook_url_not_allowed", (url, resp.json())
    assert count_endpoints(live) == before
    public = api.post("/v1/webhook_endpoints", json={"url": "https://93.184.216.34/hooks/citypoints"}, headers=h)
    assert public.status_code == 201, public.text
    assert api.delete(f"/v1/webhook_endpoints/{public.json()['id']}", headers=h).status_code == 200


def test_delivery_checksTheAddressAgainAtDeliveryTime(api, keys, live, local_webhooks):
    """Created while private targets were allowed, delivered after the operator turned that off: the address the
    name resolves to at delivery is refused, nothing reaches the receiver, and the log says why. Allowed again,
    a redelivery goes to the checked address with the name in the Host header."""
    receiver = Receiver()
    h = auth(keys["merchant2"])
    ep = api.post("/v1/webhook_endpoints", json={"url": f"http://localhost:{receiver.port}/hook"}, headers=h).json()
    allowed = live.rt.settings
    try:
        live.rt.replace_settings(allowed.model_copy(update={"webhook_allow_private_targets": False}))
        emit(live, live.rt.store.call(lambda s: s.scalar(select(WebhookEndpoint.merchant_id).where(
            WebhookEndpoint.id == ep["id"]))))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = api.get(f"/v1/webhook_endpoints/{ep['id']}/deliveries", headers=h).json()["data"]
            if log and log[0]["attempts"] >= 1:
                break
            time.sleep(0.05)
        assert log[0]["attempts"] >= 1 and "internal address" in log[0]["lastError"], log
        assert log[0]["lastStatusCode"] is None and receiver.events == []
        live.rt.replace_settings(allowed)
        again = api.post(f"/v1/webhook_endpoints/{ep['id']}/deliveries/{log[0]['id']}/redeliver", headers=h)
        assert again.status_code == 202 and again.json()["status"] == "pending"
        receiver.wait(1)
        assert receiver.events[0]["id"] == log[0]["id"]
        assert receiver.events[0]["host"] == f"localhost:{receiver.port}"
    finally:
        live.rt.replace_settings(allowed)
        api.delete(f"/v1/webhook_endpoints/{ep['id']}", headers=h)
        receiver.close()
