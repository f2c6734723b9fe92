"""`citypoints node start|stop|status`, deploy and demo as an operator runs them, in a private var/."""
import json
import os
import subprocess
import sys

import pytest

from ledger_node.node.anvil import free_port, rpc
from node_tools import cli


@pytest.fixture
def home(tmp_path):
    # blocks every 0.2 s rather than the city's 1 s: deploy and demo loading wait for about forty blocks
    env = dict(os.environ, CITYPOINTS_HOME=str(tmp_path), CITYPOINTS_RPC_PORT=str(free_port()),
               CITYPOINTS_BLOCK_PERIOD="0.2")
    yield tmp_path, env
    subprocess.run([sys.executable, "-m", "scripts.cli", "node", "stop"], env=env, capture_output=True)


def test_node_lifecycle_keepsEveryBlockAcrossStop(home, artifacts):
    tmp, env = home
    assert cli(env, "node", "status", check=False).returncode == 1
    started = cli(env, "node", "start")
    url = f"http://127.0.0.1:{env['CITYPOINTS_RPC_PORT']}"
    assert url in started.stdout
    assert "already running" in cli(env, "node", "start").stdout
    st = json.loads(cli(env, "node", "status", "--json").stdout)
    assert st["healthy"] and st["chainId"] == 7007

    deployed = cli(env, "deploy")
    assert "deployed" in deployed.stdout
    deployment = json.loads((tmp / "var" / "deployment.json").read_text())
    assert set(deployment) == {"chainId", "rpcUrl", "startBlock", "contracts"}
    for address in deployment["contracts"].values():
        assert rpc(url, "eth_getCode", [address, "latest"]) not in ("0x", "0x0")
    assert "nothing to do" in cli(env, "deploy").stdout

    cli(env, "demo", "--residents", "30", "--merchants", "3")
    demo = json.loads((tmp / "var" / "demo.json").read_text())
    assert {"residents", "merchants", "issuers", "auditors"} <= set(demo)
    assert len(demo["residents"]) == 30 and len(demo["merchants"]) == 3
    assert [i["scheme"] for i in demo["issuers"]] == [1, 2, 3, 4, 5]  # 5: residence-permit points
    assert {"name", "address", "privateKey"} <= set(demo["residents"][0]) and "apiKey" in demo["merchants"][0]
    _assert_demo_city_on_chain(url, deployment, demo)
    height = rpc(url, "eth_blockNumber")
    assert "demo city ready" in cli(env, "demo", "--residents", "30", "--merchants", "3").stdout
    assert rpc(url, "eth_blockNumber") == height, "a second demo run must not send transactions"

    before = rpc(url, "eth_getBlockByNumber", ["latest", False])
    cli(env, "node", "stop")
    assert cli(env, "node", "status", check=False).returncode == 1
    (tmp / "var" / "chain" / "node.log").chmod(0o644)  # as an older node left it
    cli(env, "node", "start")
    readable = [f"{p} {p.stat().st_mode & 0o777:o}" for p in (tmp / "var").rglob("*")
                if not p.is_socket() and p.stat().st_mode & 0o077]
    assert readable == [], "journal, keys, store and demo accounts are their owner's only"
    after = rpc(url, "eth_getBlockByNumber", [before["number"], False])
    assert after["hash"] == before["hash"] and after["timestamp"] == before["timestamp"]
    for address in deployment["contracts"].values():
        assert rpc(url, "eth_getCode", [address, "latest"]) not in ("0x", "0x0")
    assert "nothing to do" in cli(env, "deploy").stdout


def test_node_start_saysWhyWhenPortTaken(home):
    import socket

    _, env = home
    with socket.socket() as s:
        s.bind(("127.0.0.1", int(env["CITYPOINTS_RPC_PORT"])))
        s.listen()
        out = cli(env, "node", "start", check=False)
    assert out.returncode == 1 and "is taken" in out.stderr


def test_node_start_reportsCorruptState(home):
    tmp, env = home
    cli(env, "node", "start")
    cli(env, "node", "stop")
    state = tmp / "var" / "chain" / "state.dump"
    state.write_text(state.read_text()[:-10])
    out = cli(env, "node", "start", check=False)
    assert out.returncode == 1 and "digest mismatch" in out.stderr


def _assert_demo_city_on_chain(url, deployment, demo):
    from ledger_node import chain

    w3 = chain.connect(url)
    c = {name: chain.bind(w3, name, a) for name, a in deployment["contracts"].items()}
    consortium, membership, ledger = c["Consortium"], c["Membership"], c["PointsLedger"]
    assert sorted(consortium.functions.members().call()) == sorted(m["address"] for m in demo["members"])
    assert consortium.functions.threshold().call() == 4
    assert all(membership.functions.isResident(r["address"]).call() for r in demo["residents"])
    assert all(membership.functions.isMerchantActive(m["address"]).call() for m in demo["merchants"])
    for issuer in demo["issuers"]:
        assert membership.functions.isIssuer(issuer["scheme"], issuer["address"]).call()
        assert ledger.functions.totalSupply(issuer["scheme"]).call() > 0
    clearing = c["Clearing"]
    assert clearing.functions.openPeriod().call() == 2  # period 1 closed ...
    merchant = demo["merchants"][0]["address"]
    paid = [clearing.functions.settlement(clearing.functions.merchantStatementId(1, s, merchant).call()).call()
            for s in (1, 2, 3, 4) if clearing.functions.merchantPosition(1, s, merchant).call() > 0]
    assert paid and all(state == 2 for state, _ in paid)  # ... and every statement of it confirmed paid
