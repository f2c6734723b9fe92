"""JSON-RPC to the engine over its Unix socket: the only way the node talks to its engine.

The engine has no reachable TCP port (engine_process.py: its own network namespace); it serves JSON-RPC on a
Unix socket in a directory only the node's user can enter. The framing is anvil's IPC, found by trying it
(anvil 1.7.1): requests are JSON values written one after another (a newline between them is allowed), each
answer (one object, or one array for a batch) is a single line of compact JSON ending in "\\n"; several
requests on one connection are answered concurrently, in any order. So each connection carries one request
at a time (as HTTP/1.1 keep-alive did), and the answer ends at the first newline. Hardhat's engine is served
the same way (hardhat_ipc.js).

`EngineClient` (asyncio, the gateway): a pool of connections, at most `size` requests in flight, each answer
returned as the engine's bytes (no decoding: receipts of hundreds of KB go back to clients as they came).
`SyncEngineClient` (the replay on start, the engine's start-up, dump and load): one blocking connection.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

from ledger_node.errors import LedgerNodeError


class EngineUnavailable(LedgerNodeError, ConnectionError):
    """The engine's socket refused the connection, closed it, or gave no answer in time."""


_DIRECTORIES: dict[Path, int] = {}  # descriptors of socket directories whose paths are too long to connect to


def socket_address(path: Path) -> str:
    """A path `connect` accepts: a Unix socket's path is limited to 107 bytes, and a node's home may be deeper.
    A longer one is reached through an open descriptor of its directory (/proc/self/fd/N/name, Linux), opened
    once per directory and kept."""
    text = str(path)
    if len(text.encode()) < 100:
        return text
    directory = path.parent.absolute()
    if directory not in _DIRECTORIES:
        _DIRECTORIES[directory] = os.open(directory, os.O_PATH | os.O_DIRECTORY)
    return f"/proc/self/fd/{_DIRECTORIES[directory]}/{path.name}"


class _Answer(asyncio.Protocol):
    """One connection to the engine; `answer` is the pending request's future, set when its line is complete."""

    def __init__(self):
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.answer: asyncio.Future | None = None
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes):
        self.chunks.append(data)
        if data.endswith(b"\n") and self.answer and not self.answer.done():  # one request in flight: its last byte
            self.chunks[-1] = data[:-1]
            pieces, self.chunks = self.chunks, []
            self.answer.set_result(pieces)

    def connection_lost(self, exc):
        self.closed = True
        if self.answer and not self.answer.done():
            self.answer.set_exception(EngineUnavailable("the engine closed the connection"))


class EngineClient:
    """Async JSON-RPC over the engine's Unix socket, with a pool of up to `size` connections."""

    def __init__(self, path: Path, size: int = 16):
        self.path = Path(path)
        self._idle: list[_Answer] = []
        self._slots = asyncio.Semaphore(size)

    async def request(self, payload: bytes, timeout: float = 600.0) -> bytes:
        """Send one encoded request (or batch); the engine's answer as it came, without its newline."""
        pieces = await self.request_pieces(payload, timeout)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def request_pieces(self, payload: bytes, timeout: float = 600.0) -> list[bytes]:
        """The engine's answer as the pieces it came off the socket in (at most 256 KiB each), not joined: a state
        dump's 131 MB joined on the loop held it 0.1-0.4 s under load."""
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                try:
                    _, conn = await asyncio.get_running_loop().create_unix_connection(
                        _Answer, socket_address(self.path))
                except OSError as exc:
                    raise EngineUnavailable(f"cannot reach the engine's socket ({exc.strerror or exc})") from exc
            conn.answer = asyncio.get_running_loop().create_future()
            conn.transport.write(payload + b"\n")
            try:
                body = await asyncio.wait_for(conn.answer, timeout)
            except BaseException:  # timed out or cancelled: its answer may still come, so the connection goes
                conn.transport.abort()
                raise
            conn.answer = None
            self._idle.append(conn)
            return body

    async def close(self) -> None:
        for conn in self._idle:
            conn.transport.close()
        self._idle = []


class SyncEngineClient:
    """Blocking JSON-RPC over the engine's Unix socket, one connection (reconnected if it was closed)."""

    def __init__(self, path: Path, timeout: float = 600.0):
        self.path = Path(path)
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def request(self, payload: bytes, timeout: float | None = None) -> bytes:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(socket_address(self.path))
            except OSError as exc:
                sock.close()
                raise EngineUnavailable(f"cannot reach the engine's socket ({exc.strerror or exc})") from exc
            self._sock = sock
        self._sock.settimeout(timeout or self.timeout)
        chunks = []
        try:
            self._sock.sendall(payload + b"\n")
            while True:
                data = self._sock.recv(1 << 20)
                if not data:
                    raise EngineUnavailable("the engine closed the connection")
                chunks.append(data)
                if data.endswith(b"\n"):
                    return b"".join(chunks)[:-1]
        except OSError as exc:  # socket.timeout included: the answer may still come, so the connection goes
            self.close()
            if isinstance(exc, EngineUnavailable):
                raise
            raise EngineUnavailable(f"the engine did not answer ({exc.__class__.__name__})") from exc

    def call(self, method: str, params: list | None = None, timeout: float | None = None) -> dict:
        """The engine's whole answer ({result} or {error}) to one call."""
        payload = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
        return json.loads(self.request(payload, timeout))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "SyncEngineClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
