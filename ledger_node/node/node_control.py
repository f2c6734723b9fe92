"""`citypoints node start|stop|status`: manage the supervisor process of the embedded node."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from ledger_node import paths
from ledger_node.node.anvil import NodeError, port_in_use, rpc
from ledger_node.config import NodeConfig


@dataclass
class NodeStatus:
    running: bool
    healthy: bool
    rpcUrl: str
    chainId: int | None = None
    height: int | None = None
    latestBlockTime: int | None = None
    pid: int | None = None
    detail: str = ""
    engine: str | None = None
    operatorUrl: str | None = None
    blockPeriod: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _owner_only(top) -> None:
    """Tighten what an older node left readable to others (journal, logs, keys): directories 0700, files 0600.
    New files are created so (the console runs with umask 077)."""
    for path in [top, *top.rglob("*")]:
        if path.is_symlink() or path.is_socket():
            continue
        mode = path.stat().st_mode & 0o777
        wanted = mode & (0o700 if path.is_dir() else 0o600)
        if mode != wanted:
            path.chmod(wanted)


def start(timeout: float = 900.0, *, accept_replay: bool = False) -> tuple[bool, str]:
    """Start the node unless it runs. Returns (started_now, message). Raises NodeError on failure.

    `accept_replay`: a replay that diverges from the journal keeps the chain rebuilt from it (recovery.py)."""
    cfg = NodeConfig.from_env()
    current = status()
    if current.running and current.healthy:
        return False, f"node already running at {current.rpcUrl} (block {current.height})"
    if port_in_use(cfg.host, cfg.port):
        raise NodeError(f"port {cfg.port} on {cfg.host} is taken by another process; stop it or set "
                        f"CITYPOINTS_RPC_PORT")
    paths.chain_dir().mkdir(parents=True, exist_ok=True)
    _owner_only(paths.var_dir())
    log = paths.chain_dir() / "node.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ledger_node.node.supervisor",
                                 *(["--accept-replay"] if accept_replay else [])], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=paths.ROOT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NodeError(f"node failed to start: {_last_error(log)}")
        if paths.node_file().exists():
            st = status()
            if st.healthy:
                return True, f"node started at {st.rpcUrl} (chain {st.chainId}, block {st.height}){_accepted(log)}"
        time.sleep(0.1)
    proc.terminate()
    raise NodeError(f"node did not become ready within {timeout:.0f}s: {_last_error(log)}")


def stop(timeout: float = 600.0) -> str:
    info = _runtime()
    if not info or not _pid_alive(info["pid"]):
        paths.node_file().unlink(missing_ok=True)
        return "node is not running"
    os.kill(info["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(info["pid"]):
        time.sleep(0.1)
    if _pid_alive(info["pid"]):
        raise NodeError(f"node (pid {info['pid']}) did not stop within {timeout:.0f}s")
    return "node stopped; chain saved under var/chain/"


def status() -> NodeStatus:
    cfg = NodeConfig.from_env()
    info = _runtime()
    url = info["rpcUrl"] if info else cfg.rpc_url
    if not info or not _pid_alive(info["pid"]):
        return NodeStatus(False, False, url, detail="not running")
    try:
        block = rpc(url, "eth_getBlockByNumber", ["latest", False], timeout=5)
        chain_id = int(rpc(url, "eth_chainId", timeout=5), 16)
    except (NodeError, OSError) as exc:
        return NodeStatus(True, False, url, pid=info["pid"], detail=f"RPC not answering: {exc}")
    return NodeStatus(True, True, url, chain_id, int(block["number"], 16), int(block["timestamp"], 16),
                      info["pid"], "ok", info.get("engine"), info.get("operatorUrl"), info.get("blockPeriod"))


def _runtime() -> dict | None:
    try:
        return json.loads(paths.node_file().read_text())
    except (FileNotFoundError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _accepted(log) -> str:
    """What an accepted divergent replay did, from this start's log lines."""
    lines = log.read_text(errors="replace").strip().splitlines()
    ends = [i for i, l in enumerate(lines) if l.startswith("restored chain")]
    if not ends:
        return ""
    begin = ends[-2] + 1 if len(ends) > 1 else 0
    return "".join(f"\n{l}" for l in lines[begin:ends[-1]] if "--accept-replay" in l)


def _last_error(log) -> str:
    lines = log.read_text(errors="replace").strip().splitlines()
    errors = [l for l in lines if l.startswith("error:")]
    return (errors or lines or ["(no output)"])[-1]
