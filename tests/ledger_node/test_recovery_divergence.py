"""A replay that diverges from the journal stops the start with the two ways on, and each way loses nothing
journaled: `node start --accept-replay` (the rebuilt chain, the changed blocks reported, and the journal rewritten
so the next restart replays to it) and `node restore BACKUP --replay-journal` (the backup, then the journal after
it). The divergence is caused on purpose: a state change made straight on the engine's private port (what issue 18
saw), or, where the engine has no such port, a block hash edited in the journal.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account

from ledger_node.node import journal
from ledger_node.node.anvil import free_port, rpc
from node_tools import cli


@pytest.fixture
def home(tmp_path):
    env = dict(os.environ, CITYPOINTS_HOME=str(tmp_path), CITYPOINTS_RPC_PORT=str(free_port()),
               CITYPOINTS_BLOCK_PERIOD="0", CITYPOINTS_SNAPSHOT_INTERVAL="3600", CITYPOINTS_ENGINE="anvil",
               CITYPOINTS_ENGINE_EXPOSED="1")   # the engine's port open, as issue 18 found it
    yield tmp_path, env
    subprocess.run([sys.executable, "-m", "scripts.cli", "node", "stop"], env=env, capture_output=True)


def url(env) -> str:
    return f"http://127.0.0.1:{env['CITYPOINTS_RPC_PORT']}"


def transfers(tmp: Path, env, n: int) -> list[str]:
    operator = Account.from_key((tmp / "var" / "keys" / "operator.key").read_text().strip())
    nonce = int(rpc(url(env), "eth_getTransactionCount", [operator.address, "pending"]), 16)
    hashes = []
    for i in range(n):
        tx = {"to": "0x" + "22" * 20, "value": 1 + i, "gas": 21_000, "nonce": nonce + i, "chainId": 7007,
              "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
        hashes.append(rpc(url(env), "eth_sendRawTransaction",
                          ["0x" + operator.sign_transaction(tx).raw_transaction.hex()]))
    return hashes


def block_hashes(env) -> dict[int, str]:
    height = int(rpc(url(env), "eth_blockNumber"), 16)
    return {n: rpc(url(env), "eth_getBlockByNumber", [hex(n), False])["hash"] for n in range(height + 1)}


def mined(env, hashes) -> bool:
    return all((rpc(url(env), "eth_getTransactionReceipt", [h]) or {}).get("status") == "0x1" for h in hashes)


def kill9(tmp: Path) -> None:
    pid = json.loads((tmp / "var" / "chain" / "node.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
        if stat.split(")")[-1].split()[:1] == ["Z"]:
            break
        time.sleep(0.05)
    time.sleep(0.3)   # the engine dies with its parent


def engine_url(tmp: Path) -> str | None:
    """The engine's own URL when it has an open port (CITYPOINTS_ENGINE_EXPOSED, as every engine had before it was
    sealed), from its command line (a descendant of the supervisor); None when nothing answers there."""
    todo = [json.loads((tmp / "var" / "chain" / "node.json").read_text())["pid"]]
    while todo:
        pid = todo.pop()
        for task in Path(f"/proc/{pid}/task").iterdir():
            todo += [int(c) for c in (task / "children").read_text().split()]
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        if "--port" in args and "--no-mining" in args:
            engine = f"http://127.0.0.1:{args[args.index('--port') + 1]}"
            try:
                rpc(engine, "eth_chainId", timeout=2)
                return engine
            except Exception:
                return None
    return None


def diverge(tmp: Path, env) -> tuple[list[str], str]:
    """Blocks 1-3, a change the journal never sees, blocks 4-6; returns the transactions and how it diverged."""
    hashes = transfers(tmp, env, 3)
    engine = engine_url(tmp)
    if engine:   # issue 18: one call on the engine's open port; 0xdEaD did not exist, so the state root changes
        rpc(engine, "anvil_setBalance", ["0x000000000000000000000000000000000000dEaD", "0x0"])
    hashes += transfers(tmp, env, 3)
    assert mined(env, hashes)
    kill9(tmp)
    if not engine:   # a sealed engine: edit block 4's recorded hash instead
        edit_block_hash(tmp / "var" / "chain" / "journal", 4)
    print(f"diverged through the {'engine port' if engine else 'journal'}")
    return hashes, "engine" if engine else "journal"


def edit_block_hash(jdir: Path, number: int) -> None:
    """Rewrite block `number`'s journal record with another hash (a well-formed record: a silent change)."""
    for seg in journal.segments(jdir):
        records = journal.scan(seg).records
        if any(r.get("k") == "block" and r["n"] == number for r in records):
            seg.write_bytes(b"".join(journal.encode({**r, "hash": "0x" + "ee" * 32}
                                                    if r.get("k") == "block" and r["n"] == number else r)
                                     for r in records))
            return
    raise AssertionError(f"no record of block {number}")


