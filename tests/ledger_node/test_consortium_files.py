"""`init` output: every file parses, every Besu option is a documented one, keys match their derived ids."""
from __future__ import annotations

import base64
import json
import re
import stat
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from eth_utils import keccak, to_checksum_address
from typer.testing import CliRunner

from ledger_node.consortium import system_contracts
from ledger_node.consortium.besu_config import DOCUMENTED_OPTIONS
from ledger_node.consortium.cli import app
from ledger_node.consortium.description import load_description
from ledger_node.consortium.errors import ConsortiumError
from ledger_node.consortium.generate import GENESIS_EXISTS, generate_network

EXAMPLE = Path(__file__).resolve().parents[2] / "ledger_node" / "consortium" / "example-consortium.yaml"
ENODE_RE = re.compile(r"^enode://([0-9a-f]{128})@([^:@/]+):(\d{1,5})$")


@pytest.fixture(scope="module")
def consortium():
    return load_description(EXAMPLE)


@pytest.fixture(scope="module")
def out(tmp_path_factory, consortium) -> Path:
    path = tmp_path_factory.mktemp("consortium")
    result = CliRunner().invoke(app, ["init", str(EXAMPLE), "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _independent_public_key(node_dir: Path) -> bytes:
    """Derive the public key with `cryptography` (OpenSSL), not eth-keys which init used."""
    secret = int((node_dir / "key").read_text().strip(), 16)
    numbers = ec.derive_private_key(secret, ec.SECP256K1()).public_key().public_numbers()
    return numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def test_generateNetwork_writesEveryFileANodeNeeds(out, consortium):
    for name in ("genesis.json", "static-nodes.json", "permissions_config.toml", "docker-compose.yml",
                 "RUNBOOK.md", "consortium.yaml"):
        assert (out / name).is_file(), name
    for node in consortium.nodes:
        for name in ("key", "key.pub", "address", "config.toml", "admin-jwt.key", "admin-jwt.pub"):
            assert (out / node.name / name).is_file()
        assert (out / "systemd" / f"besu-{node.name}.service").is_file()


def test_key_files(out, consortium):
    for node in consortium.nodes:
        d = out / node.name
        assert stat.S_IMODE((d / "key").stat().st_mode) == 0o600
        assert re.fullmatch(r"0x[0-9a-f]{64}", (d / "key").read_text())
        pub = _independent_public_key(d)
        assert (d / "key.pub").read_text() == "0x" + pub.hex()  # 64 bytes, no 04 prefix
        assert (d / "address").read_text() == to_checksum_address(keccak(pub)[-20:])


def test_every_toml_option_is_documented_and_files_parse(out, consortium):
    for name, url in DOCUMENTED_OPTIONS.items():
        assert url.startswith("https://besu.hyperledger.org/") and (name in url or name == "Xdns-enabled")
    for node in consortium.nodes:
        config = tomllib.loads((out / node.name / "config.toml").read_text())
        undocumented = set(config) - set(DOCUMENTED_OPTIONS)
        assert not undocumented, f"{node.name}: {undocumented}"
        assert config["min-gas-price"] == 0 and config["tx-pool-min-gas-price"] == 0
        assert config["p2p-port"] == node.p2p_port and config["rpc-http-port"] == node.rpc_port
        assert config["permissions-nodes-config-file-enabled"] is True
        assert config["permissions-accounts-config-file-enabled"] is True
        assert config["discovery-enabled"] is False and config["sync-mode"] == "FULL"
        # relative paths resolve from the node folder to the shared files
        for option in ("genesis-file", "static-nodes-file", "permissions-nodes-config-file",
                       "permissions-accounts-config-file", "node-private-key-file"):
            assert (out / node.name / config[option]).resolve().is_file(), option
        assert "Xdns-enabled" not in config  # the example uses IP addresses only


# Every API-related option a node's config.toml may hold, with the only value it may have (None: any value,
# checked below). Anything else that names rpc, api, graphql, engine, ipc, ws, cors or authentication fails.
API_OPTIONS = {
    "rpc-http-enabled": True,
    "rpc-http-host": "127.0.0.1",  # network.rpc_listen of the example
    "rpc-http-port": None,
    "rpc-http-api": ["ETH", "NET", "WEB3"],
    "rpc-http-authentication-enabled": False,
    "rpc-ws-enabled": True,
    "rpc-ws-host": "127.0.0.1",
    "rpc-ws-port": None,
    "rpc-ws-api": ["ADMIN", "DEBUG", "PERM", "QBFT", "TXPOOL", "MINER"],
    "rpc-ws-authentication-enabled": True,
    "rpc-ws-authentication-jwt-public-key-file": "admin-jwt.pub",
    "rpc-ws-authentication-jwt-algorithm": "ES256",
    "graphql-http-enabled": False,
    "engine-rpc-enabled": False,
    "host-allowlist": None,
}
API_WORDS = ("rpc", "api", "graphql", "engine", "ipc", "ws", "cors", "auth", "jwt")


def test_publicRpcServesOnlyEthNetWeb3_adminApisOnlyOnTheJwtLocalhostPort(out, consortium):
    admin_ports = set()
    for node in consortium.nodes:
        config = tomllib.loads((out / node.name / "config.toml").read_text())
        api_related = {k for k in config if any(w in k.lower() for w in API_WORDS)}
        assert api_related == set(API_OPTIONS) - {"host-allowlist"}, f"{node.name}: {api_related ^ set(API_OPTIONS)}"
        for name, expected in API_OPTIONS.items():
            if expected is not None:
                assert config[name] == expected, f"{node.name}: {name}={config[name]!r}"
        assert config["rpc-http-port"] == node.rpc_port and config["rpc-ws-port"] == node.admin_port
        assert node.admin_port == node.rpc_port + 1000 and node.admin_port not in admin_ports
        admin_ports.add(node.admin_port)
        # no admin API anywhere public; every admin API only on the authenticated loopback port
        public = set(config["rpc-http-api"])
        assert not public & {"ADMIN", "DEBUG", "PERM", "QBFT", "TXPOOL", "MINER", "TRACE", "PLUGINS", "ENGINE"}
        assert not any(k.startswith("X") and "rpc" in k.lower() for k in config)  # no early-access IPC socket
        # node and account permissioning on, from the shared file
        assert config["permissions-nodes-config-file-enabled"] is True
        assert config["permissions-accounts-config-file-enabled"] is True
        # the JWT public key Besu reads is the P-256 public key of the node's private admin key (0600)
        private = out / node.name / "admin-jwt.key"
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        public_key = serialization.load_pem_public_key((out / node.name / config[
            "rpc-ws-authentication-jwt-public-key-file"]).read_bytes())
        assert isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp256r1"
        assert public_key.public_numbers() == key.public_key().public_numbers()


def test_adminToken_isAnEs256JwtBesuAccepts_andKeysSurviveARerun(tmp_path, consortium):
    generate_network(consortium, tmp_path)
    node_dir = tmp_path / "city-authority"
    pub_before = (node_dir / "admin-jwt.pub").read_bytes()
    priv_before = (node_dir / "admin-jwt.key").read_bytes()
    result = CliRunner().invoke(app, ["admin-token", "city-authority", "--out", str(tmp_path), "--ttl", "120"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    header, payload, signature = token.split(".")
    unb64 = lambda part: base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))  # noqa: E731
    assert json.loads(unb64(header)) == {"alg": "ES256", "typ": "JWT"}
    claims = json.loads(unb64(payload))
    assert claims["permissions"] == ["*:*"] and 0 < claims["exp"] - time.time() <= 120
    raw = unb64(signature)
    public_key = serialization.load_pem_public_key(pub_before)
    public_key.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                      f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    generate_network(consortium, tmp_path)  # a re-run never replaces the admin key
    assert (node_dir / "admin-jwt.key").read_bytes() == priv_before
    assert (node_dir / "admin-jwt.pub").read_bytes() == pub_before
    bad = CliRunner().invoke(app, ["admin-token", "city-authority", "--out", str(tmp_path), "--ttl", "0"])
    assert bad.exit_code == 2 and "CONSORTIUM_FIELD_INVALID" in bad.output


def test_dns_hosts_turn_on_documented_dns_option(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["members"][0]["host"] = "validator.authority.city.example"
    desc = tmp_path / "c.yaml"
    desc.write_text(yaml.safe_dump(data))
    generate_network(load_description(desc), tmp_path / "out")
    config = tomllib.loads((tmp_path / "out" / "city-authority" / "config.toml").read_text())
    assert config["Xdns-enabled"] is True and set(config) <= set(DOCUMENTED_OPTIONS)


def test_genesis_isQbftAtPragueWithZeroBaseFee(out, consortium):
    genesis = json.loads((out / "genesis.json").read_text())
    cfg = genesis["config"]
    assert cfg["chainId"] == 7070 and cfg["zeroBaseFee"] is True
    assert cfg["qbft"] == {"blockperiodseconds": 2, "epochlength": 30000, "requesttimeoutseconds": 4}
    assert cfg["londonBlock"] == 0 and cfg["shanghaiTime"] == 0 and cfg["cancunTime"] == 0 and cfg["pragueTime"] == 0
    assert "terminalTotalDifficulty" not in cfg  # never a PoS transition
    assert cfg["withdrawalRequestContractAddress"] == system_contracts.WITHDRAWAL_REQUESTS.address
    assert cfg["consolidationRequestContractAddress"] == system_contracts.CONSOLIDATION_REQUESTS.address
    assert int(genesis["gasLimit"], 16) == 100_000_000
    assert genesis["difficulty"] == "0x1"
    assert genesis["mixHash"] == "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
    assert genesis["baseFeePerGas"] == "0x0"
    alloc = genesis["alloc"]
    for address, wei in consortium.allocations.items():
        assert int(alloc[address.lower()]["balance"], 16) == wei
    for contract in system_contracts.ALL:
        account = alloc[contract.address.lower()]
        assert account["code"] == contract.runtime_code and account["nonce"] == "0x1"


def test_system_contract_bytes_are_self_consistent():
    for c in system_contracts.ALL:
        init = bytes.fromhex(c.init_code[2:])
        runtime = bytes.fromhex(c.runtime_code[2:])
        # the constructor's declared code length (PUSH1 / PUSH2 before DUP1) equals the runtime length
        declared = init[c.constructor_length - 8] if c.constructor_length == 9 else int.from_bytes(init[36:38], "big")
        assert declared == len(runtime), c.eip
        # the predeploy address is the first contract of the EIP's keyless deployer: keccak(rlp([sender, 0]))
        import rlp

        derived = keccak(rlp.encode([bytes.fromhex(c.deployer[2:]), 0]))[-20:]
        assert to_checksum_address(derived) == c.address, c.eip
    assert [c.eip for c in system_contracts.needed_for("cancun")] == ["EIP-4788"]
    assert system_contracts.needed_for("shanghai") == ()


def test_static_nodes_are_enode_urls_of_the_keys(out, consortium):
    urls = json.loads((out / "static-nodes.json").read_text())
    assert len(urls) == len(consortium.nodes)
    for url, node in zip(urls, consortium.nodes):
        m = ENODE_RE.match(url)
        assert m, url
        assert m.group(1) == _independent_public_key(out / node.name).hex()
        assert (m.group(2), int(m.group(3))) == (node.host, node.p2p_port)


def test_permissions_file(out, consortium):
    perms = tomllib.loads((out / "permissions_config.toml").read_text())
    assert perms["nodes-allowlist"] == json.loads((out / "static-nodes.json").read_text())
    assert perms["accounts-allowlist"] == sorted(a.lower() for a in consortium.always_allowed)


def test_compose_and_systemd(out, consortium):
    doc = yaml.safe_load((out / "docker-compose.yml").read_text())
    services = doc["services"]
    assert set(services) == {f"besu-{n.name}" for n in consortium.nodes}
    for node in consortium.nodes:
        svc = services[f"besu-{node.name}"]
        assert svc["image"] == "hyperledger/besu:26.9.0"
        assert svc["command"] == ["--config-file=config.toml"]
        assert svc["working_dir"].endswith("/" + node.name) and not svc["working_dir"].startswith("/opt/besu")
        unit = (out / "systemd" / f"besu-{node.name}.service").read_text()
        assert "ExecStart=/opt/besu/bin/besu --config-file=config.toml" in unit
        assert f"WorkingDirectory=/opt/citypoints/consortium/{node.name}" in unit
        assert "[Install]" in unit and "WantedBy=multi-user.target" in unit
    runbook = (out / "RUNBOOK.md").read_text()
    assert "{{" not in runbook
    for needle in ("qbft_proposeValidatorVote", "Rotate a node key", "Back up", "Recover", "--init"):
        assert needle in runbook


def test_rerun_keeps_keys_and_genesis(tmp_path, consortium):
    first = generate_network(consortium, tmp_path)
    keys = {n.name: (tmp_path / n.name / "key").read_text() for n in consortium.nodes}
    genesis = (tmp_path / "genesis.json").read_text()
    second = generate_network(consortium, tmp_path)
    assert len(first.keys_generated) == 8 and second.keys_generated == [] and len(second.keys_kept) == 8
    assert second.genesis == "unchanged" and (tmp_path / "genesis.json").read_text() == genesis
    assert keys == {n.name: (tmp_path / n.name / "key").read_text() for n in consortium.nodes}


def test_changed_genesis_is_refused_unless_asked(tmp_path, consortium):
    generate_network(consortium, tmp_path)
    genesis = (tmp_path / "genesis.json").read_text()
    (tmp_path / "volunteer" / "key").rename(tmp_path / "volunteer" / "key.retired")  # key rotation
    with pytest.raises(ConsortiumError) as info:
        generate_network(consortium, tmp_path)
    assert info.value.code == GENESIS_EXISTS
    report = generate_network(consortium, tmp_path, keep_genesis=True)
    assert report.genesis == "kept" and report.keys_generated == ["volunteer"]
    assert (tmp_path / "genesis.json").read_text() == genesis
    new_pub = (tmp_path / "volunteer" / "key.pub").read_text()[2:]
    assert any(new_pub in u for u in json.loads((tmp_path / "static-nodes.json").read_text()))
    generate_network(consortium, tmp_path, new_genesis=True)
    assert (tmp_path / "genesis.json").read_text() != genesis
