"""A large saved state goes into the engine in pieces (ledger_node.node.anvil.state_pieces: anvil_loadState over
the engine's Unix socket takes time quadratic in a message's size): the chain loaded in pieces is the chain that was
saved, every block, log, balance and storage slot, and the auditor finds it clean."""
from __future__ import annotations

import orjson

from ledger_node.audit.run import AuditOptions, audit
from ledger_node.config import NodeConfig
from ledger_node.node import anvil
from ledger_node.node.anvil import AnvilProcess, free_port, state_pieces, write_genesis

PIECE = 4096  # bytes of JSON a piece: the city's ledger contract alone takes several


def test_aStateLoadedInPieces_overTheEnginesSocket_isTheSavedChain(audit_node, audit_city, tmp_path, monkeypatch):
    proc, operator = audit_node
    saved = proc.dump_state()
    pieces = [orjson.loads(bytes.fromhex(p[2:])) for p in state_pieces(saved, PIECE)]
    assert len(pieces) > 5  # the city's state, cut small
    ledger = audit_city.addresses["PointsLedger"].lower()
    slices = [p["accounts"][ledger]["storage"] for p in pieces if ledger in p["accounts"]]
    assert len(slices) >= 2 and sum(map(len, slices)) == len({k for s in slices for k in s}) >= 40  # split, once each

    cfg = NodeConfig(port=free_port())
    write_genesis(tmp_path / "genesis.json", cfg, {operator.address: 10**24})
    copy = AnvilProcess(cfg, tmp_path / "genesis.json", tmp_path / "anvil.log", no_mining=True,
                        socket=tmp_path / "engine" / "anvil.ipc")
    copy.start()
    monkeypatch.setattr(anvil, "LOAD_PIECE_BYTES", PIECE)
    try:
        copy.load_state(saved)
        head = int(proc.call("eth_blockNumber"), 16)
        assert int(copy.call("eth_blockNumber"), 16) == head
        for n in range(head + 1):
            assert copy.call("eth_getBlockByNumber", [hex(n), False])["hash"] == \
                proc.call("eth_getBlockByNumber", [hex(n), False])["hash"], f"block {n}"
        logs = [{"fromBlock": "0x0", "toBlock": hex(head), "address": a} for a in audit_city.addresses.values()]
        assert [copy.call("eth_getLogs", [q]) for q in logs] == [proc.call("eth_getLogs", [q]) for q in logs]
        ledger = audit_city.addresses["PointsLedger"]
        for slot in range(40):
            assert copy.call("eth_getStorageAt", [ledger, hex(slot), "latest"]) == \
                proc.call("eth_getStorageAt", [ledger, hex(slot), "latest"])
        assert copy.call("eth_getBalance", [operator.address, "latest"]) == \
            proc.call("eth_getBalance", [operator.address, "latest"])
        original = audit(AuditOptions(proc.url, dict(audit_city.addresses)))
        loaded = audit(AuditOptions(copy.url, dict(audit_city.addresses)))
        assert loaded.problems == [] and loaded.report["counts"]["comparisons"] > 0
        assert {k: loaded.report[k] for k in ("toBlockHash", "counts", "state")} == \
            {k: original.report[k] for k in ("toBlockHash", "counts", "state")}
    finally:
        copy.stop()
