"""Restart: bring a freshly started engine to exactly the chain that was acknowledged before it stopped.

Load the newest saved state (`state.dump`: an anvil snapshot, or the compacted journal for engines that
cannot dump), then replay every journal record after it in order: each block from the transactions its
record lists (into an otherwise empty pool, in that order, so the engine's first-in first-out pool builds
the same block), mined at its journaled timestamp, operator changes where they happened, and last the
transactions no block took. Each block record carries the hash the chain had; a replayed block with another
hash stops the restart (never a silent fork).
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
from ledger_node.rpc_gateway import transaction_hash


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
    """Each block gets exactly the transactions its record lists, in that order, and must come out with the same
    hash; the transactions no block took are pending, and enter the pool last, in journal order."""
    with httpx.Client(timeout=600) as client:
        def call(method, params):
            return client.post(engine.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                 "params": params}).json()

        def result(method, params):
            answer = call(method, params)
            if "error" in answer:
                raise NodeError(f"replay: {method}: {answer['error'].get('message')}")
            return answer["result"]

        def at_head():
            latest = result("eth_getBlockByNumber", ["latest", False])
            rec.height, rec.last_timestamp = int(latest["number"], 16), int(latest["timestamp"], 16)

        at_head()
        for method, params in engine.clock_params(rec.last_timestamp):
            result(method, params)
        pending: dict[str, str] = {}
        for r in records:
            kind = r.get("k")
            if kind in ("tx", "carry"):
                pending[transaction_hash(r["raw"])] = r["raw"]
            elif kind == "block":
                _replay_block(engine, r, pending, call, result, rec)
            elif kind == "admin" and r.get("gw"):
                value = r["params"][0] if r["params"] else 0
                value = int(value, 16) if isinstance(value, str) else int(value)
                if r["method"] == "evm_setNextBlockTimestamp":
                    rec.next_timestamp = value
                else:
                    rec.time_offset += value
            elif kind == "admin":
                call(r["method"], r["params"])
                at_head()
        rejected = []
        for tx_hash, raw in pending.items():
            answer = call("eth_sendRawTransaction", [raw])
            if "error" in answer:
                rejected.append(answer["error"].get("message"))
                continue
            rec.pending[tx_hash] = raw
            rec.transactions += 1
        for method, params in engine.clock_params(max(int(time.time()), rec.last_timestamp)):
            result(method, params)  # simulations (eth_call, estimates) see the present again
        if rejected:
            rec.messages.append(f"replay: {len(rejected)} pending journaled transactions were refused by the "
                                f"engine (block hashes all matched), e.g. {rejected[0]}")


def _replay_block(engine: Engine, r: dict, pending: dict[str, str], call, result, rec: Recovered) -> None:
    if "txs" not in r:
        raise ReplayDiverged("the journal was written by an earlier version of the node (its blocks do not list "
                             "their transactions); start the chain once with that version and stop it cleanly")
    if r["n"] != rec.height + 1:
        raise ReplayDiverged(f"journal says block {r['n']} but the chain is at {rec.height}")
    refused = []
    for tx_hash in r["txs"]:
        raw = pending.pop(tx_hash, None)
        if raw is None:
            continue  # never journaled on its own: the engine holds it already (an operator's revert put it back)
        answer = call("eth_sendRawTransaction", [raw])
        if "error" in answer:
            refused.append(f"{tx_hash} was refused ({answer['error'].get('message')})")
        else:
            rec.transactions += 1
    for method, params in engine.mine_params(r["ts"]):
        result(method, params)
    block = result("eth_getBlockByNumber", [hex(r["n"]), False])
    if block["hash"] != r["hash"]:
        raise ReplayDiverged(f"replayed block {r['n']} has hash {block['hash']}, the journal recorded {r['hash']}"
                             f"{'; ' + refused[0] if refused else ''}; refusing to start on a different chain")
    rec.height, rec.last_timestamp = r["n"], r["ts"]
    rec.next_timestamp = None
    rec.blocks += 1
