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


def _state(accounts: int, slots: int) -> dict:
    """A state shaped as anvil dumps it, with a contract's storage of `slots` slots."""
    blocks = [{"header": {"number": hex(n), "extraData": "0x" + "ab" * n}, "transactions": [], "ommers": []}
              for n in range(60)]
    txs = [{"info": {"transaction_hash": "0x%064x" % n, "gas_used": 21_000 + n, "traces": [{"idx": 0}]},
            "receipt": {"status": "0x1", "logs": []}, "block_hash": "0x%064x" % (n // 3), "block_number": n // 3}
           for n in range(90)]
    txs[7]["info"]["gas_used"] = 2**63 - 1  # the largest number ijson's C parser reads
    accts = {"0x%040x" % a: {"nonce": a, "balance": hex(10**18 * a), "code": "0x" + "60" * (a * 50),
                             "storage": {}} for a in range(1, accounts + 1)}
    accts["0x%040x" % 1]["storage"] = {"0x%064x" % s: "0x%064x" % (s + 1) for s in range(slots)}
    return {"block": {"number": "0x3b"}, "accounts": accts, "best_block_number": 59, "blocks": blocks,
            "transactions": txs, "historical_states": None}


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key named twice in one piece: {keys}"
    return dict(pairs)


def test_statePieces_carryEveryItemOnce_andTheHeadLast(tmp_path):
    import gzip
    import json

    state = _state(accounts=12, slots=700)
    text = json.dumps(state).encode()
    blob = "0x" + gzip.compress(text).hex()
    assert list(state_pieces(blob, len(text))) == [blob]  # small enough: as it is

    pieces = [json.loads(bytes.fromhex(p[2:]), object_pairs_hook=_no_duplicate_keys)
              for p in state_pieces(blob, 4096)]
    assert len(pieces) > 10
    assert all(p["block"] is None and p["best_block_number"] is None for p in pieces[:-1])
    assert (pieces[-1]["block"], pieces[-1]["best_block_number"]) == (state["block"], 59)
    assert [b for p in pieces for b in p["blocks"]] == state["blocks"]
    assert [t for p in pieces for t in p["transactions"]] == state["transactions"]  
    merged: dict = {}
    for p in pieces:
        for address, account in p["accounts"].items():
            into = merged.setdefault(address, {**account, "storage": {}})
            assert {k: v for k, v in account.items() if k != "storage"} == \
                {k: v for k, v in state["accounts"][address].items() if k != "storage"}
            assert not set(into["storage"]) & set(account["storage"])  # each slot once
            into["storage"].update(account["storage"])
    assert merged == state["accounts"]
    contract = "0x%040x" % 1
    assert sum(contract in p["accounts"] for p in pieces) >= 20  # its 700 slots spread over pieces
    assert max(len(p) for p in pieces) < 2 * 4096 + 2 * 600  # about the piece size (an item may overrun it)


def test_aStateWithANumberBeyond63Bits_isLoadedWholeAfterItsPieces():
    """ijson's C parser stops at an integer beyond 63 bits: what follows goes whole (anvil's merge sets what the
    pieces before it set again, to the same), never a restart that fails."""
    import gzip
    import json

    state = _state(accounts=3, slots=100)
    state["transactions"][80]["info"]["gas_used"] = 2**70
    blob = "0x" + gzip.compress(json.dumps(state).encode()).hex()
    pieces = list(state_pieces(blob, 2048))
    assert len(pieces) > 2 and pieces[-1] == blob  # the blocks in pieces, then the whole
