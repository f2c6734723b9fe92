"""Restart: bring a freshly started engine to exactly the chain that was acknowledged before it stopped.

Load the newest saved state (`state.dump`: an anvil snapshot, or the compacted journal for engines that
cannot dump), then replay every journal record after it in order: transactions into the pool, each block
mined at its journaled timestamp, operator changes where they happened. Each `mined` record carries the
block hash the chain had; a replayed block with another hash stops the restart (never a silent fork).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import chain as chained
from pathlib import Path
from typing import Iterable

import httpx

from ledger_node import journal, state_file
from ledger_node.anvil import NodeError
from ledger_node.engine import Engine


class ReplayDiverged(NodeError):
    """The replayed chain differs from the journaled one (a block hash does not match)."""


@dataclass
class Recovered:
    height: int = 0
    last_timestamp: int = 0
    time_offset: int = 0
    next_timestamp: int | None = None
    pending: dict[str, str] = field(default_factory=dict)
    next_segment: int = 1
    transactions: int = 0
    blocks: int = 0
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)


def journal_dir(chain_dir: Path) -> Path:
    return chain_dir / "journal"


def state_path(chain_dir: Path) -> Path:
    return chain_dir / "state.dump"


def restore(engine: Engine, chain_dir: Path) -> Recovered:
    """Raises CorruptState, JournalCorrupt or ReplayDiverged with a message that says what and where."""
    started = time.monotonic()
    jdir = journal_dir(chain_dir)
    jdir.mkdir(parents=True, exist_ok=True)
    rec = Recovered()
    rec.messages += journal.repair_tail(jdir).messages
    prefix: list[dict] = []
    first_segment = 1
    if state_path(chain_dir).exists():
        blob, meta = state_file.read_meta(state_path(chain_dir))
        if meta.kind == "journal":
            prefix = state_file.unpack_records(blob)
        elif engine.can_snapshot:
            engine.load(blob)
        else:
            raise NodeError(f"state.dump is an {meta.kind} snapshot but the engine is {engine.name}")
        first_segment = meta.segment
        rec.messages.append(f"loaded saved chain at block {meta.block_number} ({meta.kind})")
    segs = [journal.segment_number(p) for p in journal.segments(jdir)]
    rec.next_segment = max(segs + [first_segment - 1]) + 1
    replay(engine, chained(prefix, journal.read_from(jdir, first_segment)), rec)
    rec.seconds = time.monotonic() - started
    return rec


def replay(engine: Engine, records: Iterable[dict], rec: Recovered) -> None:
    with httpx.Client(timeout=600) as client:
        def call(method, params):
            answer = client.post(engine.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                   "params": params}).json()
            return answer

        def result(method, params):
            answer = call(method, params)
            if "error" in answer:
                raise NodeError(f"replay: {method}: {answer['error'].get('message')}")
            return answer["result"]

        latest = result("eth_getBlockByNumber", ["latest", False])
        rec.height, rec.last_timestamp = int(latest["number"], 16), int(latest["timestamp"], 16)
        for method, params in engine.clock_params(rec.last_timestamp):
            result(method, params)
        rejected = 0
        for r in records:
            kind = r.get("k")
            if kind in ("tx", "carry"):
                answer = call("eth_sendRawTransaction", [r["raw"]])
                if "error" in answer:
                    if kind == "tx" and "already" not in str(answer["error"].get("message", "")).lower():
                        rejected += 1
                        if rejected <= 3:
                            rec.messages.append(f"replay: a journaled transaction was refused: "
                                                f"{answer['error'].get('message')}")
                    continue
                rec.pending[answer["result"]] = r["raw"]
                rec.transactions += 1
            elif kind == "block":
                if r["n"] <= rec.height:
                    continue  # already part of the loaded state
                if r["n"] != rec.height + 1:
                    raise ReplayDiverged(f"journal says block {r['n']} but the chain is at {rec.height}")
                for method, params in engine.mine_params(r["ts"]):
                    result(method, params)
                block = result("eth_getBlockByNumber", [hex(r["n"]), False])
                for h in block["transactions"]:
                    rec.pending.pop(h, None)
                rec.height, rec.last_timestamp = r["n"], r["ts"]
                rec.next_timestamp = None
                rec.blocks += 1
            elif kind == "mined":
                if r["n"] > rec.height:
                    continue
                block = result("eth_getBlockByNumber", [hex(r["n"]), False])
                if block is None or block["hash"] != r["hash"]:
                    raise ReplayDiverged(f"replayed block {r['n']} has hash {block and block['hash']}, the journal "
                                         f"recorded {r['hash']}; refusing to start on a different chain")
            elif kind == "admin":
                if r.get("gw"):
                    value = r["params"][0] if r["params"] else 0
                    value = int(value, 16) if isinstance(value, str) else int(value)
                    if r["method"] == "evm_setNextBlockTimestamp":
                        rec.next_timestamp = value
                    else:
                        rec.time_offset += value
                    continue
                call(r["method"], r["params"])
                latest = result("eth_getBlockByNumber", ["latest", False])
                rec.height, rec.last_timestamp = int(latest["number"], 16), int(latest["timestamp"], 16)
        for method, params in engine.clock_params(max(int(time.time()), rec.last_timestamp)):
            result(method, params)  # simulations (eth_call, estimates) see the present again
        if rejected:
            rec.messages.append(f"replay: {rejected} journaled transactions were refused by the engine "
                                f"(block hashes still matched)")
