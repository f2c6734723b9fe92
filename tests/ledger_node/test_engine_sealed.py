"""Nobody but the node reaches its engine (issue 18, part 2).

A supervised node's process tree (supervisor, engine) is scanned for every listening TCP, UDP and Unix socket, and
each TCP port is called with admin methods, with and without an Origin header, without the operator token: any
answer but a refusal fails the test. The operator channel still works with the token. A node refuses to start
with an empty or short token, and refuses to run an engine it cannot seal unless told to (unsafe); the scan finds
that exposed engine.
"""
from __future__ import annotations

import http.client
import json
import os
import stat
from pathlib import Path

import pytest

from ledger_node.node.anvil import NodeError
from ledger_node.harness import SupervisedNode
from ledger_node.keys import TokenError, operator_token

SOMEONE = "0x" + "5e" * 20
ADMIN_CALLS = [("anvil_setBalance", [SOMEONE, "0xde0b6b3a7640000"]), ("evm_snapshot", []), ("anvil_nodeInfo", []),
               ("evm_revert", ["0x1"]), ("debug_traceCall", [{"to": SOMEONE, "data": "0x"}, "latest"])]
ORIGINS = [None, "http://evil.example"]


# ---- the node's process tree and its sockets (from /proc: psutil is not a dependency) --------------------------

def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _address(hex_addr: str) -> tuple[str, int]:
    host, port = hex_addr.split(":")
    if len(host) == 8:
        ip = ".".join(str(b) for b in reversed(bytes.fromhex(host)))
    else:
        words = [bytes.fromhex(host[i:i + 8])[::-1].hex() for i in range(0, 32, 8)]
        ip = ":".join("".join(words)[i:i + 4] for i in range(0, 32, 4))
    return ip, int(port, 16)


def _inet_sockets(pid: int, proto: str) -> list[dict]:
    """Every row of the pid's network namespace's /proc/net/<proto> (tcp, tcp6, udp, udp6)."""
    rows = []
    try:
        lines = Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]
    except FileNotFoundError:
        return rows
    for line in lines:
        f = line.split()
        ip, port = _address(f[1])
        rows.append({"proto": proto, "ip": ip, "port": port, "state": f[3], "inode": int(f[9])})
    return rows


def listening_sockets(root: int) -> list[dict]:
    """Every listening TCP socket, bound UDP socket and listening Unix socket held by a process of the tree."""
    found = []
    for pid in _tree(root):
        try:
            mine = _socket_inodes(pid)
            netns = os.readlink(f"/proc/{pid}/ns/net")
            unix = Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]
        except (FileNotFoundError, ProcessLookupError):
            continue
        for proto in ("tcp", "tcp6", "udp", "udp6"):
            for row in _inet_sockets(pid, proto):
                listening = row["state"] == "0A" if proto.startswith("tcp") else row["port"] != 0
                if row["inode"] in mine and listening:
                    found.append({**row, "pid": pid, "netns": netns})
        for line in unix:
            f = line.split()
            accepting = int(f[3], 16) & 0x10000  # __SO_ACCEPTCON: a listening socket
            if int(f[6]) in mine and accepting:
                found.append({"proto": "unix", "path": f[7] if len(f) > 7 else "", "pid": pid, "netns": netns})
    return found


