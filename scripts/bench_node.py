"""`citypoints bench node [--json] [--scale N]`: the embedded node's floors, measured in one run.

1. Durability cost: the same pre-signed `PointsLedger.issueBatch` load against the bare engine (its own
   private port, blocks mined by a plain loop with the same period) and against the node (gateway +
   journal + fsync), on fresh chains, alternated three times so a busy machine weighs on both alike; each side
   keeps its best run. 600 transactions of 500 items: some 7 s of blocks mined back to back, the sustained case
   (120 gave a 2-second run, half of it the first block period). Both face the same client: 4 issuers over 4
   connections each (at most 400 transactions unmined) and one follower that counts a transaction once a block
   the node shows holds it (`_pump`). Beside it, the latency the gateway adds to a read: one client reading 40
   receipts one after the other, no load running.
2. At scale: a ledger of `--scale` issued items to `--residents` residents, built once through the node and
   cached under var/bench/node-<scale>-<residents>/ (minutes for 1,000,000; reused while it exists). Then:
   issuance throughput on that ledger, and a `kill -9` + restart (restore time, transactions replayed).
   `--scale 0` skips this part (a few minutes instead of tens); BENCHMARKS.md is then left as it is, since
   its section reports a whole run.

The suite never runs this. The JSON has bare_tx_per_s, durable_tx_per_s, durable_ratio, restart_s,
restart_transactions, items_per_s_at_scale, scale_slots (and more).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

import typer
from eth_hash.auto import keccak  # not eth_utils', nor eth_account at the top: `citypoints` imports this module

from ledger_node.issuance_refs import sequenced_ref
from ledger_node.jsonrpc import NO_RETRY, HttpTransport, TransportFailure

BATCH = 500            # items per issueBatch when building and measuring at scale
OVERHEAD_SMALL_BATCH = 100  # also reported: the durability cost with 5x more (smaller) transactions
SENDERS = 4
# Each issuer's transactions go out over this many connections at once (nonces interleaved). anvil takes almost no
# transaction into its pool while it mines a block (measured: 20-40 a second against 450-860 between blocks), so a
# client that sends one transaction and waits for its hash before the next gets about one in per block mined back
# to back: with one connection per issuer the benchmark measured that client's admission latency, not the node.
CONNECTIONS_PER_ISSUER = 4
MAX_IN_FLIGHT = 400  # transactions sent but not yet mined, across senders
RECEIPT_READS = 40   # receipts read one after another, after the load, for the read-latency figure


def run(*, scale: int = 1_000_000, residents: int = 100_000, engine: str = "anvil", overhead_txs: int = 600,
        measure_items: int = 50_000, rebuild: bool = False, log=print) -> dict:
    from ledger_node import compiler, paths

    compiler.compile_all()
    result: dict = {"engine": engine, "batch_items": BATCH, "scale": scale}
    result.update(_overhead(engine, overhead_txs, log, batch=BATCH))
    small = _overhead(engine, overhead_txs * 2, log, batch=OVERHEAD_SMALL_BATCH)
    result.update({f"{k}_small_tx": v for k, v in small.items() if k != "gas_per_item"})
    home = paths.var_dir() / "bench" / f"node-{engine}-{scale}-{residents}"
    if rebuild and home.exists():
        shutil.rmtree(home)
    if scale:
        result.update(_at_scale(home, engine, scale, residents, measure_items, log))
    return result


# ---- 1. durability cost --------------------------------------------------------------------------------------

def _overhead(engine: str, n_txs: int, log, *, batch: int, rounds: int = 3) -> dict:
    """Bare engine vs node on the same load, alternated `rounds` times; each side keeps its best run, since
    other work on a shared machine only ever slows a run down."""
    from eth_account import Account

    from ledger_node.harness import SupervisedNode

    best = {"bare": float("inf"), "durable": float("inf")}
    read_ms = {"bare": float("inf"), "durable": float("inf")}
    gas = 0
    for rnd in range(rounds):
        for mode in ("bare", "durable"):
            with tempfile.TemporaryDirectory(prefix=f"citypoints-bench-{mode}-") as tmp:
                home = Path(tmp)
                if mode == "durable":
                    node = SupervisedNode(home, engine=engine, block_period=1.0)
                    node.start()
                    url, stop = node.url, node.stop
                    operator = Account.from_key((home / "var" / "keys" / "operator.key").read_text().strip())
                    setup_mode = lambda auto: node.operator("evm_setAutomine" if auto else "evm_setIntervalMining",
                                                            [True] if auto else [1.0])
                else:
                    url, stop, operator, setup_mode = _bare_engine(home, engine)
                try:
                    setup_mode(True)
                    ledger, issuers, people = _setup(url, operator, n_residents=BATCH, n_issuers=SENDERS)
                    setup_mode(False)
                    raws = _presign(url, ledger, issuers, people, n_txs * batch, offset=0,
                                    label=f"o{rnd}{mode}", batch=batch)
                    seconds, gas, hashes = _pump(url, raws)
                    read_ms[mode] = min(read_ms[mode], _receipt_read_ms(url, hashes[:RECEIPT_READS]))
                finally:
                    stop()
                best[mode] = min(best[mode], seconds)
                log(f"overhead round {rnd + 1}/{rounds} {mode}: {n_txs} tx x {batch} items in {seconds:.2f}s "
                    f"(load {os.getloadavg()[0]:.1f}); a receipt read {read_ms[mode]:.1f} ms")
    bare = n_txs / best["bare"]
    durable = n_txs / best["durable"]
    return {"bare_tx_per_s": round(bare, 2), "durable_tx_per_s": round(durable, 2),
            "bare_items_per_s": round(bare * batch), "durable_items_per_s": round(durable * batch),
            "durable_ratio": round(durable / bare, 3), "overhead_batch_items": batch,
            "overhead_transactions": n_txs, "gas_per_item": round(gas / (n_txs * batch)),
            "bare_receipt_read_ms": round(read_ms["bare"], 2), "durable_receipt_read_ms": round(read_ms["durable"], 2),
            "gateway_read_added_ms": round(read_ms["durable"] - read_ms["bare"], 2)}


def _bare_engine(home: Path, engine_name: str):
    """The engine alone on its port, with a loop that mines as the gateway does (its policy, not its code)."""
    from eth_account import Account

    from ledger_node.config import NodeConfig
    from ledger_node.node.engine import make_engine

    operator = Account.create()
    cfg = NodeConfig()
    engine = make_engine(engine_name, cfg, home, {operator.key.hex(): cfg.funding_wei})
    engine.start()
    period = [1.0]
    done = threading.Event()
    client = HttpTransport(engine.url, timeout=600, retry=NO_RETRY)

    def call(method, params=None):
        return client.call(method, params).get("result")

    last_ts = [0]

    def pool_pending() -> int:
        status = call("txpool_status")
        return int(status["pending"], 16) if status else 0

    def mine_loop():
        """The gateway's policy without the gateway: a block once a transaction is pending, at most one a period
        (start to start); a full block (one that left waiting transactions behind) is followed at once."""
        started, backlog = float("-inf"), False
        try:
            while not done.is_set():
                if not backlog:
                    done.wait(max(0.0, started + period[0] - time.monotonic()))
                    while not done.is_set() and not pool_pending():
                        done.wait(0.002)
                waiting = pool_pending()
                started = time.monotonic()
                ts = max(int(time.time()), last_ts[0] + 1)
                last_ts[0] = ts
                for method, params in engine.mine_params(ts):
                    call(method, params)
                included = len(call("eth_getBlockByNumber", ["latest", False])["transactions"])
                backlog = 0 < included < waiting
        except (TransportFailure, TypeError):
            return  # the engine was stopped

    threading.Thread(target=mine_loop, daemon=True).start()

    def stop():
        done.set()
        engine.stop()

    def setup_mode(auto: bool):
        period[0] = 0 if auto else 1.0

    return engine.url, stop, operator, setup_mode


# ---- 2. at scale ---------------------------------------------------------------------------------------------

def _at_scale(home: Path, engine: str, scale: int, n_residents: int, measure_items: int, log) -> dict:
    from eth_account import Account

    from ledger_node.harness import SupervisedNode

    home.mkdir(parents=True, exist_ok=True)
    meta_path = home / "bench.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    node = SupervisedNode(home, engine=engine, block_period=1.0, port=_free())
    t = node.start(timeout=3600)
    log(f"scale node up in {t:.1f}s ({home})")
    try:
        operator = Account.from_key((home / "var" / "keys" / "operator.key").read_text().strip())
        issuers = [Account.from_key(keccak(f"bench-issuer-{k}".encode())) for k in range(SENDERS)]
        people = [_resident(i) for i in range(n_residents)]
        if "ledger" not in meta:
            node.operator("evm_setAutomine", [True])
            t0 = time.perf_counter()
            ledger, _, _ = _setup(node.url, operator, n_residents=n_residents, n_issuers=SENDERS, issuers=issuers,
                                  people=people)
            node.operator("evm_setIntervalMining", [1.0])
            meta = {"ledger": ledger, "built": 0, "residents": n_residents, "setup_s": round(time.perf_counter() - t0)}
            meta_path.write_text(json.dumps(meta))
            log(f"deployed and registered {n_residents} residents in {meta['setup_s']}s")
        ledger = meta["ledger"]
        t0 = time.perf_counter()
        built_now = meta["built"] < scale
        while meta["built"] < scale:
            step = min(100_000, scale - meta["built"])
            raws = _presign(node.url, ledger, issuers, people, step, offset=meta["built"], label="scale")
            seconds = _pump(node.url, raws).seconds
            meta["built"] += step
            meta_path.write_text(json.dumps(meta))
            log(f"built {meta['built']:,}/{scale:,} items ({step / seconds:,.0f} items/s, "
                f"{time.perf_counter() - t0:.0f}s)")
        if built_now and node.env["CITYPOINTS_ENGINE"] == "anvil":
            t1 = time.perf_counter()
            log(f"snapshot: {node.operator('citypoints_snapshot')} ({time.perf_counter() - t1:.0f}s)")
        # throughput on the big ledger: new refs, existing holders
        raws = _presign(node.url, ledger, issuers, people, measure_items, offset=meta["built"] + 10**9,
                        label=f"measure{time.time_ns()}")
        seconds, gas, _ = _pump(node.url, raws)
        at_scale = measure_items / seconds
        log(f"at scale: {measure_items:,} items in {seconds:.1f}s = {at_scale:,.0f} items/s")
        slots = _slots_per_item(node.url, ledger, issuers, people)
        counted = None
        if node.env["CITYPOINTS_ENGINE"] == "anvil":
            t1 = time.perf_counter()
            node.operator("citypoints_snapshot")
            counted = count_slots(home / "var" / "chain" / "state.dump")
            log(f"state: {counted:,} storage slots (counted in the snapshot, {time.perf_counter() - t1:.0f}s)")
            # a journal tail after the snapshot, so the restart below loads a snapshot *and* replays
            raws = _presign(node.url, ledger, issuers, people, 20 * BATCH, offset=meta["built"] + 2 * 10**9,
                            label=f"tail{time.time_ns()}")
            _pump(node.url, raws)
        client = HttpTransport(node.url, timeout=60, retry=NO_RETRY)
        acknowledged = client.call("eth_getBlockByNumber", ["latest", False])["result"]  # every block answered so far
        node.kill()
        t1 = time.perf_counter()
        node.start(timeout=3600)
        restart = time.perf_counter() - t1
        client = HttpTransport(node.url, timeout=60, retry=NO_RETRY)
        again = client.call("eth_getBlockByNumber", [acknowledged["number"], False])["result"]
        lost = again is None or again["hash"] != acknowledged["hash"]
        log(f"after kill -9: block {int(acknowledged['number'], 16):,} "
            f"{'LOST or changed' if lost else 'still there, same hash'}")
        text = (home / "var" / "chain" / "node.log").read_text()
        replayed = re.findall(r"restored chain at block (\d+) in ([\d.]+)s \(replayed (\d+) transactions, (\d+) blocks\)",
                              text)[-1]
        log(f"kill -9 and restart: {restart:.1f}s, replayed {replayed[2]} transactions / {replayed[3]} blocks")
        height = int(replayed[0])
        total_items = meta["built"] + measure_items
        scale_slots = counted
        if scale_slots is None and slots:
            scale_slots = round(slots["per_registration"] * n_residents + slots["per_new_holder_item"] * n_residents
                                + slots["per_existing_holder_item"] * (total_items - n_residents))
        return {"scale_items": total_items, "scale_residents": n_residents, "scale_blocks": height,
                "items_per_s_at_scale": round(at_scale), "gas_per_item_at_scale": round(gas / measure_items),
                "scale_slots": scale_slots, "slots_detail": slots, "restart_s": round(restart, 1),
                "restart_transactions": int(replayed[2]), "restart_blocks": int(replayed[3]),
                "kill_lost_acknowledged_block": lost}
    finally:
        node.stop(timeout=3600)


SLOTS_BATCH = 1000  # items of the batch the slots are traced in (issue 25: amortised over a 1,000-item batch)


def _slots_per_item(url: str, ledger: str, issuers, people) -> dict | None:
    """Storage slots per issued item, from the engine's prestate diff tracer, over one 1,000-item batch of sequential
    numbers to existing holders: written (each holder's balance word is one: at least 1 an item) and new (slots that
    did not exist before: what the state grows by)."""
    from ledger_node.harness import sign_issue_batch

    client = HttpTransport(url, timeout=60, retry=NO_RETRY)
    call = client.call

    def traced(tx_hash: str) -> tuple[int, int] | None:
        answer = call("debug_traceTransaction", [tx_hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}])
        if "result" not in answer:
            return None
        pre = {k.lower(): v.get("storage", {}) for k, v in answer["result"].get("pre", {}).items()}
        post = {k.lower(): v.get("storage", {}) for k, v in answer["result"].get("post", {}).items()}
        written = sum(len(v) for v in post.values())
        new = sum(1 for a, v in post.items() for slot in v if int(pre.get(a, {}).get(slot, "0x0"), 16) == 0)
        return written, new

    issuer = issuers[0]
    nonce = int(call("eth_getTransactionCount", [issuer.address, "pending"])["result"], 16)
    chain_id = int(call("eth_chainId", [])["result"], 16)
    lane = 2**32 - 1 - int(time.time())  # a lane of its own, numbered from 0
    refs = [sequenced_ref(lane, k, keccak(f"slots-{lane}-{k}".encode())) for k in range(SLOTS_BATCH)]
    raw = sign_issue_batch(issuer, ledger, nonce, chain_id, people[:SLOTS_BATCH], [1] * SLOTS_BATCH, refs,
                           gas_per_item=60_000)
    tx_hash = call("eth_sendRawTransaction", [raw])["result"]
    _wait_receipt(client, tx_hash)
    counts = traced(tx_hash)
    if counts is None:
        return None
    return {**_with_gas_file(counts[0] / SLOTS_BATCH), "new_per_existing_holder_item": counts[1] / SLOTS_BATCH}


def count_slots(state_dump: Path) -> int:
    """Storage slots in an anvil snapshot, counted while streaming it (hex -> gzip -> JSON keys of 32 bytes)."""
    import zlib

    pattern = re.compile(rb'"0x[0-9a-f]{64}":')
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)
    count, carry = 0, b""
    with open(state_dump, "rb") as f:
        f.readline()                                   # the header
        head = f.read(2)
        if head != b"0x":
            f.seek(-2, 1)
        while chunk := f.read(8 << 20):
            chunk = chunk.strip()
            data = carry + inflate.decompress(bytes.fromhex(chunk.decode()))
            count += len(pattern.findall(data[:-80] if len(data) > 80 else b""))
            carry = data[-80:] if len(data) > 80 else data
    count += len(pattern.findall(carry))
    return count


def _with_gas_file(existing: float) -> dict:
    """New-holder and registration slot counts come from the contracts' gas test when it has run."""
    from ledger_node import paths

    detail = {"per_existing_holder_item": existing, "per_new_holder_item": existing + 1, "per_registration": 1,
              "source": "existing-holder items traced here; new holder = +1 balance slot, registration = 1 slot"}
    gas_file = paths.ROOT / "build" / "gas" / "issuance.json"
    try:
        data = json.loads(gas_file.read_text())
        for key, name in (("slotsPerItemNewHolder", "per_new_holder_item"), ("slots_new", "per_new_holder_item")):
            if isinstance(data.get(key), (int, float)):
                detail[name] = data[key]
    except (FileNotFoundError, ValueError):
        pass
    return detail


