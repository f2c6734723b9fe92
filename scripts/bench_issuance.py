"""`citypoints bench issuance`: the issuer SDK against the raw node, measured in one run on its own anvil.

(a) raw ceiling: pre-signed `issueBatch` transactions sent by plain JSON-RPC, at most `max_in_flight`
    unmined at a time (the SDK's window), timed until the node has mined the last (the sender's mined
    nonce is polled; receipts are checked afterwards, untimed);
(b) `IssuerClient.issue_many`: the same items, batch size and window, refs hashed and calldata encoded,
    signed, sent and every batch's outcome (issued, skipped) read back inside the timed span;
(c) one `issue` at a time, send-and-confirm: pre-signed raw JSON-RPC against the SDK;
(d) memory: peak RSS of a child process that reads, validates, hashes, encodes and signs a 1,000,000-record
    CSV through the volunteer adapter and the client's batch pipeline (the chain is left out: anvil 1.7.1
    cannot hold a million issuances: ledger_node/README.md, "Engine choice"), checked at 10%, 50% and 100% of the file;
(e) the generic adapter: a CSV export read through the volunteer programme's mapping file (read, validate, rule,
    ref) straight into `issue_many`, against `issue_many` of the very items it makes, built beforehand (same
    residents, amounts, refs and reason codes), in alternating rounds like (a)/(b).

Every phase starts from the same chain state (evm_snapshot / evm_revert), so the SDK and the raw sender
face the same state size, and (a)/(b) and both halves of (c) alternate in rounds, which go raw first and
SDK first in turn, so a machine busy with other work, and whatever the order of two phases does, weighs on
both sides alike. The ratio held against the floor is over all items (total raw time / total SDK time): a
statistic of the rounds (their median is reported beside it) would let slow rounds drop out. Figures go to
BENCHMARKS.md (section "issuance") or, with --json, to stdout.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer
from eth_hash.auto import keccak

from ledger_node.domain import UINT96_MAX
from ledger_node.jsonrpc import NO_RETRY, HttpTransport

FLOOR_ITEMS_PER_S = 5_000
FLOOR_BATCH_RATIO = 0.80
FLOOR_ADAPTER_RATIO = 0.80
CEILING_SINGLE_RATIO = 1.5
SCHEME = 1


def run(*, items: int = 40_000, batch: int = 1000, singles: int = 200, residents: int = 1000, rounds: int = 5,
        memory_records: int = 1_000_000, block_time: float = 0.0, max_in_flight: int = 4, log=print) -> dict:
    from ledger_node import chain, compiler
    from ledger_node.node.anvil import AnvilProcess, free_port, write_genesis
    from ledger_node.config import NodeConfig
    from ledger_node.deploy.system import deploy_system, grant_roles, setup_scheme

    from issuer_sdk import ClientConfig, Issuance, IssuerClient, LocalSigner
    from eth_account import Account  # here, not at the top: `citypoints` imports this module at every start

    compiler.compile_all()
    load_at_start = round(os.getloadavg()[0], 2)
    home = Path(tempfile.mkdtemp(prefix="citypoints-bench-issuance-"))
    operator = Account.create()
    cfg = NodeConfig(port=free_port())
    write_genesis(home / "genesis.json", cfg, {operator.address: cfg.funding_wei})
    node = AnvilProcess(cfg, home / "genesis.json", home / "anvil.log", block_time=block_time or None)
    node.start()
    try:
        log(f"anvil on {node.url}; deploying and setting up scheme {SCHEME} with {residents} residents")
        w3 = chain.connect(node.url)
        addresses = deploy_system(w3, operator, deploy_contract=lambda n, *a: chain.deploy_contract(w3, operator, n, *a))
        contracts = {n: chain.bind(w3, n, a) for n, a in addresses.items()}
        raw_issuer, sdk_issuer, onboarding = Account.create(), Account.create(), Account.create()
        chain.fund(w3, operator, [raw_issuer.address, sdk_issuer.address, onboarding.address], 10**22)
        setup_scheme(w3, contracts, [operator], SCHEME, issuer_accounts=[raw_issuer.address, sdk_issuer.address],
                     issuer_daily_quota=UINT96_MAX, resident_daily_cap=UINT96_MAX)
        grant_roles(w3, contracts, [operator], [("ONBOARDING_ROLE", onboarding.address)])
        people = [Account.create().address for _ in range(residents)]
        membership = contracts["Membership"]
        for i in range(0, residents, 250):
            chunk = people[i:i + 250]
            chain.transact(w3, onboarding, membership.functions.registerResidents(
                chunk, [keccak(bytes.fromhex(a[2:]) + b"bench") for a in chunk]))
        ledger = contracts["PointsLedger"]
        rpc = _Rpc(node.url)
        snapshot = rpc("evm_snapshot")

        def fresh():
            """Back to the set-up state; then a pause, so the node is idle when the next timed phase starts."""
            nonlocal snapshot
            assert rpc("evm_revert", [snapshot]), "evm_revert failed"
            snapshot = rpc("evm_snapshot")
            time.sleep(0.5)
            rpc("eth_blockNumber")

        def plan(prefix: str, n: int):
            return [(people[i % residents], 1 + i % 50, f"{prefix}-{i}") for i in range(n)]

        salt = os.urandom(32)
        n_batches = max(1, items // batch)

        # (a) and (b), interleaved in rounds from the same state, so a busy machine weighs on both alike
        client = IssuerClient(node.url, ledger.address, LocalSigner(bytes(sdk_issuer.key)), SCHEME, salt,
                              config=ClientConfig(max_batch_items=batch, max_in_flight=max_in_flight))
        per_round = max(1, n_batches // rounds) * batch
        raw_gas = 0
        raw_rounds: list[float] = []
        sdk_rounds: list[float] = []
        # raw transactions are signed up front: after each evm_revert the sender's nonce is the same again
        presigned = [_presign_batches(ledger, raw_issuer, plan(f"raw{r}", per_round), batch, salt, w3.eth.chain_id)
                     for r in range(rounds)]

        def raw_phase(r: int) -> None:
            nonlocal raw_gas
            fresh()
            seconds, gas = _send_raw_all(rpc, presigned[r], raw_issuer.address, max_in_flight)
            raw_rounds.append(seconds)
            raw_gas += gas

        def sdk_phase(r: int) -> None:
            fresh()
            client.nonces.reset()
            records = plan(f"sdk{r}", per_round)
            t0 = time.perf_counter()
            summary = client.issue_many(Issuance(res, a, ref) for res, a, ref in records)
            sdk_rounds.append(time.perf_counter() - t0)
            # like with like: the SDK sent the same batches as the raw sender, none smaller for the gas limit
            assert (summary.issued, summary.batches) == (per_round, per_round // batch), summary

        log(f"{rounds} rounds of (a) raw, pre-signed issueBatch x {per_round // batch} and (b) sdk issue_many of "
            f"{per_round} items")
        _alternate(rounds, raw_phase, sdk_phase)
        total = per_round * rounds
        raw_rate = total / sum(raw_rounds)
        sdk_rate = total / sum(sdk_rounds)

        # (c) one at a time
        log(f"(c) single: {singles} raw send-and-confirm and {singles} SDK issue(), in {rounds} rounds")
        single_raw_s = single_sdk_s = 0.0
        each = max(1, singles // rounds)

        def single_raw_phase(r: int) -> None:
            nonlocal single_raw_s
            fresh()
            single_raw = _presign_singles(ledger, raw_issuer, plan(f"one-raw{r}", each), salt, w3.eth.chain_id)
            single_raw_s += _send_one_by_one(rpc, single_raw)

        def single_sdk_phase(r: int) -> None:
            nonlocal single_sdk_s
            fresh()
            client.nonces.reset()
            t0 = time.perf_counter()
            for resident, amount, ref in plan(f"one-sdk{r}", each):
                client.issue(resident, amount, ref)
            single_sdk_s += time.perf_counter() - t0

        _alternate(rounds, single_raw_phase, single_sdk_phase)
        singles = each * rounds

        # (e) the generic adapter against issue_many of the same items
        log(f"(e) generic adapter: {rounds} rounds of a {per_round}-record CSV through the volunteer mapping file "
            "into issue_many, and issue_many of the same items built beforehand")
        from issuer_sdk.adapters import adapter_for

        adapter = adapter_for("volunteer")
        exports = [_volunteer_export(home / f"adapter-{r}.csv", f"vol{r}", people, per_round) for r in range(rounds)]
        prebuilt = [[o.issuance for o in adapter.read_file(path)] for path in exports]
        t0 = time.perf_counter()
        converted = sum(1 for o in adapter.read_file(exports[0]) if not o.rejected)
        convert_rate = converted / (time.perf_counter() - t0)
        items_rounds: list[float] = []
        adapter_rounds: list[float] = []

        def items_phase(r: int) -> None:
            fresh()
            client.nonces.reset()
            t0 = time.perf_counter()
            summary = client.issue_many(prebuilt[r])
            items_rounds.append(time.perf_counter() - t0)
            assert summary.issued == per_round, summary

        def adapter_phase(r: int) -> None:
            fresh()
            client.nonces.reset()
            t0 = time.perf_counter()
            summary = client.issue_many(o.issuance for o in adapter.read_file(exports[r]) if not o.rejected)
            adapter_rounds.append(time.perf_counter() - t0)
            assert summary.issued == per_round, summary

        _alternate(rounds, items_phase, adapter_phase)
        items_rate = total / sum(items_rounds)
        adapter_rate = total / sum(adapter_rounds)
        client.close()

        hash_us = _ref_hash_cost(salt)
        result = {
            "items": total, "batch_items": batch, "residents": residents,
            "raw_items_per_s": round(raw_rate), "sdk_batch_items_per_s": round(sdk_rate),
            "sdk_batch_ratio": round(sdk_rate / raw_rate, 3),  # over all items: the figure held to the floor
            "sdk_batch_ratio_median": round(statistics.median(a / b for a, b in zip(raw_rounds, sdk_rounds)), 3),
            "round_ratios": [round(a / b, 3) for a, b in zip(raw_rounds, sdk_rounds)],
            "single_raw_ms": round(single_raw_s / singles * 1000, 3),
            "single_sdk_ms": round(single_sdk_s / singles * 1000, 3),
            "single_ratio": round(single_sdk_s / single_raw_s, 3),
            "gas_per_item": round(raw_gas / total), "rounds": rounds,
            "ref_hash_us_per_item": round(hash_us, 2),
            "ref_hash_share_at_sdk_rate": round(hash_us * 1e-6 * sdk_rate, 4),
            "load_avg_1m_at_start": load_at_start, "load_avg_1m_after_timed_phases": round(os.getloadavg()[0], 2),
            "adapter_items_per_s": round(adapter_rate), "adapter_sdk_items_per_s": round(items_rate),
            "adapter_ratio": round(adapter_rate / items_rate, 3),  # over all items: the figure held to the floor
            "adapter_ratio_median": round(statistics.median(a / b for a, b in zip(items_rounds, adapter_rounds)), 3),
            "adapter_round_ratios": [round(a / b, 3) for a, b in zip(items_rounds, adapter_rounds)],
            "adapter_convert_records_per_s": round(convert_rate), "adapter_rules_version": adapter.rules_version,
            "block_time_s": block_time, "max_in_flight": max_in_flight,
            "items_per_block_at_gas_limit": int(cfg.gas_limit // max(raw_gas / total, 1)),
        }
    finally:
        node.stop()
    if memory_records:
        log(f"(d) memory: {memory_records:,}-record CSV through adapter, hashing, encoding and signing")
        result.update(_memory_run(memory_records, home))
    result["floors"] = {
        "sdk_batch_items_per_s>=5000": result["sdk_batch_items_per_s"] >= FLOOR_ITEMS_PER_S,
        "sdk_batch_ratio>=0.80": result["sdk_batch_ratio"] >= FLOOR_BATCH_RATIO,
        "single_ratio<=1.5": result["single_ratio"] <= CEILING_SINGLE_RATIO,
        "adapter_ratio>=0.80": result["adapter_ratio"] >= FLOOR_ADAPTER_RATIO,
    }
    return result


def command(as_json: bool = False, items: int = 40_000, batch: int = 1000, singles: int = 200,
            residents: int = 1000, rounds: int = 5, memory_records: int = 1_000_000, block_time: float = 0.0,
            max_in_flight: int = 4) -> dict:
    """What `citypoints bench issuance` calls: run, update BENCHMARKS.md, print JSON or the table."""
    log = (lambda *_: None) if as_json else (lambda m: print(m, file=sys.stderr))
    result = run(items=items, batch=batch, singles=singles, residents=residents, rounds=rounds,
                 memory_records=memory_records, block_time=block_time, max_in_flight=max_in_flight, log=log)
    from scripts.benchmarks import update_section

    update_section("issuance", markdown(result))
    print(json.dumps(result) if as_json else markdown(result))
    return result


def bench_issuance_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object only."),
    items: int = typer.Option(40_000, help="Items issued by each of the raw sender and issue_many."),
    batch: int = typer.Option(1000, help="Items per issueBatch transaction."),
    singles: int = typer.Option(200, help="One-at-a-time issues by each of the raw sender and the SDK."),
    residents: int = typer.Option(1000, help="Registered residents the items go to (round-robin)."),
    rounds: int = typer.Option(5, help="Raw and SDK phases alternate this many times."),
    memory_records: int = typer.Option(1_000_000, help="Records in the memory run's CSV (0 skips it)."),
    block_time: float = typer.Option(0.0, help="anvil --block-time in seconds (0: automine, the engine's ceiling)."),
    max_in_flight: int = typer.Option(4, help="The SDK's batches in flight."),
):
    """Measure issuance: raw JSON-RPC ceiling, SDK issue_many, one-at-a-time issue, memory on a 1M-record file."""
    command(as_json=as_json, items=items, batch=batch, singles=singles, residents=residents, rounds=rounds,
            memory_records=memory_records, block_time=block_time, max_in_flight=max_in_flight)


def markdown(r: dict) -> str:
    from scripts.benchmarks import table

    ok = lambda flag: "met" if flag else "**NOT met**"  # noqa: E731
    f = r["floors"]
    rows = [
        ("raw ceiling: pre-signed `issueBatch` by plain JSON-RPC", f"{r['raw_items_per_s']:,} items/s",
         f"{r['items']:,} items, {r['batch_items']:,} a transaction"),
        ("SDK `issue_many`", f"{r['sdk_batch_items_per_s']:,} items/s",
         f"floor 5,000/s: {ok(f['sdk_batch_items_per_s>=5000'])}"),
        ("SDK `issue_many` / raw ceiling (all items)", f"{r['sdk_batch_ratio']:.2f}",
         f"floor 0.80: {ok(f['sdk_batch_ratio>=0.80'])}; median of rounds {r['sdk_batch_ratio_median']:.2f}; "
         f"rounds {', '.join(f'{x:.2f}' for x in r['round_ratios'])}; {r['max_in_flight']} in flight on both sides"),
        ("one `issue`, raw send-and-confirm", f"{r['single_raw_ms']:.2f} ms", "pre-signed"),
        ("one `issue`, SDK send-and-confirm", f"{r['single_sdk_ms']:.2f} ms",
         f"ratio {r['single_ratio']:.2f}, ceiling 1.5: {ok(f['single_ratio<=1.5'])}"),
        ("generic adapter: CSV through the volunteer mapping file into `issue_many`",
         f"{r['adapter_items_per_s']:,} items/s",
         f"`issue_many` of the same items built beforehand (reason codes too): {r['adapter_sdk_items_per_s']:,} "
         f"items/s; the adapter alone converts {r['adapter_convert_records_per_s']:,} records/s"),
        ("generic adapter / SDK `issue_many` (all items)", f"{r['adapter_ratio']:.2f}",
         f"floor 0.80: {ok(f['adapter_ratio>=0.80'])}; median of rounds {r['adapter_ratio_median']:.2f}; "
         f"rounds {', '.join(f'{x:.2f}' for x in r['adapter_round_ratios'])}; rules {r['adapter_rules_version']}"),
        ("gas per issued item (1,000-item batches)", f"{r['gas_per_item']:,}",
         f"a block at the node's gas limit holds {r['items_per_block_at_gas_limit']:,} issuances"),
        ("ref hashing (keccak of salt + ref)", f"{r['ref_hash_us_per_item']} µs/item",
         f"{r['ref_hash_share_at_sdk_rate']:.1%} of one core at the SDK rate"),
    ]
    if "memory_peak_rss_mb" in r:
        marks = ", ".join(f"{k}: {v} MB" for k, v in r["memory_rss_checkpoints_mb"].items())
        rows.append((f"peak RSS, {r['memory_records']:,}-record CSV (read, validate, hash, encode, sign)",
                     f"{r['memory_peak_rss_mb']} MB", f"RSS at {marks}; {r['memory_items_per_s']:,} records/s"))
    mining = "automine" if not r["block_time_s"] else f"block time {r['block_time_s']} s"
    notes = (f"Machine load (1-minute average) when the run started: {r['load_avg_1m_at_start']}, after the timed "
             f"phases: {r['load_avg_1m_after_timed_phases']}, on {os.cpu_count()} cores; other work on the machine "
             "slows both sides, the SDK more (it needs CPU beside the node's). Raw sender and SDK issue the same "
             f"number of items in the same {r['batch_items']:,}-item batches with at most {r['max_in_flight']} in "
             "flight, in rounds that alternate which goes first; the ratio held to the floor is over all items. Each "
             f"phase starts from the same chain state (evm_snapshot/evm_revert) on a fresh anvil 1.7.1 ({mining}), "
             "scheme quota and cap unlimited, residents round-robin. The 1,000,000-record memory run leaves the chain "
             "out (anvil 1.7.1 slows with every stored slot: ledger_node/README.md, Engine choice): it measures the SDK's own pipeline in a "
             "child process. The generic adapter's ratio compares it with `issue_many` of the very items it makes "
             "(reason codes included, so both send `issueBatchWithReason`), in rounds alternating which goes first; "
             "its span includes reading and checking the CSV.")
    return table(rows) + "\n\n" + notes


def _volunteer_export(path: Path, prefix: str, people: list[str], n: int) -> Path:
    """A volunteer programme's CSV export of n valid records (1.5 to 5.5 hours, every activity), for phase (e)."""
    import datetime

    day = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    activities = ("care", "teaching", "environment", "events", "other")
    with open(path, "w") as f:
        f.write("record_id,resident,hours,confirmed_by,date,activity\n")
        for i in range(n):
            f.write(f"{prefix}-{i},{people[i % len(people)]},{1 + i % 5}.5,organiser-{i % 40},{day},"
                    f"{activities[i % 5]}\n")
    return path


