"""The admin WebSocket RPC path: `sync-permissions --node` and `admin-call` reach ws://127.0.0.1:<admin_port> with
a JWT signed by the node's admin-jwt.key, and nothing without a valid one.

Besu cannot run here (consortium README), so a small WebSocket JSON-RPC server stands in for the node's admin
port: it checks `Authorization: Bearer` the way Besu's JWT public key authentication does (ES256 signature with
the key of `rpc-ws-authentication-jwt-public-key-file`, `exp` in the future) and keeps allowlists in memory.
"""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
import tomllib
from http import HTTPStatus
from pathlib import Path

import pytest
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from typer.testing import CliRunner
from websockets.sync.server import serve

from ledger_node.consortium.cli import app
from ledger_node.consortium.description import load_description
from ledger_node.consortium.generate import generate_network
from ledger_node.consortium.permissions import push_live

EXAMPLE = Path(__file__).resolve().parents[2] / "ledger_node" / "consortium" / "example-consortium.yaml"
A = "0x" + "aa" * 20
B = "0x" + "bb" * 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _valid(token: str, public_key) -> bool:
    try:
        header, payload, signature = token.split(".")
        unb64 = lambda part: base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))  # noqa: E731
        raw = unb64(signature)
        public_key.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                          f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        return json.loads(unb64(header))["alg"] == "ES256" and json.loads(unb64(payload))["exp"] > time.time()
    except (ValueError, KeyError, InvalidSignature):
        return False


class AdminPort:
    """The stand-in admin port: JWT checked on the upgrade request; PERM and QBFT methods answered."""

    def __init__(self, public_pem: bytes, port: int):
        self.public_key = serialization.load_pem_public_key(public_pem)
        self.accounts: list[str] = [B]
        self.nodes: list[str] = []
        self.calls: list[str] = []
        self.server = serve(self._handle, "127.0.0.1", port, process_request=self._auth)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _auth(self, connection, request):
        value = request.headers.get("Authorization", "")
        if not (value.startswith("Bearer ") and _valid(value[7:], self.public_key)):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    def _handle(self, connection):
        for message in connection:
            req = json.loads(message)
            self.calls.append(req["method"])
            method, params = req["method"], req["params"]
            result = {"perm_getAccountsAllowlist": lambda: self.accounts,
                      "perm_getNodesAllowlist": lambda: self.nodes,
                      "perm_addAccountsToAllowlist": lambda: self.accounts.extend(params[0]) or "Success",
                      "perm_removeAccountsFromAllowlist": lambda: [self.accounts.remove(a) for a in params[0]]
                      and "Success",
                      "perm_addNodesToAllowlist": lambda: self.nodes.extend(params[0]) or "Success",
                      "perm_removeNodesFromAllowlist": lambda: "Success",
                      "qbft_getValidatorsByBlockNumber": lambda: ["0x" + "11" * 20]}[method]()
            connection.send(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}))

    def close(self):
        self.server.shutdown()


@pytest.fixture
def network(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    port = _free_port()
    data["members"][0]["admin_port"] = port
    desc = tmp_path / "consortium.yaml"
    desc.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    generate_network(load_description(desc), out)
    node = data["members"][0]["name"]
    admin = AdminPort((out / node / "admin-jwt.pub").read_bytes(), port)
    yield out, node, port, admin
    admin.close()


def test_syncPermissions_node_pushesOverTheAuthenticatedAdminPort(network, tmp_path):
    out, node, port, admin = network
    config = tomllib.loads((out / node / "config.toml").read_text())
    assert (config["rpc-ws-host"], config["rpc-ws-port"]) == ("127.0.0.1", port)
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([A]))
    result = CliRunner().invoke(app, ["sync-permissions", "--out", str(out), "--accounts-from", str(accounts),
                                      "--node", node])
    assert result.exit_code == 0, result.output
    assert A.lower() in admin.accounts and B not in admin.accounts  # B is not a transacting account
    assert "perm_addAccountsToAllowlist" in admin.calls and admin.nodes  # the description's enodes


def test_adminPort_refusesNoTokenAndAForeignToken(network, tmp_path):
    out, node, port, admin = network
    url = f"ws://127.0.0.1:{port}"
    for token in (None, _foreign_token()):
        with pytest.raises(Exception) as info:
            push_live(url, [A], [], token=token)
        assert getattr(info.value, "code", "") == "CONSORTIUM_RPC_PUSH_FAILED" and "401" in str(info.value)
    assert admin.calls == [] and admin.accounts == [B]


def test_adminCall_printsTheResult(network):
    out, node, port, admin = network
    result = CliRunner().invoke(app, ["admin-call", node, "qbft_getValidatorsByBlockNumber", '["latest"]',
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == ["0x" + "11" * 20]
    bad = CliRunner().invoke(app, ["admin-call", node, "qbft_getValidatorsByBlockNumber", "latest", "--out", str(out)])
    assert bad.exit_code == 2 and "CONSORTIUM_FIELD_INVALID" in bad.output


def _foreign_token() -> str:
    """A well-formed ES256 JWT signed by some other key."""
    key = ec.generate_private_key(ec.SECP256R1())
    b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    header = b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"permissions": ["*:*"], "exp": int(time.time()) + 300}).encode())
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256())))
    return f"{header}.{payload}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
