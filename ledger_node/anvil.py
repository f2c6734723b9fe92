"""One anvil process: started from a genesis file, checked for health, its state dumped and loaded over RPC.

anvil refuses `--init` together with `--state`, so the chain always boots from the same genesis
(same chain id, genesis hash and allocations) and a saved state is loaded into it with
`anvil_loadState`, which restores every block, hash and timestamp.
"""
from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from ledger_node import paths
from ledger_node.config import NodeConfig


class NodeError(Exception):
    """The node could not be started, reached or restored; the message says why."""


def write_genesis(path: Path, cfg: NodeConfig, alloc: dict[str, int]) -> None:
    genesis = {
        "config": {"chainId": cfg.chain_id},
        "nonce": "0x0",
        # anvil's clock runs from the genesis time: a genesis at 0 would put every block in 1970
        "timestamp": hex(int(time.time())),
        "gasLimit": hex(cfg.gas_limit),
        "difficulty": "0x0",
        "baseFeePerGas": "0x0",
        "alloc": {addr: {"balance": hex(wei)} for addr, wei in alloc.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(genesis, indent=2))


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


class AnvilProcess:
    def __init__(self, cfg: NodeConfig, genesis: Path, log: Path, *, block_time: float | None = None,
                 no_mining: bool = False):
        """Automine by default (the test fixture's fast path); `no_mining` leaves every block to `evm_mine`,
        with the pool first in, first out so a replay builds the same blocks."""
        self.cfg = cfg
        self.genesis = genesis
        self.log = log
        self.block_time = block_time
        self.no_mining = no_mining
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return self.cfg.rpc_url

    def start(self, timeout: float = 30.0) -> None:
        if port_in_use(self.cfg.host, self.cfg.port):
            raise NodeError(f"port {self.cfg.port} on {self.cfg.host} is taken by another process; "
                            f"stop it or set CITYPOINTS_RPC_PORT")
        args = [str(paths.ANVIL_BIN), "--init", str(self.genesis), "--host", self.cfg.host,
                "--port", str(self.cfg.port), "--hardfork", self.cfg.hardfork, "--gas-price", "0",
                "--base-fee", "0", "--gas-limit", str(self.cfg.gas_limit), "--accounts", "0",
                "--no-request-size-limit"]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        if self.no_mining:  # behind the gateway, for years: no per-block log lines (node.log has what matters)
            args += ["--no-mining", "--order", "fifo", "--quiet"]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NodeError(f"anvil exited with code {self.proc.returncode}: {self._log_tail()}")
            try:
                rpc(self.url, "eth_chainId", timeout=1)
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.stop()
        raise NodeError(f"anvil did not answer on {self.url} within {timeout:.0f}s: {self._log_tail()}")

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

    def dump_state(self) -> str:
        return self.call("anvil_dumpState", timeout=3600)  # a 1,000,000-item ledger takes tens of seconds

    def load_state(self, blob: str) -> None:
        if not self.call("anvil_loadState", [blob], timeout=3600):
            raise NodeError("anvil refused the saved state")
        # anvil's clock restarts from the genesis time; bring it to now so new blocks carry the wall time
        latest = int(self.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        self.call("evm_setTime", [max(int(time.time()), latest + 1)])

    def _log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no log)"
        return " | ".join(lines[-5:]) or "(empty log)"