# ---- load helpers --------------------------------------------------------------------------------------------

def _resident(i: int) -> str:
    from web3 import Web3

    return Web3.to_checksum_address(keccak(f"bench-resident-{i}".encode())[:20])


def _free() -> int:
    from ledger_node.node.anvil import free_port

    return free_port()


def _setup(url: str, operator, *, n_residents: int, n_issuers: int, issuers=None, people=None):
    from web3 import Web3

    from eth_account import Account

    from ledger_node.harness import deploy_issuance

    issuers = issuers or [Account.create() for _ in range(n_issuers)]
    people = people or [_resident(i) for i in range(n_residents)]
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 600}))
    ledger = deploy_issuance(w3, operator, residents=people, issuers=[i.address for i in issuers])
    return ledger.address, issuers, people


def _presign(url: str, ledger: str, issuers, people, items: int, *, offset: int, label: str,
             batch: int = BATCH) -> list[list[str]]:
    """Per issuer, its signed issueBatch transactions in nonce order (items spread round-robin over residents)."""
    from ledger_node.harness import sign_issue_batch

    client = HttpTransport(url, timeout=60, retry=NO_RETRY)

    def call(method, params):
        return client.call(method, params)["result"]

    chain_id = int(call("eth_chainId", []), 16)
    nonces = [int(call("eth_getTransactionCount", [i.address, "pending"]), 16) for i in issuers]
    per_issuer: list[list[str]] = [[] for _ in issuers]
    n_people = len(people)
    for b, start in enumerate(range(0, items, batch)):
        k = b % len(issuers)
        idx = range(offset + start, offset + min(start + batch, items))
        # each issuer numbers its items in a lane of its own, as the SDK's sequence book does (item i: counter i)
        raw = sign_issue_batch(issuers[k], ledger, nonces[k], chain_id, [people[i % n_people] for i in idx],
                               [1] * len(idx), [sequenced_ref(k, i, keccak(f"{label}-{i}".encode())) for i in idx],
                               gas_per_item=60_000)
        nonces[k] += 1
        per_issuer[k].append(raw)
    return per_issuer


