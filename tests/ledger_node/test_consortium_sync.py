"""sync-permissions: the right accounts and nodes added and removed, atomic writes, and a no-op that says so."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from ledger_node.consortium import errors as E
from ledger_node.consortium import permissions
from ledger_node.consortium.cli import app
from ledger_node.consortium.description import load_description
from ledger_node.consortium.errors import ConsortiumError
from ledger_node.consortium.generate import generate_network
from ledger_node.consortium.permissions import read_permissions, sync_permissions_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "ledger_node" / "consortium" / "example-consortium.yaml"
A = "0x" + "aa" * 20
B = "0x" + "bb" * 20
C = "0x" + "cc" * 20
NODE1 = "enode://" + "11" * 64 + "@127.0.0.1:30303"
NODE2 = "enode://" + "22" * 64 + "@127.0.0.1:30304"


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_adds_then_is_a_noop_then_removes(tmp_path):
    path = tmp_path / "permissions_config.toml"
    first = sync_permissions_file(path, [A, B], [NODE1, NODE2])
    assert first.written and first.accounts_added == [A, B] and first.nodes_added == [NODE1, NODE2]
    assert tomllib.loads(path.read_text()) == {"accounts-allowlist": [A, B], "nodes-allowlist": [NODE1, NODE2]}

    inode, mtime = path.stat().st_ino, path.stat().st_mtime_ns
    again = sync_permissions_file(path, [B.upper().replace("0X", "0x"), A], [NODE1, NODE2])  # same set, other case/order
    assert not again.changed and not again.written
    assert "nothing changed" in again.summary()
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (inode, mtime)

    third = sync_permissions_file(path, [B, C], [NODE2])
    assert third.accounts_added == [C] and third.accounts_removed == [A]
    assert third.nodes_added == [] and third.nodes_removed == [NODE1]
    assert read_permissions(path) == ([B, C], [NODE2])
    assert path.stat().st_ino != inode  # replaced by rename, never rewritten in place
    summary = third.summary()
    assert f"accounts added: {C}" in summary and f"accounts removed: {A}" in summary and "nodes removed" in summary


def test_dry_run_reports_without_writing(tmp_path):
    path = tmp_path / "permissions_config.toml"
    sync_permissions_file(path, [A], [NODE1])
    before = path.read_text()
    result = sync_permissions_file(path, [B], [NODE1], dry_run=True)
    assert result.accounts_added == [B] and result.accounts_removed == [A] and not result.written
    assert "dry run" in result.summary() and path.read_text() == before


def test_write_is_atomic_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "permissions_config.toml"
    sync_permissions_file(path, [A], [NODE1])
    before = path.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(permissions.os, "replace", crash)
    with pytest.raises(OSError):
        sync_permissions_file(path, [A, B], [NODE1])
    assert path.read_text() == before  # the old file is intact ...
    assert _files(tmp_path) == {"permissions_config.toml"}  # ... and no temporary file is left


def test_bad_addresses_and_bad_file_are_refused(tmp_path):
    path = tmp_path / "permissions_config.toml"
    with pytest.raises(ConsortiumError) as info:
        sync_permissions_file(path, ["0x1234"], [])
    assert info.value.code == E.BAD_ADDRESS and not path.exists()
    path.write_text("accounts-allowlist = [")
    with pytest.raises(ConsortiumError) as info:
        sync_permissions_file(path, [A], [])
    assert info.value.code == E.PERMISSIONS_FILE_INVALID


def test_cli_sync_from_a_list(tmp_path):
    out = tmp_path / "out"
    consortium = load_description(EXAMPLE)
    generate_network(consortium, out)
    accounts_file = tmp_path / "members.json"
    member = Account.create().address
    accounts_file.write_text(json.dumps([member]))
    runner = CliRunner()
    args = ["sync-permissions", "--out", str(out), "--accounts-from", str(accounts_file)]

    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "accounts added" in first.output and member.lower() in first.output
    accounts, nodes = read_permissions(out / "permissions_config.toml")
    assert accounts == sorted([member.lower()] + [a.lower() for a in consortium.always_allowed])
    assert nodes == json.loads((out / "static-nodes.json").read_text())

    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "nothing changed" in second.output

    accounts_file.write_text("[]")  # the member left: removed; always-allowed accounts stay
    third = runner.invoke(app, args)
    assert third.exit_code == 0 and "accounts removed" in third.output
    assert read_permissions(out / "permissions_config.toml")[0] == sorted(a.lower() for a in consortium.always_allowed)


def test_cli_sync_needs_an_initialised_folder_and_a_deployment(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["sync-permissions", "--out", str(tmp_path / "none")])
    assert result.exit_code == 2 and E.NOT_INITIALISED in result.output
    generate_network(load_description(EXAMPLE), tmp_path / "out")
    result = runner.invoke(app, ["sync-permissions", "--out", str(tmp_path / "out"),
                                 "--deployment", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and E.DEPLOYMENT_INVALID in result.output
    (tmp_path / "deployment.json").write_text(json.dumps({"chainId": 7070, "rpcUrl": "http://127.0.0.1:9", "contracts": {}}))
    result = runner.invoke(app, ["sync-permissions", "--out", str(tmp_path / "out"),
                                 "--deployment", str(tmp_path / "deployment.json")])
    assert result.exit_code == 2 and E.DEPLOYMENT_INVALID in result.output


def test_live_read_of_membership(system, w3, tmp_path):
    """permissions.read_transacting_accounts reads the deployed Membership's transactingAccounts() over JSON-RPC."""
    membership = system["Membership"]
    expected = membership.functions.transactingAccounts().call()
    assert expected, "the deployed system has at least its consortium members as transacting accounts"
    url = w3.provider.endpoint_uri
    got = permissions.read_transacting_accounts(url, membership.address)
    assert [a.lower() for a in got] == [a.lower() for a in expected]
    result = sync_permissions_file(tmp_path / "p.toml", got, [NODE1])
    assert sorted(result.accounts_added) == sorted({a.lower() for a in expected})


def test_membership_read_failure_is_reported(tmp_path):
    with pytest.raises(ConsortiumError) as info:
        permissions.read_transacting_accounts("http://127.0.0.1:9", A, timeout=2)
    assert info.value.code == E.MEMBERSHIP_READ_FAILED
