"""Retries after a dropped connection issue once; concurrent threads never collide on nonces; a failed send
leaves no stuck nonce. The node is real; a tiny HTTP proxy between client and node drops connections on cue."""
from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from issuer_sdk import Issuance, TransportError
from issuer_sdk.rpc import RetryPolicy, RpcTransport


class DroppingProxy:
    """Forwards HTTP JSON-RPC to the node. When armed with a method name, it forwards the next request
    carrying it (so the node acts on it) and then closes the client's connection without an answer."""

    def __init__(self, upstream: str):
        u = urlsplit(upstream)
        self.upstream = (u.hostname, u.port)
        self.drop_after: bytes | None = None
        self.dropped = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._stop = True
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in the other thread
        except OSError:
            pass
        self.server.close()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        up = socket.create_connection(self.upstream)
        try:
            while True:
                request = _read_http(conn)
                if request is None:
                    return
                up.sendall(request)
                response = _read_http(up)
                if response is None:
                    return
                if self.drop_after and self.drop_after in request:
                    self.drop_after = None
                    self.dropped += 1
                    return  # the node has acted; the client never hears of it
                conn.sendall(response)
        except OSError:
            return
        finally:
            conn.close()
            up.close()


def _read_http(sock: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.fixture
def proxy(city):
    p = DroppingProxy(city.rpc_url)
    yield p
    p.close()


def proxied_client(city, proxy, **config):
    return city.client(rpc_url=proxy.url, **config)


def test_issue_sendDroppedAfterNodeTookIt_issuesOnce(city, proxy):
    client = proxied_client(city, proxy)
    proxy.drop_after = b"eth_sendRawTransaction"
    result = client.issue(city.residents[0], 40, "dropped-1")
    assert proxy.dropped == 1
    assert result.status == "issued" and city.balance(city.residents[0]) == 40
    assert client.issue(city.residents[0], 1, "after-drop").status == "issued"  # the nonce moved on correctly


def test_issueMany_dropsMidStream_rerunIssuesOnce(city, proxy):
    client = proxied_client(city, proxy, max_batch_items=10, max_in_flight=2)
    items = [Issuance(city.residents[i % 7], 3, f"stream-{i}") for i in range(100)]
    proxy.drop_after = b"eth_getLogs"  # an idempotent read of every settled batch: retried inside the client
    summary = client.issue_many(items)
    assert proxy.dropped == 1 and summary.issued == 100
    proxy.drop_after = b"eth_sendRawTransaction"
    rerun = client.issue_many(items)
    assert (rerun.issued, rerun.duplicates) == (0, 100)
    assert city.supply() == 300


def test_issue_nodeUnreachable_raisesTransportError_thenRecovers(city, proxy):
    client = proxied_client(city, proxy, retry=RetryPolicy(attempts=2, backoff_s=0.01))
    assert client.issue(city.residents[1], 5, "before").status == "issued"
    client.rpc.drop_connections()
    proxy.close()
    with pytest.raises(TransportError) as info:
        client.issue(city.residents[1], 5, "during")
    assert info.value.attempted["ref"] == "during"
    again = DroppingProxy(city.rpc_url)
    try:
        client.rpc.close()
        client.rpc = RpcTransport(again.url, retry=client.rpc.retry)  # the same client (its nonces) reconnects elsewhere
        assert client.issue(city.residents[1], 5, "during").status == "issued"
        assert client.issue(city.residents[1], 5, "after").status == "issued"
    finally:
        again.close()
    assert city.balance(city.residents[1]) == 15


def test_concurrentThreads_neverCollideOnNonces(city):
    client = city.client(max_batch_items=5)
    w3 = city.ledger.w3
    start = w3.eth.get_transaction_count(city.issuer.address)

    def singles(t: int):
        return [client.issue(city.residents[(t + i) % 10], 1, f"t{t}-{i}").tx_hash for i in range(6)]

    def many(t: int):
        summary = client.issue_many([Issuance(city.residents[i % 10], 2, f"m{t}-{i}") for i in range(20)],
                                    keep_results=True)
        return [b.tx_hash for b in summary.results]

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(singles, t) for t in range(6)] + [pool.submit(many, t) for t in range(2)]
        hashes = [h for f in futures for h in f.result()]
    nonces = sorted(w3.eth.get_transaction(h)["nonce"] for h in hashes)
    assert nonces == list(range(start, start + len(hashes)))
    assert city.supply() == 6 * 6 * 1 + 2 * 20 * 2


def test_transactionDroppedByTheNode_isRebroadcastAndIssuesOnce(city):
    """anvil with a block time drops a pooled transaction that does not fit the block being built; any node
    may forget its pool on restart. The client re-sends the same signed bytes."""
    import time

    w3 = city.ledger.w3
    client = city.client(rebroadcast_after_s=0.2)
    result = {}
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        worker = threading.Thread(target=lambda: result.update(r=client.issue(city.residents[0], 9, "drop-me")))
        worker.start()
        while not client._unconfirmed and worker.is_alive():
            time.sleep(0.01)
        (h,) = list(client._unconfirmed)
        w3.provider.make_request("anvil_dropTransaction", [h])
        deadline = time.monotonic() + 20
        while worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
            w3.provider.make_request("evm_mine", [])
        worker.join(1)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    assert result["r"].status == "issued" and result["r"].tx_hash == h
    assert city.balance(city.residents[0]) == 9