def test_divergentReplay_refusesWithTheWaysOn_thenAcceptReplayKeepsEveryTransaction_andTheNextRestartAgrees(
        home, artifacts):
    tmp, env = home
    cli(env, "node", "start")
    hashes, how = diverge(tmp, env)
    recorded = {r["n"]: r["hash"] for seg in journal.segments(tmp / "var" / "chain" / "journal")
                for r in journal.scan(seg).records if r.get("k") == "block"}

    refused = cli(env, "node", "start", check=False)
    assert refused.returncode == 1
    assert "replayed block 4 has hash" in refused.text and "refusing to start on a different chain" in refused.text
    assert "--accept-replay" in refused.text and "--replay-journal" in refused.text, refused.text
    assert cli(env, "node", "status", check=False).returncode == 1

    accepted = cli(env, "node", "start", "--accept-replay")
    assert "new hashes" in accepted.text and "replay-divergence-" in accepted.text, accepted.text
    assert mined(env, hashes), "every journaled transaction is on the rebuilt chain"
    after = block_hashes(env)
    assert max(after) == 6
    assert all(after[n] == recorded[n] for n in (1, 2, 3)), "blocks before the divergence are untouched"
    reports = list((tmp / "var" / "chain").glob("replay-divergence-*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    changed = {b["number"]: b for b in report["changedBlocks"]}
    assert min(changed) == 4 and report["refusedTransactions"] == []
    assert all(changed[n]["journaled"] == recorded[n] and changed[n]["replayed"] == after[n] for n in changed)
    if how == "engine":
        assert sorted(changed) == [4, 5, 6]          # every later block hangs off the changed one
    assert "new hashes" in (tmp / "var" / "chain" / "node.log").read_text()
    assert list((Path(report["journalBefore"])).glob("*.wal")), "the journal as it was is kept"

    # the journal now records the rebuilt chain: a kill -9 and a plain restart replay to the same hashes
    hashes += transfers(tmp, env, 1)
    assert mined(env, hashes)
    rebuilt = block_hashes(env)
    kill9(tmp)
    cli(env, "node", "start")
    assert block_hashes(env) == rebuilt
    assert mined(env, hashes)
    assert len(list((tmp / "var" / "chain").glob("replay-divergence-*.json"))) == 1


def test_divergentReplay_restoreBackupWithReplayJournal_keepsEveryBlockAsClientsSawIt(home, artifacts):
    """The journal's copy of a block the backup also holds was changed (a silent edit): the backup's copy, then the
    journal after the backup's end, rebuild exactly the chain clients were shown, transactions after the backup
    included."""
    tmp, env = home
    cli(env, "node", "start")
    hashes = transfers(tmp, env, 3)
    backup_dir = tmp / "backup"
    cli(env, "node", "backup", str(backup_dir))
    hashes += transfers(tmp, env, 3)                 # after the backup: only in the live journal
    assert mined(env, hashes)
    seen = block_hashes(env)
    kill9(tmp)
    edit_block_hash(tmp / "var" / "chain" / "journal", 2)

    refused = cli(env, "node", "start", check=False)
    assert refused.returncode == 1 and "replayed block 2 has hash" in refused.text
    assert "--replay-journal" in refused.text

    restored = cli(env, "node", "restore", str(backup_dir), "--replay-journal")
    assert "then the journal after the backup's end" in restored.text and "3 transactions, 3 blocks" in restored.text, \
        restored.text
    assert list(tmp.glob("var/chain.before-restore-*")), "the chain as it was is moved aside, not deleted"
    cli(env, "node", "start")
    assert block_hashes(env) == seen
    assert mined(env, hashes)


def test_restoreWithReplayJournal_refusesWhenTheJournalNoLongerReachesTheBackup(home, artifacts):
    tmp, env = home
    cli(env, "node", "start")
    transfers(tmp, env, 2)
    cli(env, "node", "backup", str(tmp / "backup"))
    transfers(tmp, env, 1)
    cli(env, "node", "stop")                         # a snapshot: the journal from the backup's end is compacted
    out = cli(env, "node", "restore", str(tmp / "backup"), "--replay-journal", check=False)
    assert out.returncode == 1 and "no longer reaches back to the backup's end" in out.text, out.text
    assert not list(tmp.glob("var/chain.before-restore-*")), "a refused restore changes nothing"
