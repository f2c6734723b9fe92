"""While the engine dumps its state for a snapshot (seconds for a large chain: it cannot mine, and anvil answers no
read or send meanwhile), the gateway itself stays responsive: the head it answers comes at once, so the API does
not take the node for away and keeps admitting redemptions on its indexed view."""
from __future__ import annotations

import os
import threading
import time

import pytest
from eth_account import Account

from ledger_node.harness import SupervisedNode
from ledger_node.node import state_file, supervisor
from ledger_node.node.rpc_gateway import GatewayError
from ledger_node.node.anvil import rpc

FAT_TXS = 500  # 60 KB of calldata each: a 131 MB dump (about 3 s of engine pause on this machine)


def test_theGatewayAnswersTheHead_whileTheEngineDumpsALargeState(tmp_path):
    node = SupervisedNode(tmp_path / "node", block_period=1.0)
    node.start()
    try:
        op = Account.from_key((tmp_path / "node" / "var" / "keys" / "operator.key").read_text().strip())
        chain_id = int(rpc(node.url, "eth_chainId"), 16)
        sink = Account.create().address
        nonce = int(rpc(node.url, "eth_getTransactionCount", [op.address, "pending"]), 16)
        last = None
        for i in range(FAT_TXS):
            tx = op.sign_transaction({"to": sink, "value": 0, "gas": 3_000_000, "gasPrice": 0, "nonce": nonce + i,
                                      "chainId": chain_id, "data": os.urandom(60_000)})
            last = rpc(node.url, "eth_sendRawTransaction", ["0x" + tx.raw_transaction.hex()], timeout=60)
        for _ in range(120):
            if rpc(node.url, "eth_getTransactionReceipt", [last]) is not None:
                break
            time.sleep(0.5)
        latencies: list[float] = []
        done = threading.Event()

        def ask_the_head():
            while not done.is_set():
                t = time.monotonic()
                rpc(node.url, "eth_blockNumber", timeout=30)
                latencies.append(time.monotonic() - t)
                time.sleep(0.05)
        prober = threading.Thread(target=ask_the_head)
        prober.start()
        started = time.monotonic()
        answer = rpc(node.operator_url, "citypoints_snapshot", [], timeout=600)
        took = time.monotonic() - started
        time.sleep(0.5)
        done.set()
        prober.join()
        assert "snapshot at block" in answer and took > 1, answer  # a dump long enough to matter
        # measured: 0.02 s alone and beside 8 busy processes; with the dump joined on the loop, 0.08-0.11 s beside
        # them and 0.36 s in CI; before the gateway kept it as bytes, 0.53 s (decoded and re-encoded on its loop)
        assert max(latencies) < 0.3, f"the head took {max(latencies):.2f} s during a {took:.1f} s snapshot"
    finally:
        node.stop()


def test_aSnapshotBegins_onceFollowersHaveHadTheBlock_notJustAfterIt(tmp_path):
    """Blocks every second while snapshots are asked for: each dump begins at least 0.4 s (FOLLOWERS_S) after the
    block before it, so a follower that fetches a block within that time (the API's indexer) is not a block behind
    for the dump's whole length (it then checked every redemption on the paused engine and refused it)."""
    node = SupervisedNode(tmp_path / "node", block_period=1.0)
    node.start()
    done, sender = threading.Event(), None
    try:
        op = Account.from_key((tmp_path / "node" / "var" / "keys" / "operator.key").read_text().strip())
        chain_id = int(rpc(node.url, "eth_chainId"), 16)
        nonce = int(rpc(node.url, "eth_getTransactionCount", [op.address, "pending"]), 16)

        def keep_blocks_coming():  # a transaction every 0.2 s: a block every second
            i = 0
            while not done.is_set():
                tx = op.sign_transaction({"to": op.address, "value": 0, "gas": 21_000, "gasPrice": 0,
                                          "nonce": nonce + i, "chainId": chain_id})
                rpc(node.url, "eth_sendRawTransaction", ["0x" + tx.raw_transaction.hex()], timeout=30)
                i += 1
                time.sleep(0.2)
        sender = threading.Thread(target=keep_blocks_coming)
        sender.start()
        answers = []
        for _ in range(4):
            time.sleep(1.37)  # a block since the last one, asked at another point of the block period each time
            answers.append(rpc(node.operator_url, "citypoints_snapshot", [], timeout=60))
        begun = [float(a.split("begun ")[1].split("s after")[0]) for a in answers if "begun " in a]
        assert len(begun) == 4, answers
        # measured before: 0.37, 0.75, 0.12, 0.50 s (the dump began when the producer's lock came free)
        assert min(begun) >= 0.4, answers
    finally:
        done.set()
        if sender is not None:
            sender.join()
        node.stop()


def test_aDumpSavedPieceByPiece_readsBackWhole_andOneWithAnEscapeIsRefused(tmp_path, monkeypatch):
    """The dump is saved as the pieces it came off the engine's socket in (never joined on the gateway's loop): the
    file reads back as the whole string, digest checked; a piece holding a JSON escape (anvil's dump is hex, so
    the string would be saved undecoded) is refused and leaves no file."""
    monkeypatch.setenv("CITYPOINTS_HOME", str(tmp_path))
    path = supervisor.state_path()
    path.parent.mkdir(parents=True)
    pieces = [b"0x1f8b", memoryview(b"0800ab" * 1000)[:-2], b"", b"cd"]
    supervisor._save_dump(pieces, 7, 3)
    blob, meta = state_file.read_meta(path)
    assert blob == "0x1f8b" + ("0800ab" * 1000)[:-2] + "cd" and (meta.block_number, meta.segment) == (7, 3)
    path.unlink()
    with pytest.raises(GatewayError, match="not a plain string"):
        supervisor._save_dump([b"0x1f8b", b'ab\\"cd'], 8, 4)
    assert not path.exists()
