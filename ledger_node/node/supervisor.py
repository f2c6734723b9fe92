"""The embedded node's supervisor process: starts the engine sealed (a Unix socket, no reachable port), restores
the chain (saved state + journal replay), then serves the JSON-RPC gateway on the public port and the operator channel,
produces blocks, takes snapshots (anvil) and, on SIGTERM/SIGINT, saves the chain and stops.
Started detached by `citypoints node start`.

Run directly: python -m ledger_node.node.supervisor [--accept-replay]
(`--accept-replay`: a replay that diverges from the journal keeps the rebuilt chain, recovery.py says how.)
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

import uvloop
from aiohttp import web

from ledger_node import keys, paths

from ledger_node.node import journal, recovery, state_file
from ledger_node.node.anvil import NodeError, free_port
from ledger_node.config import NodeConfig
from ledger_node.node.engine import Engine, make_engine
from ledger_node.keys import operator_account
from ledger_node.node.rpc_gateway import Gateway, GatewayError


def state_path():
    """The chain directory's state file (recovery.state_path names it)."""
    return recovery.state_path(paths.chain_dir())


def genesis_path():
    return paths.chain_dir() / "genesis.json"


def token_path():
    return paths.chain_dir() / "operator.token"


def engine_file():
    return paths.chain_dir() / "engine"


def operator_token() -> str:
    """The operator channel's token, created once, readable by its owner only; a short or empty one is refused."""
    return keys.operator_token(token_path())


def chain_engine(cfg: NodeConfig) -> str:
    """A chain keeps the engine it was created with (block hashes differ between engines)."""
    path = engine_file()
    if path.exists():
        name = path.read_text().strip()
        if name != cfg.engine and "CITYPOINTS_ENGINE" in os.environ:
            raise NodeError(f"this chain (var/chain/) was created with the {name} engine; "
                            f"CITYPOINTS_ENGINE={cfg.engine} cannot run it")
        return name
    fresh = not state_path().exists() and not any((paths.chain_dir() / "journal").glob("*.wal"))
    name = cfg.engine if fresh else "anvil"  # a chain saved before engines were selectable is anvil's
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(name + "\n")
    return name


def main(argv: list[str] | None = None) -> int:
    accept_replay = "--accept-replay" in (sys.argv[1:] if argv is None else argv)
    cfg = NodeConfig.from_env()
    chain = paths.chain_dir()
    chain.mkdir(parents=True, exist_ok=True)
    operator = operator_account()
    try:
        operator_token()  # refused before anything starts
        # sealed: nothing but this process reaches the engine (engine_process.py)
        engine = make_engine(chain_engine(cfg), cfg, chain, {operator.key.hex(): cfg.funding_wei},
                             sealed=not cfg.engine_exposed)
        if cfg.engine_exposed:
            print("warning: CITYPOINTS_ENGINE_EXPOSED is set: the engine answers any local caller on an open "
                  "127.0.0.1 port (unsafe: admin calls there bypass the journal)", flush=True)
        engine.start()
    except (NodeError, keys.TokenError) as exc:
        print(f"error: {exc}", flush=True)
        return 1
    try:
        rec = recovery.restore(engine, chain, accept_replay=accept_replay)
    except (NodeError, state_file.CorruptState, journal.JournalCorrupt, ValueError) as exc:
        engine.stop()
        print(f"error: {exc}", flush=True)
        return 1
    for message in rec.messages:
        print(message, flush=True)
    print(f"restored chain at block {rec.height} in {rec.seconds:.1f}s "
          f"(replayed {rec.transactions} transactions, {rec.blocks} blocks)", flush=True)
    try:
        # uvloop: the gateway relays every request and the engine's answer (receipts of hundreds of KB) on the
        # engine's cores; in a profile of the gateway under the node benchmark, asyncio's socket writes were its
        # largest single cost.
        return uvloop.run(serve(cfg, engine, rec))
    finally:
        engine.stop()


