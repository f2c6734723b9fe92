"""Damage in the middle of the journal (a flipped byte, a record cut short with good ones after it) stops the start
with the file and byte offset; `citypoints node repair-journal` keeps every record before it, moves the rest aside
and names the acknowledged transactions that loses; then the node starts with every transaction before the damage.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from web3 import Web3

from ledger_node.node import journal
from ledger_node.node.anvil import NodeError
from ledger_node.harness import SupervisedNode
from ledger_node.node.journal import transaction_hash
from node_tools import chain_with_transfers


def _record_offsets(seg) -> list[tuple[int, int, dict]]:
    """(offset, length with header, record) of every record of a segment."""
    out, pos = [], 0
    data = seg.read_bytes()
    for r in journal.scan(seg).records:
        size = journal.HEADER.size + journal.HEADER.unpack_from(data, pos)[0]
        out.append((pos, size, r))
        pos += size
    return out


def _repair(node: SupervisedNode, check: bool = True):
    env = dict(os.environ, CITYPOINTS_HOME=str(node.home), CITYPOINTS_RPC_PORT=str(node.port))
    out = subprocess.run([sys.executable, "-m", "scripts.cli", "node", "repair-journal"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 or not check, out.stdout + out.stderr
    return out.returncode, " ".join((out.stdout + out.stderr).split())


@pytest.mark.parametrize("damage", ["flipped byte", "record cut short"])
def test_journalDamagedInTheMiddle_startNamesFileAndOffset_repairKeepsEverythingBefore(tmp_path, damage):
    node, hashes = chain_with_transfers(tmp_path, n=6, to="0x" + "33" * 20)
    w3 = Web3(Web3.HTTPProvider(node.url))
    before = {n: w3.eth.get_block(n)["hash"] for n in range(w3.eth.block_number + 1)}
    node.kill()
    seg = journal.segments(node.chain_dir / "journal")[-1]
    records = _record_offsets(seg)
    offset, size, _ = next(x for x in records if x[2].get("k") == "tx" and transaction_hash(x[2]["raw"]) == hashes[3])
    data = bytearray(seg.read_bytes())
    if damage == "flipped byte":
        data[offset + size // 2] ^= 0x01
    else:
        del data[offset + 20:offset + 40]              # the record is short; the ones after it are whole
    seg.write_bytes(bytes(data))

    with pytest.raises(NodeError) as refused:
        node.start(timeout=60)
    message = str(refused.value)
    assert str(seg) in message and f"at byte {offset}" in message, message
    assert "repair-journal" in message

    code, said = _repair(node)
    assert f"before byte {offset} of {seg}" in said, said
    assert "this loses 2 acknowledged transactions" in said, said      # the 5th and 6th; the 4th is unreadable
    aside = next(node.chain_dir.glob("journal-damaged-*"))
    lost = json.loads((aside / "lost-transactions.json").read_text())
    assert {t["hash"] for t in lost["lost"]} == set(hashes[4:])
    assert lost["offset"] == offset and (aside / f"{seg.name}.original").read_bytes() == bytes(data)
    assert seg.stat().st_size == offset

    node.start()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert all(w3.eth.get_transaction_receipt(h)["status"] == 1 for h in hashes[:3])
        assert w3.eth.block_number == 3
        assert {n: w3.eth.get_block(n)["hash"] for n in range(4)} == {n: before[n] for n in range(4)}
        for h in hashes[3:]:
            assert w3.provider.make_request("eth_getTransactionReceipt", [h])["result"] is None
    finally:
        node.stop()
    assert "nothing to repair" in _repair(node)[1]


def test_repair_onAWholeJournal_changesNothing_andOnlyLooksFromTheSnapshotsSegmentOn(tmp_path):
    jdir = tmp_path / "journal"
    jdir.mkdir()
    old = journal.segment_path(jdir, 1)
    old.write_bytes(journal.encode({"k": "tx", "raw": "0x01"})[:-3])  # torn, but before the snapshot: not replayed
    journal.segment_path(jdir, 2).write_bytes(b"".join(journal.encode({"k": "block", "n": n, "ts": n, "hash": "0x",
                                                                        "txs": []}) for n in range(3)))
    sizes = {p.name: p.stat().st_size for p in journal.segments(jdir)}
    assert journal.repair(jdir, 2, tmp_path / "aside") is None
    assert {p.name: p.stat().st_size for p in journal.segments(jdir)} == sizes
    assert not (tmp_path / "aside").exists()
    assert journal.first_damage(jdir, 1).path == old     # from segment 1 on, the torn closed segment is damage