def _post(port: int, body: dict | str, origin: str | None, path: str = "/", method: str = "POST"):
    """(status, headers, decoded body) or None when the connection is refused."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if origin:
        headers |= {"Origin": origin, "Access-Control-Request-Method": "POST"}
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    except ConnectionRefusedError:
        return None
    finally:
        conn.close()
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = raw.decode(errors="replace")
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, decoded


def offenders(root: int) -> list[str]:
    """What answers an admin method (or grants CORS) without the operator token, on any port of the tree."""
    found = []
    own_netns = os.readlink("/proc/self/ns/net")
    host_listeners = {(r["port"], r["inode"]) for proto in ("tcp", "tcp6") for r in _inet_sockets(os.getpid(), proto)
                      if r["state"] == "0A"}
    tree_inodes = {i for pid in _tree(root) for i in _socket_inodes(pid)}
    for sock in listening_sockets(root):
        if sock["proto"].startswith("udp"):
            found.append(f"pid {sock['pid']} has a bound UDP socket {sock['ip']}:{sock['port']}")
            continue
        if sock["proto"] == "unix":
            path = None
            if sock["path"] and not sock["path"].startswith("@"):  # a relative name: bound from the process's cwd
                path = Path(os.readlink(f"/proc/{sock['pid']}/cwd")) / sock["path"]
            if path is None:
                found.append(f"pid {sock['pid']} listens on an abstract or unnamed Unix socket {sock['path']!r}")
                continue
            directory = path.parent.stat()
            if stat.S_IMODE(directory.st_mode) & 0o077 or directory.st_uid != os.geteuid():
                found.append(f"Unix socket {path} is in a directory others can enter "
                             f"({oct(stat.S_IMODE(directory.st_mode))})")
            continue
        if sock["netns"] != own_netns:
            # in the engine's own namespace, which has no interface but its loopback; from here the port number
            # reaches the host's loopback instead, where either nothing listens or another program does (not one of
            # this node's processes)
            interfaces = {line.split(":")[0].strip()
                          for line in Path(f"/proc/{sock['pid']}/net/dev").read_text().splitlines()[2:]}
            if interfaces != {"lo"}:
                found.append(f"the namespace of pid {sock['pid']} has interfaces {sorted(interfaces)}")
            strangers = [inode for port, inode in host_listeners if port == sock["port"]]
            if any(inode in tree_inodes for inode in strangers):
                found.append(f"port {sock['port']} of pid {sock['pid']} is reachable from the host")
            continue
        port = sock["port"]
        for origin in ORIGINS:
            preflight = _post(port, None, origin, method="OPTIONS")
            if preflight and "access-control-allow-origin" in preflight[1]:
                found.append(f"port {port} grants CORS to a preflight from {origin}")
            for path in ("/", "/" + "0" * 64):
                for method, params in ADMIN_CALLS:
                    answer = _post(port, {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}, origin,
                                   path)
                    if answer is None:
                        continue
                    status, headers, body = answer
                    refused = status >= 400 or (isinstance(body, dict) and "error" in body and "result" not in body)
                    if not refused:
                        found.append(f"port {port}{path[:9]} answered {method} (origin {origin}): {str(body)[:120]}")
                    if origin and "access-control-allow-origin" in headers:
                        found.append(f"port {port} answered {method} with CORS for {origin}")
    return found


# ---- tests -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["anvil", "hardhat"])
def test_no_port_of_the_node_answers_admin_methods_without_the_token(tmp_path, engine):
    node = SupervisedNode(tmp_path, engine=engine)
    node.start()
    try:
        sockets = listening_sockets(node.proc.pid)
        tcp = [s for s in sockets if s["proto"].startswith("tcp")]
        own_netns = os.readlink("/proc/self/ns/net")
        assert {s["port"] for s in tcp if s["netns"] == own_netns} == {node.port, _operator_port(node)}
        assert any(s["proto"] == "unix" and s["path"].endswith(f"{engine}.ipc") for s in sockets)
        assert offenders(node.proc.pid) == []

        # the operator channel, with the token, still rewrites state (journaled) and reads the engine's admin data
        assert node.operator("anvil_setBalance" if engine == "anvil" else "hardhat_setBalance",
                             [SOMEONE, "0x2a"]) is not False
        assert int(_public(node, "eth_getBalance", [SOMEONE, "latest"]), 16) == 42
        assert node.operator("eth_chainId") == hex(7007)
    finally:
        node.stop()


def test_an_engine_that_cannot_be_sealed_is_refused_unless_exposed_on_purpose(tmp_path):
    no_unshare = {"PATH": str(tmp_path / "empty-path")}  # no `unshare` command on PATH
    node = SupervisedNode(tmp_path / "refused", extra_env=no_unshare)
    with pytest.raises(NodeError, match="cannot seal the engine.*CITYPOINTS_ENGINE_EXPOSED=1"):
        node.start()

    exposed = SupervisedNode(tmp_path / "exposed", extra_env={**no_unshare, "CITYPOINTS_ENGINE_EXPOSED": "1"})
    exposed.start()
    try:
        found = offenders(exposed.proc.pid)
        # the scan finds the open engine: it answers anvil_setBalance to anyone
        assert any("answered anvil_setBalance" in f for f in found), found
        assert "warning: CITYPOINTS_ENGINE_EXPOSED" in exposed.log_tail(20)
    finally:
        exposed.stop()


@pytest.mark.parametrize("token", ["", "\n", "abcd", "0" * 47, "g" * 64])
def test_an_empty_short_or_non_hex_operator_token_is_refused(tmp_path, token):
    path = tmp_path / "operator.token"
    path.write_text(token)
    with pytest.raises(TokenError, match="operator token .* at least 48 hex digits.*Delete the file"):
        operator_token(path)
    assert path.read_text() == token  # nothing is changed: the operator decides


def test_the_node_refuses_an_empty_token_then_starts_with_a_new_one(tmp_path):
    """The node does not start (nor its engine) with an empty token file, as the operator channel would take a
    request with no token at all; deleting the file, as the refusal says, gets a new token."""
    node = SupervisedNode(tmp_path)
    node.chain_dir.mkdir(parents=True)
    (node.chain_dir / "operator.token").write_text("")
    with pytest.raises(NodeError, match="operator token .* is empty.*Delete the file"):
        node.start()
    assert not (node.chain_dir / "engine-socket").exists()  # refused before the engine started
    (node.chain_dir / "operator.token").unlink()  # the way on the refusal gives
    node.start()
    try:
        token_now = (node.chain_dir / "operator.token").read_text().strip()
        assert len(token_now) == 64 and stat.S_IMODE((node.chain_dir / "operator.token").stat().st_mode) == 0o600
        assert node.operator("eth_chainId") == hex(7007)
        refused = _post(_operator_port(node), {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, None, "/")
        assert refused[0] == 401 and refused[2]["error"]["code"] == -32001
    finally:
        node.stop()


def _operator_port(node: SupervisedNode) -> int:
    return int(json.loads((node.chain_dir / "node.json").read_text())["operatorUrl"].rsplit(":", 1)[1])


def _public(node: SupervisedNode, method: str, params: list):
    status, _, body = _post(node.port, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, None)
    assert status == 200 and "result" in body, body
    return body["result"]