async def serve(cfg: NodeConfig, engine: Engine, rec: recovery.Recovered) -> int:
    chain = paths.chain_dir()
    jnl = journal.Journal(recovery.journal_dir(chain), rec.next_segment)
    gw = Gateway(engine, jnl, block_period=cfg.block_period_s, operator_token=operator_token(),
                 snapshotter=snapshot if engine.can_snapshot else None)
    st = gw.state
    st.pending, st.time_offset, st.next_timestamp = dict(rec.pending), rec.time_offset, rec.next_timestamp
    st.dirty = bool(rec.pending)
    await gw.open()
    op_port = cfg.operator_port or free_port()
    gw.operator_hint = f"http://127.0.0.1:{op_port}/ with the token in var/chain/operator.token"
    runners = []
    for app, host, port in ((gw.public_app(), cfg.host, cfg.port), (gw.operator_app(), "127.0.0.1", op_port)):
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port, backlog=1024).start()
        runners.append(runner)
    paths.node_file().write_text(json.dumps({"pid": os.getpid(), "rpcUrl": cfg.rpc_url, "chainId": cfg.chain_id,
                                             "engine": engine.name, "operatorUrl": f"http://127.0.0.1:{op_port}",
                                             "blockPeriod": cfg.block_period_s}))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    code = 0
    last_snapshot, last_dump_s = time.monotonic(), 0.0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
        if not engine.alive():
            print("error: the engine exited unexpectedly", flush=True)
            code = 1
            break
        failure = gw.failure()
        if failure:
            print(f"error: {failure}; stopping so nothing unjournaled is acknowledged or shown", flush=True)
            code = 1
            break
        since = time.monotonic() - last_snapshot
        if engine.can_snapshot and snapshot_due(cfg, since, jnl.segment_bytes, last_dump_s, gw.backlogged):
            t0 = time.monotonic()
            try:
                print(await snapshot(gw), flush=True)
            except Exception as exc:  # the journal still holds everything; try again next interval
                print(f"error: snapshot failed ({exc}); the journal keeps growing until one succeeds", flush=True)
            last_snapshot, last_dump_s = time.monotonic(), time.monotonic() - t0
    for runner in runners:
        await runner.cleanup()
    await gw.stop_producing()
    if code == 0:
        try:
            print(await (snapshot(gw) if engine.can_snapshot else checkpoint(gw)), flush=True)
        except Exception as exc:  # the journal still holds everything: the next start replays it
            print(f"error: saving on stop failed ({exc}); the journal will be replayed on start", flush=True)
    await gw.close()
    jnl.close()
    paths.node_file().unlink(missing_ok=True)
    if code == 0:
        print("stopped cleanly, state saved", flush=True)
    return code


# A journal this many times the size trigger is snapshotted even under a backlog (bounds the replay on restart).
BACKLOG_JOURNAL_FACTOR = 4


def snapshot_due(cfg: NodeConfig, since_s: float, journal_bytes: int, last_dump_s: float, backlogged: bool) -> bool:
    """Is a snapshot due? Every `snapshot_interval_s`, or once the journal since the last one holds
    `snapshot_journal_bytes`; never more often than 10x the last one's duration. Blocks pause while anvil dumps
    (1.3 s for 35 MB on a fresh chain, tens of seconds at 1,000,000 items), so the size trigger waits while the
    producer has a backlog (transactions waiting beyond the block being mined, `Gateway.backlogged`): taken in
    the middle of a burst, that pause came straight off the burst's throughput; after it, it falls in the block
    period's idle time. A journal grown to
    BACKLOG_JOURNAL_FACTOR times the trigger is snapshotted anyway, so a burst that never ends still bounds the
    replay."""
    if since_s < 10 * last_dump_s:
        return False
    if since_s >= cfg.snapshot_interval_s:
        return True
    if backlogged:
        return journal_bytes >= BACKLOG_JOURNAL_FACTOR * cfg.snapshot_journal_bytes
    return journal_bytes >= cfg.snapshot_journal_bytes


# A snapshot's dump begins at least this long after the last block (at most half a block period): the clients that
# follow the chain (the API's indexer: a block within ~0.1-0.2 s of it) have it before the engine pauses. Begun at
# once, the dump often came just after a block (it waits for the block producer's lock), and for its whole length
# the API, its indexer a block behind, checked every redemption on the paused engine and refused it as away.
FOLLOWERS_S = 0.4