class Pumped(NamedTuple):
    seconds: float       # from the first send until every transaction was seen in a block
    gas: int
    hashes: list[str]


def _pump(url: str, per_issuer: list[list[str]]) -> Pumped:
    """Send every transaction (one thread per issuer, at most MAX_IN_FLIGHT unmined) until each is in a block.

    A transaction counts once a block the node shows holds it: one follower reads each new block's transaction
    list (`eth_getBlockByNumber`, hashes only), the node's durable throughput as any client sees it. It used to
    be one poller fetching each receipt in turn (447 KB for 500 items): the benchmark then measured that client's
    serial read latency rather than the node. The receipts are checked (status, gas) after the clock stops.
    Bare engine and node face this same client."""
    in_flight = threading.Semaphore(MAX_IN_FLIGHT)
    errors: list[str] = []
    hashes: list[str] = []
    total = sum(len(r) for r in per_issuer)

    def sender(raws):
        client = HttpTransport(url, timeout=600, retry=NO_RETRY)
        for raw in raws:
            in_flight.acquire()
            answer = client.call("eth_sendRawTransaction", [raw])
            if "error" in answer:
                errors.append(str(answer["error"]))
                in_flight.release()
                continue
            hashes.append(answer["result"])

    client = HttpTransport(url, timeout=600, retry=NO_RETRY)
    first_block = int(client.call("eth_blockNumber", [])["result"], 16) + 1

    def follower():
        seen, shown = 0, first_block - 1
        deadline = time.monotonic() + 600
        while seen < total - len(errors) and time.monotonic() < deadline:
            height = int(client.call("eth_blockNumber", [])["result"], 16)
            if height == shown:
                time.sleep(0.01)
                continue
            for number in range(shown + 1, height + 1):
                txs = client.call("eth_getBlockByNumber", [hex(number), False])["result"]["transactions"]
                seen += len(txs)
                for _ in txs:
                    in_flight.release()
            shown = height

    t0 = time.perf_counter()
    streams = [raws[k::CONNECTIONS_PER_ISSUER] for raws in per_issuer for k in range(CONNECTIONS_PER_ISSUER)]
    threads = [threading.Thread(target=sender, args=(r,), daemon=True) for r in streams]
    follow = threading.Thread(target=follower, daemon=True)
    for t in threads + [follow]:
        t.start()
    for t in threads:
        t.join()
    follow.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} transactions failed, e.g. {errors[0]}")
    receipts = _receipts(url, hashes)
    reverted = [r["transactionHash"] for r in receipts if int(r["status"], 16) != 1]
    if reverted:
        raise RuntimeError(f"{len(reverted)} transactions reverted, e.g. {reverted[0]}")
    return Pumped(seconds, sum(int(r["gasUsed"], 16) for r in receipts), hashes)


