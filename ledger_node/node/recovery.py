"""Restart: bring a freshly started engine to exactly the chain that was acknowledged before it stopped.

Load the newest saved state (`state.dump`: an anvil snapshot, or the compacted journal for engines that
cannot dump), then replay every journal record after it in order: each block from the transactions its
record lists (into an otherwise empty pool, in that order, so the engine's first-in first-out pool builds
the same block), mined at its journaled timestamp, operator changes where they happened, and last the
transactions no block took. Each block record carries the hash the chain had; a replayed block with another
hash stops the restart (never a silent fork), with the two ways on that lose nothing journaled:

- `accept_replay` (`citypoints node start --accept-replay`): keep the chain rebuilt from the journal (every
  journaled transaction, in its journaled block at its journaled timestamp); the blocks whose hashes changed go
  to `var/chain/replay-divergence-<time>.json` and the log, and the journal's block records are rewritten to the
  new hashes (the segments as they were are kept beside the report), so the next restart replays to this chain.
- `citypoints node restore BACKUP --replay-journal` (backup.py): the backup's state and journal, then this
  journal's records after the backup's end.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from itertools import chain as chained
from pathlib import Path
from typing import Iterable

from ledger_node import paths

from ledger_node.node import journal, state_file
from ledger_node.node.anvil import NodeError
from ledger_node.node.engine import Engine
from ledger_node.node.engine_client import SyncEngineClient


class ReplayDiverged(NodeError):
    """The replayed chain differs from the journaled one (a block hash does not match)."""


def way_on(block: int) -> str:
    return (f"nothing journaled is lost, two ways on: `citypoints node start --accept-replay` keeps the chain rebuilt "
            f"from the journal (every journaled transaction in its block and at its time; blocks from {block} on get "
            f"new hashes, listed in var/chain/replay-divergence-<time>.json), or `citypoints node restore BACKUP "
            f"--replay-journal` replays this journal on top of a backup (it diverges again if what changed the "
            f"chain happened after the backup's snapshot)")


@dataclass
class Divergence:
    """Blocks an accepted replay rebuilt with other hashes (or other transactions: ones the engine refused)."""
    changed: list[dict] = field(default_factory=list)   # {"number", "journaled", "replayed"}
    refused: list[str] = field(default_factory=list)
    # the n-th block record replayed (an operator's revert can repeat a number) -> {"hash", "txs"} as replayed
    records: dict[int, dict] = field(default_factory=dict)
    ordinal: int = 0


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
    divergence: Divergence | None = None    # set when replaying with accept_replay


def journal_dir(chain_dir: Path) -> Path:
    return chain_dir / "journal"


def state_path(chain_dir: Path) -> Path:
    return chain_dir / "state.dump"


def restore(engine: Engine, chain_dir: Path, *, accept_replay: bool = False) -> Recovered:
    """Raises CorruptState, JournalCorrupt or ReplayDiverged with a message that says what and where, and how on."""
    started = time.monotonic()
    jdir = journal_dir(chain_dir)
    jdir.mkdir(parents=True, exist_ok=True)
    rec = Recovered(divergence=Divergence() if accept_replay else None)
    meta = None
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
    if rec.divergence and (rec.divergence.changed or rec.divergence.refused):
        rec.messages += accept_divergence(chain_dir, rec.divergence, first_segment, meta, prefix)
    elif accept_replay:
        rec.messages.append("replay: --accept-replay: the replay matched the journal, nothing to accept")
    rec.seconds = time.monotonic() - started
    return rec


def replay(engine: Engine, records: Iterable[dict], rec: Recovered) -> None:
    """Each block gets exactly the transactions its record lists, in that order, and must come out with the same
    hash; the transactions no block took are pending, and enter the pool last, in journal order."""
    with SyncEngineClient(engine.socket, timeout=600) as client:
        def call(method, params):
            return client.call(method, params)

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
                pending[journal.transaction_hash(r["raw"])] = r["raw"]
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
    refused, refused_hashes = [], []
    for tx_hash in r["txs"]:
        raw = pending.pop(tx_hash, None)
        if raw is None:
            continue  # never journaled on its own: the engine holds it already (an operator's revert put it back)
        answer = call("eth_sendRawTransaction", [raw])
        if "error" in answer:
            refused.append(f"{tx_hash} was refused ({answer['error'].get('message')})")
            refused_hashes.append(tx_hash)
        else:
            rec.transactions += 1
    for method, params in engine.mine_params(r["ts"]):
        result(method, params)
    block = result("eth_getBlockByNumber", [hex(r["n"]), False])
    ordinal = rec.divergence.ordinal if rec.divergence else 0
    if rec.divergence:
        rec.divergence.ordinal += 1
    if block["hash"] != r["hash"] or block["transactions"] != r["txs"]:
        if rec.divergence is None:
            raise ReplayDiverged(f"replayed block {r['n']} has hash {block['hash']}, the journal recorded {r['hash']}"
                                 f"{'; ' + refused[0] if refused else ''}; refusing to start on a different chain; "
                                 f"{way_on(r['n'])}")
        rec.divergence.changed.append({"number": r["n"], "journaled": r["hash"], "replayed": block["hash"]})
        rec.divergence.refused += refused_hashes
        rec.divergence.records[ordinal] = {"hash": block["hash"], "txs": block["transactions"]}
    rec.height, rec.last_timestamp = r["n"], r["ts"]
    rec.next_timestamp = None
    rec.blocks += 1


def accept_divergence(chain_dir: Path, div: Divergence, first_segment: int, meta, prefix: list[dict]) -> list[str]:
    """Write the report, keep the journal as it was beside it, and rewrite the journal's block records (and a
    compacted journal in state.dump) to the replayed chain, each file atomically: the next restart replays to this
    chain. Killed halfway, a restart diverges again where the rewriting stopped, and --accept-replay goes on."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    report = chain_dir / f"replay-divergence-{stamp}.json"
    before = chain_dir / f"replay-divergence-{stamp}.journal-before"
    before.mkdir()
    first = div.changed[0] if div.changed else None
    with open(report, "w") as f:
        json.dump({"acceptedAt": int(time.time()), "reason": "--accept-replay: the chain rebuilt from the journal "
                   "was kept; the blocks below have new hashes (clients that were shown the journaled ones see the "
                   "replayed ones from now on)", "changedBlocks": div.changed,
                   "refusedTransactions": div.refused, "journalBefore": str(before)}, f, indent=1)
        f.flush()
        os.fsync(f.fileno())

    ordinal = 0

    def rewritten(records: list[dict]) -> tuple[list[dict], bool]:
        nonlocal ordinal
        out, changed = [], False
        for r in records:
            new = None
            if r.get("k") == "block":
                new = div.records.get(ordinal)
                ordinal += 1
            if new and (new["hash"] != r["hash"] or new["txs"] != r["txs"]):
                r = {**r, "hash": new["hash"], "txs": new["txs"]}
                changed = True
            out.append(r)
        return out, changed

    if meta is not None and meta.kind == "journal":
        records, changed = rewritten(prefix)
        if changed:
            shutil.copy2(state_path(chain_dir), before / "state.dump")
            state_file.write(state_path(chain_dir), state_file.pack_records(records), meta.block_number,
                             meta.segment, "journal")
    jdir = journal_dir(chain_dir)
    for seg in journal.segments(jdir):
        if journal.segment_number(seg) < first_segment:
            continue
        records, changed = rewritten(journal.scan(seg).records)
        if not changed:
            continue
        shutil.copy2(seg, before / seg.name)
        tmp = seg.with_name(seg.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(b"".join(journal.encode(r) for r in records))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, seg)
    paths.fsync_dir(jdir)
    messages = []
    if first:
        messages.append(f"replay: --accept-replay: kept the chain rebuilt from the journal; {len(div.changed)} "
                        f"blocks have new hashes, from block {first['number']} (journaled {first['journaled']}, now "
                        f"{first['replayed']}); the list is in {report}, the journal as it was in {before}; the "
                        f"journal now records the new hashes")
    if div.refused:
        messages.append(f"replay: --accept-replay: the engine refused {len(div.refused)} journaled transactions on "
                        f"the rebuilt chain (listed in {report}), e.g. {div.refused[0]}")
    return messages