async def _after_followers(gw: Gateway) -> float:
    """Take the block producer's lock at least FOLLOWERS_S (at most half a block period) after the last block; how
    long after it the lock was taken. Called under `gw.save_lock`; the caller releases `gw.mine_lock`."""
    quiet = min(FOLLOWERS_S, gw.configured_period / 2)
    for _ in range(10):  # a block mined while waiting for the lock: wait for its followers too
        await asyncio.sleep(max(0.0, gw.last_block_at + quiet - time.monotonic()))
        await gw.mine_lock.acquire()
        since = time.monotonic() - gw.last_block_at
        if since >= quiet:
            return since
        gw.mine_lock.release()
    await gw.mine_lock.acquire()  # blocks back to back all along: as before
    return time.monotonic() - gw.last_block_at


async def snapshot(gw: Gateway) -> str:
    """anvil: dump the engine's state at a block boundary, once followers have had the block (FOLLOWERS_S); the
    journal restarts after it.

    Block production pauses during the dump only (so its height is known; the engine could not mine meanwhile
    anyway); transactions are still admitted and journaled into the new segment, which replays on top of the
    snapshot (a dump holds no pool). Writing the file (digest, fsync) runs while blocks go on: until it has
    replaced the previous snapshot, that one and every segment after it are still there for a restart.
    """
    async with gw.save_lock:
        after = await _after_followers(gw)
        try:
            height = gw.state.height
            if _saved_height() == height and not gw.state.pending:
                return f"snapshot: chain unchanged at block {height}"
            carry = [{"k": "carry", "raw": raw} for raw in gw.state.pending.values()]
            segment = gw.journal.rotate(carry)
            started = time.monotonic()
            pieces = await gw.engine_result_pieces("anvil_dumpState", [])
            dumped = time.monotonic()
        finally:
            gw.mine_lock.release()
        await asyncio.get_running_loop().run_in_executor(None, _save_dump, pieces, height, segment)
        _drop_segments_before(segment)
    size = sum(len(piece) for piece in pieces)
    return (f"snapshot at block {height} ({size / 1e6:.1f} MB, begun {after:.2f}s after the block, blocks paused "
            f"{dumped - started:.1f}s for the dump, saved in {time.monotonic() - dumped:.1f}s more)")


def _save_dump(pieces: list, height: int, segment: int) -> None:
    """In a thread: the dump's pieces checked to be the engine's string as it is (anvil's is hex: a JSON escape in
    it would be saved undecoded) and written as the state file, a piece at a time."""
    if any(b"\\" in piece for piece in pieces):
        raise GatewayError(-32603, "the engine's state dump is not a plain string; no snapshot was saved")
    state_file.write(state_path(), pieces, height, segment, "anvil")


async def checkpoint(gw: Gateway) -> str:
    """Engines without a state dump: compact the saved state and every journal segment into state.dump."""
    async with gw.save_lock:
        async with gw.mine_lock:
            height = gw.state.height
            segment = gw.journal.rotate([])
        records: list[dict] = []
        first = 1
        if state_path().exists():
            blob, meta = state_file.read_meta(state_path())
            records, first = state_file.unpack_records(blob), meta.segment
        jdir = recovery.journal_dir(paths.chain_dir())
        records += [r for seg in journal.segments(jdir) if first <= journal.segment_number(seg) < segment
                    for r in journal.scan(seg).records]
        await asyncio.get_running_loop().run_in_executor(None, state_file.write, state_path(),
                                                         state_file.pack_records(records), height, segment, "journal")
        _drop_segments_before(segment)
    return f"checkpoint at block {height} ({len(records)} journal records)"


def _saved_height() -> int | None:
    try:
        with open(state_path()) as f:
            return int(f.readline().split(" ")[3])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _drop_segments_before(segment: int) -> None:
    for seg in journal.segments(recovery.journal_dir(paths.chain_dir())):
        if journal.segment_number(seg) < segment:
            seg.unlink()


if __name__ == "__main__":
    sys.exit(main())
