"""One EVM engine process (anvil, or Hardhat's node): started, waited for until it answers JSON-RPC, stopped. It
dies with the process that started it, even on `kill -9`, so a killed node never leaves an engine behind holding
its chain.

The node's engine is sealed: it serves JSON-RPC on a Unix socket (`socket`) in a directory only its owner can
enter (0700), and runs in a network namespace of its own (`unshare -n`, or `-rn` when not root), so the TCP
port anvil always opens is on a loopback nobody else shares: no other process (nor a web page) can call
`anvil_setBalance` or `evm_revert` behind the journal. Without `socket` it is a bare engine on a loopback port
(tests, benchmarks).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from ledger_node import jsonrpc
from ledger_node.node.engine_client import SyncEngineClient
from ledger_node.errors import LedgerNodeError

# What the node says when it cannot seal its engine, and the setting that runs it exposed anyway.
EXPOSED_SETTING = "CITYPOINTS_ENGINE_EXPOSED=1"


class NodeError(LedgerNodeError):
    """The node could not be started, reached or restored; the message says why."""


class EngineProcess:
    name = "engine"

    def __init__(self, host: str, port: int, log: Path, *, socket: Path | None = None, sealed: bool = False):
        """`socket`: JSON-RPC on this Unix socket (its directory is made 0700); `sealed`: and in a network namespace
        of its own, so its TCP port is reachable by nobody."""
        self.host = host
        self.port = port
        self.log = log
        self.socket = socket
        self.sealed = sealed
        self.proc: subprocess.Popen | None = None
        self._client = SyncEngineClient(socket) if socket else None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict | None:
        """The process's environment; None inherits this one's."""
        return None

    def on_ready(self) -> None:
        """Settings applied once it answers."""

    def start(self, timeout: float = 30.0, cwd: Path | None = None) -> None:
        command = self.command()
        if self.sealed:
            command = seal_command() + command
        elif port_in_use(self.host, self.port):
            raise NodeError(f"port {self.port} on {self.host} is taken by another process; "
                            f"stop it or set CITYPOINTS_RPC_PORT")
        if self.socket:
            private_directory(self.socket.parent)
            self.socket.unlink(missing_ok=True)  # left by an engine killed with its node
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(command, cwd=cwd, env=self.environment(), stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NodeError(f"{self.name} exited with code {self.proc.returncode}: {self.log_tail()}")
            try:
                self.call("eth_chainId", timeout=1)
            except OSError:  # not answering yet (jsonrpc.TransportFailure and EngineUnavailable are OSErrors)
                time.sleep(0.05)
                continue
            self.on_ready()
            return
        self.stop()
        raise NodeError(f"{self.name} did not answer on {self.where} within {timeout:.0f}s: {self.log_tail()}")

    @property
    def where(self) -> str:
        return str(self.socket) if self.socket else self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._client:
            self._client.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def call(self, method: str, params: list | None = None, timeout: float = 30.0):
        if not self._client:
            return rpc(self.url, method, params, timeout=timeout)
        answer = self._client.call(method, params, timeout=timeout)
        if "error" in answer:
            raise NodeError(f"{method}: {answer['error'].get('message', answer['error'])}")
        return answer["result"]

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(lines[-5:]) or "(empty log)"


def die_with_parent() -> None:
    """preexec_fn: the engine dies with the process that started it, even on `kill -9` (Linux)."""
    try:
        import ctypes
        import signal as _signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, _signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def seal_command() -> list[str]:
    """The command prefix that starts a process in a network namespace of its own (only a loopback, down, that
    nothing else shares). Refuses, saying what to do, where Linux namespaces are not available."""
    unshare = shutil.which("unshare")
    flags = "-n" if os.geteuid() == 0 else "-rn"  # -r: a user namespace of its own, so no root is needed
    why = "the unshare command is missing (util-linux)" if not unshare else ""
    if unshare:
        probe = subprocess.run([unshare, flags, "true"], capture_output=True, text=True)
        if probe.returncode:
            why = f"`unshare {flags}` failed: {probe.stderr.strip() or probe.returncode}"
    if why:
        raise NodeError(f"cannot seal the engine in a network namespace of its own ({why}). Run the node on Linux "
                        f"with network (and, when not root, user) namespaces allowed; or set {EXPOSED_SETTING} to "
                        f"run the engine on an open 127.0.0.1 port: UNSAFE, any local program or web page can then "
                        f"rewrite balances behind the journal and break crash recovery (ledger_node/README.md)")
    return [unshare, flags]


def private_directory(path: Path) -> None:
    """`path` exists, belongs to this user and only this user can enter it (the engine's socket is in it)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    if path.stat().st_uid != os.geteuid():
        raise NodeError(f"{path} belongs to another user; remove it (it holds only the engine's socket)")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(url: str, method: str, params: list | None = None, timeout: float = 30.0):
    """One request to a node's (or a bare engine's) HTTP port; its result, or NodeError with the node's message.
    An unreachable port raises jsonrpc.TransportFailure (a ConnectionError)."""
    answer = jsonrpc.request(url, method, params, timeout=timeout)
    if "error" in answer:
        raise NodeError(f"{method}: {jsonrpc.error_fields(answer['error'])[0]}")
    return answer["result"]
