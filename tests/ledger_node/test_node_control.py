"""`citypoints node start|stop|status`, deploy and demo as an operator runs them, in a private var/."""
import json
import os
import subprocess
import sys

import pytest

from ledger_node.anvil import free_port, rpc


@pytest.fixture
def home(tmp_path):
    env = dict(os.environ, CITYPOINTS_HOME=str(tmp_path), CITYPOINTS_RPC_PORT=str(free_port()))
    yield tmp_path, env
    subprocess.run([sys.executable, "-m", "scripts.cli", "node", "stop"], env=env, capture_output=True)


def cli(env, *args, check=True):
    out = subprocess.run([sys.executable, "-m", "scripts.cli", *args], env=env, capture_output=True, text=True,
                         timeout=300)
    if check and out.returncode != 0:
        raise AssertionError(f"citypoints {' '.join(args)} failed: {out.stdout}{out.stderr}")
    return out


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

    before = rpc(url, "eth_getBlockByNumber", ["latest", False])
    cli(env, "node", "stop")
    assert cli(env, "node", "status", check=False).returncode == 1
    cli(env, "node", "start")
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