def _receipts(url: str, hashes: list[str], threads: int = SENDERS) -> list[dict]:
    """Every receipt, fetched by a few threads (after a measurement: not timed)."""
    out: list[dict] = []

    def fetch(part):
        client = HttpTransport(url, timeout=600, retry=NO_RETRY)
        out.extend(_wait_receipt(client, h) for h in part)

    workers = [threading.Thread(target=fetch, args=(hashes[k::threads],)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if len(out) != len(hashes):
        raise RuntimeError(f"{len(hashes) - len(out)} receipts could not be read")
    return out


def _receipt_read_ms(url: str, hashes: list[str]) -> float:
    """Median milliseconds for one client to read one receipt (no load running): what a relay adds to a read."""
    client = HttpTransport(url, timeout=60, retry=NO_RETRY)
    times = []
    for h in hashes:
        t0 = time.perf_counter()
        client.call("eth_getTransactionReceipt", [h])
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _wait_receipt(client: HttpTransport, tx_hash: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt = client.call("eth_getTransactionReceipt", [tx_hash]).get("result")
        if receipt:
            return receipt
        time.sleep(0.02)
    raise TimeoutError(f"no receipt for {tx_hash}")


# ---- the command ---------------------------------------------------------------------------------------------

def command(as_json: bool = typer.Option(False, "--json", help="Print one JSON object only."),
            scale: int = typer.Option(1_000_000, help="Issued items in the big ledger (built once, cached in var/bench/); "
                                                      "0 measures the durability cost only."),
            residents: int = typer.Option(100_000, help="Residents the big ledger's items go to."),
            engine: str = typer.Option("anvil", help="anvil or hardhat."),
            rebuild: bool = typer.Option(False, "--rebuild", help="Build the big ledger again.")):
    """The embedded node: durability cost, issuance on a big ledger, kill -9 restart (minutes; see BENCHMARKS.md)."""
    log = (lambda *a: None) if as_json else print
    result = run(scale=scale, residents=residents, engine=engine, rebuild=rebuild, log=log)
    result["machine_load_1m"] = round(os.getloadavg()[0], 2)
    if scale:
        update_benchmarks_md(result)
    if as_json or not scale:
        print(json.dumps(result))
    else:
        print(markdown(result))
    return result


def markdown(r: dict) -> str:
    rows = [
        (f"durability cost: issueBatch throughput, node (gateway + journal) vs bare engine, "
         f"{r.get('overhead_transactions', '?')} transactions, each counted once a block shows it",
         f"{r['durable_items_per_s']:,} vs {r['bare_items_per_s']:,} items/s "
         f"({r['durable_tx_per_s']} vs {r['bare_tx_per_s']} tx/s of {r['batch_items']})",
         f"ratio {r['durable_ratio']:.2f} (floor >= 0.90)"),
        (f"the same with {r['overhead_batch_items_small_tx']}-item transactions",
         f"{r['durable_tx_per_s_small_tx']} vs {r['bare_tx_per_s_small_tx']} tx/s",
         f"ratio {r['durable_ratio_small_tx']:.2f} (reported)"),
        (f"a receipt read ({r['overhead_batch_items']}-item issueBatch), one client, no load: through the node "
         f"vs from the engine", f"{r['durable_receipt_read_ms']} vs {r['bare_receipt_read_ms']} ms",
         f"+{r['gateway_read_added_ms']} ms (reported)"),
        (f"issuance on a ledger of {r['scale_items']:,} items / {r['scale_residents']:,} residents "
         f"(~{(r['scale_slots'] or 0):,} storage slots, {r['scale_blocks']:,} blocks)",
         f"{r['items_per_s_at_scale']:,} items/s", "floor >= 10,000 items/s at 10,000,000 (issue 25)"),
        ("kill -9 and restart of that ledger",
         f"{r['restart_s']} s ({r['restart_transactions']:,} transactions, {r['restart_blocks']:,} blocks replayed); "
         f"the last block answered before the kill {'LOST' if r.get('kill_lost_acknowledged_block') else 'kept'}",
         "floor <= 30 s, nothing acknowledged lost (issue 25)"),
    ]
    slots = r.get("slots_detail") or {}
    if "new_per_existing_holder_item" in slots:
        rows.append(("storage slots per issued item, a 1,000-item batch of sequential numbers to existing holders "
                     "(traced): new (the state's growth) / written (each holder's balance word is one)",
                     f"{slots['new_per_existing_holder_item']:.3f} / {slots['per_existing_holder_item']:.3f}",
                     "floor <= 0.05 (issue 25; read as growth: a balance changed is a slot written)"))
    lines = ["## node", "",
             f"`citypoints bench node --scale {r.get('scale', r['scale_items']):,}` — engine {r['engine']}, "
             f"gas per item {r['gas_per_item']:,} (fresh chain) / {r['gas_per_item_at_scale']:,} (at scale), "
             f"load average {r.get('machine_load_1m')} on {os.cpu_count()} cores.", "",
             "| measure | result | floor |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def update_benchmarks_md(result: dict) -> None:
    """Replace (or add) the `## node` section of BENCHMARKS.md, keeping every other section."""
    from ledger_node import paths

    path = paths.ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = markdown(result)
    pattern = re.compile(r"^## node\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
