"""One EVM engine process (anvil, or Hardhat's node) on a loopback port: started, waited for until it answers
JSON-RPC, stopped. It dies with the process that started it, even on `kill -9`, so a killed node never leaves
an engine behind holding its port and its chain.
"""
from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


class NodeError(Exception):
    """The node could not be started, reached or restored; the message says why."""


class EngineProcess:
    name = "engine"

    def __init__(self, host: str, port: int, log: Path):
        self.host = host
        self.port = port
        self.log = log
        self.proc: subprocess.Popen | None = None

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
        if port_in_use(self.host, self.port):
            raise NodeError(f"port {self.port} on {self.host} is taken by another process; "
                            f"stop it or set CITYPOINTS_RPC_PORT")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(), cwd=cwd, env=self.environment(), stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NodeError(f"{self.name} exited with code {self.proc.returncode}: {self.log_tail()}")
            try:
                rpc(self.url, "eth_chainId", timeout=1)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
                continue
            self.on_ready()
            return
        self.stop()
        raise NodeError(f"{self.name} did not answer on {self.url} within {timeout:.0f}s: {self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
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
        return rpc(self.url, method, params, timeout=timeout)

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


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(url: str, method: str, params: list | None = None, timeout: float = 30.0):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.loads(resp.read())
    if "error" in answer:
        raise NodeError(f"{method}: {answer['error'].get('message', answer['error'])}")
    return answer["result"]
