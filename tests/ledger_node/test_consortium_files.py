"""`init` output: every file parses, every Besu option is a documented one, keys match their derived ids."""
from __future__ import annotations

import json
import re
import stat
import tomllib
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
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


def test_layout(out, consortium):
    for name in ("genesis.json", "static-nodes.json", "permissions_config.toml", "docker-compose.yml",
                 "RUNBOOK.md", "consortium.yaml"):
        assert (out / name).is_file(), name
    for node in consortium.nodes:
        for name in ("key", "key.pub", "address", "config.toml"):
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
        assert "QBFT" in config["rpc-http-api"] and "PERM" in config["rpc-http-api"]
        # relative paths resolve from the node folder to the shared files
        for option in ("genesis-file", "static-nodes-file", "permissions-nodes-config-file",
                       "permissions-accounts-config-file", "node-private-key-file"):
            assert (out / node.name / config[option]).resolve().is_file(), option
        assert "Xdns-enabled" not in config  # the example uses IP addresses only


def test_dns_hosts_turn_on_documented_dns_option(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["members"][0]["host"] = "validator.authority.city.example"
    desc = tmp_path / "c.yaml"
    desc.write_text(yaml.safe_dump(data))
    generate_network(load_description(desc), tmp_path / "out")
    config = tomllib.loads((tmp_path / "out" / "city-authority" / "config.toml").read_text())
    assert config["Xdns-enabled"] is True and set(config) <= set(DOCUMENTED_OPTIONS)


def test_genesis(out, consortium):
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