def _alternate(rounds: int, raw_phase, sdk_phase) -> None:
    """Both phases each round: raw first in even rounds, the SDK first in odd ones."""
    for r in range(rounds):
        for phase in ((raw_phase, sdk_phase) if r % 2 == 0 else (sdk_phase, raw_phase)):
            phase(r)


# -- raw sender ----------------------------------------------------------------------------------------------------

class _Rpc:
    """Plain JSON-RPC (the project's transport, one keep-alive connection, no retries): the raw baseline the SDK
    is compared with."""

    def __init__(self, url: str):
        self.transport = HttpTransport(url, timeout=300, retry=NO_RETRY)

    def __call__(self, method: str, params: list | None = None):
        answer = self.transport.call(method, params)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]


def _presign_batches(ledger, issuer, records, batch: int, salt: bytes, chain_id: int) -> list[bytes]:
    from web3 import Web3

    nonce = ledger.w3.eth.get_transaction_count(issuer.address, "pending")
    raws = []
    for i in range(0, len(records), batch):
        chunk = records[i:i + batch]
        data = ledger.encode_abi("issueBatch", [SCHEME, [Web3.to_checksum_address(r) for r, _, _ in chunk],
                                                [a for _, a, _ in chunk], [keccak(salt + f.encode()) for *_, f in chunk]])
        raws.append(bytes(issuer.sign_transaction({
            "chainId": chain_id, "nonce": nonce, "to": ledger.address, "data": data, "gas": 80_000 * len(chunk),
            "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "value": 0}).raw_transaction))
        nonce += 1
    return raws


def _presign_singles(ledger, issuer, records, salt: bytes, chain_id: int) -> list[bytes]:
    nonce = ledger.w3.eth.get_transaction_count(issuer.address, "pending")
    raws = []
    for resident, amount, ref in records:
        data = ledger.encode_abi("issue", [SCHEME, resident, amount, keccak(salt + ref.encode())])
        raws.append(bytes(issuer.sign_transaction({
            "chainId": chain_id, "nonce": nonce, "to": ledger.address, "data": data, "gas": 400_000,
            "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "value": 0}).raw_transaction))
        nonce += 1
    return raws


def _send_raw_all(rpc: _Rpc, raws: list[bytes], sender: str, window: int) -> tuple[float, int]:
    """Send the transactions, at most `window` unmined at a time (as the SDK's max_in_flight), and poll the
    sender's mined count until the last is in: the node's own ceiling, with nothing read back inside the
    timed span. Receipts are checked afterwards, untimed. Returns (seconds, gas used)."""
    start = int(rpc("eth_getTransactionCount", [sender, "latest"]), 16)
    mined = start
    t0 = time.perf_counter()
    hashes = []
    for raw in raws:
        while start + len(hashes) - mined >= window:
            time.sleep(0.001)
            mined = int(rpc("eth_getTransactionCount", [sender, "latest"]), 16)
        hashes.append(rpc("eth_sendRawTransaction", ["0x" + raw.hex()]))
    while mined < start + len(raws):
        time.sleep(0.001)
        mined = int(rpc("eth_getTransactionCount", [sender, "latest"]), 16)
    elapsed = time.perf_counter() - t0
    receipts = [_mined_receipt(rpc, h) for h in hashes]
    bad = [rc["transactionHash"] for rc in receipts if rc["status"] != "0x1"]
    if bad:
        raise RuntimeError(f"{len(bad)} raw batches reverted, e.g. {bad[0]}")
    return elapsed, sum(int(rc["gasUsed"], 16) for rc in receipts)


def _mined_receipt(rpc: _Rpc, h: str) -> dict:
    """The receipt of a transaction the sender's count says is mined: anvil counts it a moment before it serves
    the block that holds it."""
    while not (receipt := rpc("eth_getTransactionReceipt", [h])):
        time.sleep(0.001)
    return receipt


def _send_one_by_one(rpc: _Rpc, raws: list[bytes]) -> float:
    t0 = time.perf_counter()
    for raw in raws:
        h = rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
        pause = 0.0005
        while not (rc := rpc("eth_getTransactionReceipt", [h])):
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        if rc["status"] != "0x1":
            raise RuntimeError(f"raw issue {h} reverted")
    return time.perf_counter() - t0


def _ref_hash_cost(salt: bytes, n: int = 200_000) -> float:
    from issuer_sdk.refs import RefHasher

    h = RefHasher(salt)
    t0 = time.perf_counter()
    for i in range(n):
        h(f"volunteer-{i}")
    return (time.perf_counter() - t0) / n * 1e6


# -- memory --------------------------------------------------------------------------------------------------------

_MEMORY_CHILD = r"""
import json, resource, sys, time
from eth_account import Account
from issuer_sdk.adapters import adapter_for
from issuer_sdk.client import prepare_batches
from issuer_sdk.encoding import UnsignedTx
from issuer_sdk.ledger import LedgerCodec, load_abi
from issuer_sdk.refs import RefHasher
from issuer_sdk.sequence_book import SequenceBook
from issuer_sdk.signer import LocalSigner, sign_tx

path, total = sys.argv[1], int(sys.argv[2])
book = SequenceBook(path + ".book.sqlite")  # every new id numbered durably, as the SDK does
signer = LocalSigner(bytes(Account.create().key))
codec, hasher, adapter = LedgerCodec(load_abi()), RefHasher(b"\x01" * 32), adapter_for("volunteer")
rss_mb = lambda: round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
marks, done, rejected = {}, 0, 0
checkpoints = {total // 10: "10%", total // 2: "50%", total: "100%"}

def issuances():
    global rejected
    for outcome in adapter.read_file(path):
        if outcome.rejected:
            rejected += 1
        else:
            yield outcome.issuance

t0 = time.perf_counter()
for nonce, prepared in enumerate(prepare_batches(issuances(), 1000, 1, hasher, codec, book.assign)):
    sign_tx(signer, UnsignedTx(7007, nonce, 80_000_000, b"\x11" * 20, prepared.data))
    before, done = done, done + len(prepared.items)
    for at, name in checkpoints.items():
        if before < at <= done:
            marks[name] = rss_mb()
elapsed = time.perf_counter() - t0
print(json.dumps({"marks": marks, "peak": rss_mb(), "done": done, "rejected": rejected,
                  "rate": round(done / elapsed)}))
"""


def _memory_run(n: int, home: Path) -> dict:
    from eth_account import Account

    path = home / "volunteer-1m.csv"
    with open(path, "w") as f:
        f.write("record_id,resident,hours,confirmed_by,date,activity\n")
        people = [Account.create().address for _ in range(1000)]
        for i in range(n):
            f.write(f"v{i},{people[i % 1000]},{1 + i % 8}.5,organiser-{i % 40},2026-10-{1 + i % 28:02d},"
                    f"{('care', 'teaching', 'environment', 'events')[i % 4]}\n")
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(path), str(n)], capture_output=True, text=True,
                         check=False, cwd=str(Path(__file__).resolve().parent.parent))
    if out.returncode != 0:
        raise RuntimeError(f"memory run failed: {out.stderr[-2000:]}")
    child = json.loads(out.stdout.strip().splitlines()[-1])
    path.unlink()
    return {"memory_records": child["done"], "memory_peak_rss_mb": child["peak"],
            "memory_rss_checkpoints_mb": child["marks"], "memory_items_per_s": child["rate"]}


if __name__ == "__main__":  # pragma: no cover
    command(as_json="--json" in sys.argv)
