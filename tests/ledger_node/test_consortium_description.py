"""consortium.yaml validation: the example parses; every bad input gets its stable code and changes nothing."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ledger_node.consortium import errors as E
from ledger_node.consortium.cli import app
from ledger_node.consortium.description import load_description, parse_description, parse_balance
from ledger_node.consortium.errors import ConsortiumError

EXAMPLE = Path(__file__).resolve().parents[2] / "ledger_node" / "consortium" / "example-consortium.yaml"


@pytest.fixture
def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def _code(data) -> str:
    with pytest.raises(ConsortiumError) as info:
        parse_description(data)
    return info.value.code


def test_example_has_the_seven_members_each_running_a_validator():
    c = load_description(EXAMPLE)
    assert [v.name for v in c.validators] == [
        "city-authority", "volunteer", "traffic", "culture", "green", "merchants", "auditor"]
    assert {v.role for v in c.validators} == {"authority", "issuer", "merchants", "auditor"}
    assert all(v.validator for v in c.validators) and not any(n.validator for n in c.rpc_nodes)
    assert c.fault_tolerance == 2
    assert c.network.gas_limit == 0x5F5E100 and c.network.evm_fork == "prague"
    assert all(v == 10**24 for v in c.allocations.values())


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_fewer_than_four_validators_is_refused_with_the_reason(example, n):
    example["members"] = example["members"][:n]
    with pytest.raises(ConsortiumError) as info:
        parse_description(example)
    assert info.value.code == E.TOO_FEW_VALIDATORS
    assert "3f + 1" in info.value.message and "at least 4" in info.value.message


def test_four_validators_is_enough(example):
    example["members"] = example["members"][:4]
    assert parse_description(example).fault_tolerance == 1


def test_duplicate_name(example):
    example["members"][1]["name"] = example["members"][0]["name"]
    assert _code(example) == E.DUPLICATE_NAME


def test_duplicate_name_between_validator_and_rpc_node(example):
    example["rpc_nodes"][0]["name"] = "auditor"
    assert _code(example) == E.DUPLICATE_NAME


@pytest.mark.parametrize("field,value", [("p2p_port", 30303), ("rpc_port", 30303), ("p2p_port", 8601)])
def test_duplicate_host_port(example, field, value):
    example["members"][1][field] = value  # member 0 holds 127.0.0.1:30303 (p2p) and :8601 (rpc)
    assert _code(example) == E.DUPLICATE_ENDPOINT


def test_same_port_on_another_host_is_fine(example):
    example["members"][1]["host"] = "10.1.2.3"
    example["members"][1]["p2p_port"] = 30303
    parse_description(example)


def test_p2p_and_rpc_port_of_one_node_must_differ(example):
    example["members"][2]["rpc_port"] = example["members"][2]["p2p_port"]
    assert _code(example) == E.DUPLICATE_ENDPOINT


def test_admin_port_defaults_to_rpc_port_plus_1000_and_must_not_clash(example):
    nodes = parse_description(copy.deepcopy(example)).nodes
    assert [n.admin_port for n in nodes] == [n.rpc_port + 1000 for n in nodes]
    clash = copy.deepcopy(example)
    clash["members"][1]["admin_port"] = 9601  # member 0's default admin port, same host
    assert _code(clash) == E.DUPLICATE_ENDPOINT
    own = copy.deepcopy(example)
    own["members"][1]["admin_port"] = own["members"][1]["rpc_port"]
    assert _code(own) == E.DUPLICATE_ENDPOINT
    high = copy.deepcopy(example)
    high["members"][1]["rpc_port"] = 65000  # 66000 is no port: admin_port must be given
    assert _code(high) == E.FIELD_MISSING
    high["members"][1]["admin_port"] = 65001
    assert parse_description(high).nodes[1].admin_port == 65001
    for bad in (0, 70000, "9601", True):
        example["members"][2]["admin_port"] = bad
        assert _code(example) == E.BAD_PORT


@pytest.mark.parametrize("value", [0, 65536, -1, "30303", 30303.0, True, None])
def test_bad_ports(example, value):
    example["members"][3]["p2p_port"] = value
    assert _code(example) in (E.BAD_PORT, E.FIELD_MISSING)


@pytest.mark.parametrize("field", ["name", "organisation", "host", "p2p_port", "rpc_port"])
def test_missing_node_field(example, field):
    del example["members"][0][field]
    assert _code(example) == E.FIELD_MISSING


def test_missing_chain_id_and_members(example):
    broken = copy.deepcopy(example)
    del broken["network"]["chain_id"]
    assert _code(broken) == E.FIELD_MISSING
    del example["members"]
    assert _code(example) == E.FIELD_MISSING


def test_unknown_field_is_named(example):
    example["members"][0]["rpc-port"] = 1
    with pytest.raises(ConsortiumError) as info:
        parse_description(example)
    assert info.value.code == E.UNKNOWN_FIELD and "rpc-port" in info.value.message


@pytest.mark.parametrize("name", ["City", "a_b", "-x", "x" * 41, ""])
def test_bad_node_names(example, name):
    example["members"][0]["name"] = name
    assert _code(example) == E.FIELD_INVALID


@pytest.mark.parametrize("host", ["bad host", "-x.example", "300.1.1.1"])
def test_bad_hosts(example, host):
    example["members"][0]["host"] = host
    assert _code(example) == E.FIELD_INVALID


def test_bad_addresses(example):
    bad_checksum = "0xC17e000000000000000000000000000000000001"
    example["accounts"]["always_allowed"] = [bad_checksum]
    assert _code(example) == E.BAD_ADDRESS
    example["accounts"]["always_allowed"] = ["0x1234"]
    assert _code(example) == E.BAD_ADDRESS


def test_bad_fork_and_unpinned_version(example):
    broken = copy.deepcopy(example)
    broken["network"]["evm_fork"] = "osaka"
    assert _code(broken) == E.FIELD_INVALID
    example["network"]["besu_version"] = "latest"
    assert _code(example) == E.FIELD_INVALID


def test_parseBalance_takesEtherHexAndIntegers_refusesTheRest():
    assert parse_balance("1 ether", "x") == 10**18
    assert parse_balance("0.5 ether", "x") == 5 * 10**17
    assert parse_balance("0x10", "x") == 16
    assert parse_balance(7, "x") == 7
    for bad in ("1e-30 ether", "lots", -1, True):
        with pytest.raises(ConsortiumError):
            parse_balance(bad, "x")


def test_cli_refuses_three_validators_and_writes_nothing(tmp_path, example):
    example["members"] = example["members"][:3]
    desc = tmp_path / "three.yaml"
    desc.write_text(yaml.safe_dump(example))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["init", str(desc), "--out", str(out)])
    assert result.exit_code == 2
    assert E.TOO_FEW_VALIDATORS in result.output and "3f + 1" in result.output
    assert not out.exists()


def test_cli_reports_missing_file(tmp_path):
    result = CliRunner().invoke(app, ["init", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and E.FILE_NOT_FOUND in result.output


def test_cli_help_texts():
    runner = CliRunner()
    for command in ("init", "sync-permissions"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
