"""`citypoints bench flood [--json]`: merchant redemptions through the API while 50 clients flood the node's public
port with heavy `eth_call`s, beside the same redemptions without the flood.

The set-up is `citypoints bench api`'s (scripts/bench_api.py): the embedded durable node with 1-second blocks, its
city (50 merchants, 4 relayer accounts, 300 residents) and the API. Then twice, each for SECONDS at RATE
redemptions a second (open loop: each request sent at its scheduled moment, latency counted from that moment;
pending answers, as a till would ask):
1. quiet: nothing else;
2. flood: 50 clients, each from its own loopback address (127.0.0.2 to 127.0.0.51, as 50 machines would be; the
   node limits reads per source address; the API, at 127.0.0.1, is not trusted: the node's defaults), call
   `eth_call` back to back on the public port: half with no gas given
   (the node's gas cap then) and half with a fifth of it, all hashing memory, the slowest EVM work per gas found
   (ledger_node/node/read_gate.py).
Reported: redemption p50/p99 both ways and the ratio of the p99s (floor: at most 2), block lateness (the longest
wait between two blocks beyond the 1-second period; transactions are pending all along, so every period should
bring a block) and how the node answered the flood. Writes the "flood" section of BENCHMARKS.md.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import shutil
import tempfile
import time
from pathlib import Path

RATE = 100          # redemptions/s offered in each phase
SECONDS = 10        # each phase
FLOOD_CLIENTS = 50
PERIOD_S = 1.0
HASHING = "0x5b61200060002050600056"  # init code: hash 8 KB of memory until out of gas


def main(as_json: bool = False) -> dict:
    from ledger_node.config import NodeConfig
    from scripts.bench_api import City, _Node, start_api, stop_api

    log = (lambda *a: None) if as_json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    work = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    load_before = os.getloadavg()[0]
    node = _Node("durable", work)
    api_proc = None
    try:
        log("deploying and building the city...")
        city = City(node)
        consents = city.consents(2 * RATE * SECONDS)
        api_proc, url, keys = start_api(city, node.url, work)
        gas_cap = NodeConfig.from_env().rpc_gas_cap
        log(f"quiet: {RATE} redemptions/s for {SECONDS} s...")
        quiet = asyncio.run(_phase(url, node.url, keys, consents[:RATE * SECONDS], flood_gas=None))
        log(f"flood: the same with {FLOOD_CLIENTS} clients calling eth_call back to back...")
        flood = asyncio.run(_phase(url, node.url, keys, consents[RATE * SECONDS:], flood_gas=gas_cap))
        result = {
            "redeem_p50_ms_quiet": quiet["p50"], "redeem_p99_ms_quiet": quiet["p99"],
            "redeem_p50_ms_flood": flood["p50"], "redeem_p99_ms_flood": flood["p99"],
            "p99_ratio": round(flood["p99"] / quiet["p99"], 2) if quiet["p99"] else None,
            "block_late_max_ms_quiet": quiet["late_ms"], "block_late_max_ms_flood": flood["late_ms"],
            "blocks_quiet": quiet["blocks"], "blocks_flood": flood["blocks"],
            "redeem_errors": {**quiet["errors"], **{f"flood:{k}": v for k, v in flood["errors"].items()}},
            "achieved_rate_quiet": quiet["rate"], "achieved_rate_flood": flood["rate"],
            "flood_calls_answered": flood["flood_answered"], "flood_calls_limited": flood["flood_limited"],
            "flood_clients": FLOOD_CLIENTS, "gas_cap": gas_cap, "rate_per_s": RATE, "seconds": SECONDS,
            "block_period_s": PERIOD_S, "load_average_1m_before": round(load_before, 2),
            "load_average_1m_after": round(os.getloadavg()[0], 2), "cores": len(os.sched_getaffinity(0)),
        }
        _write_section(result)
        print(json.dumps(result, indent=None if as_json else 2))
        return result
    finally:
        stop_api(api_proc)
        node.stop()
        shutil.rmtree(work, ignore_errors=True)  # a city's node and store: ~60 MB a run


async def _phase(url: str, node_url: str, keys: list[str], consents: list[dict], *, flood_gas: int | None) -> dict:
    """Redemptions at RATE/s (open loop), blocks watched throughout; with `flood_gas`, the flood alongside."""
    import aiohttp

    from ledger_node.jsonrpc import NO_RETRY, AsyncHttpTransport
    from scripts.bench_api import MERCHANTS, _drain, _pct

    stop = asyncio.Event()
    arrivals: list[float] = []
    counts = {"answered": 0, "limited": 0}
    errors: dict[str, int] = {}
    latencies: list[float] = []

    async def watch():
        node = AsyncHttpTransport(node_url, retry=NO_RETRY)
        height = None
        try:
            while not stop.is_set():
                h = (await node.call("eth_blockNumber"))["result"]
                if h != height:
                    arrivals.append(time.monotonic())
                    height = h
                await asyncio.sleep(0.01)
        finally:
            await node.aclose()

    async def flooder(k: int):
        """A hostile client, not one of ours: raw requests back to back, each flooder from a source address of
        its own (127.0.0.k), so the node's per-source limits are what is measured."""
        call = {"data": HASHING} if k % 2 else {"data": HASHING, "gas": hex(flood_gas // 5)}
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest"]}
        connector = aiohttp.TCPConnector(limit=1, local_addr=(f"127.0.0.{k + 2}", 0))
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as s:
            while not stop.is_set():
                async with s.post(node_url, json=body) as r:
                    answer = await r.json()
                limited = answer.get("error", {}).get("code") == -32005
                counts["limited" if limited else "answered"] += 1

    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=2 * MERCHANTS)) as client:
        async def redeem(k, c, due):
            try:
                async with client.post("/v1/redemptions", json={**c, "wait": False},
                                       headers={"Authorization": f"Bearer {keys[k]}",
                                                "Idempotency-Key": c["nonce"]}) as r:
                    body = await r.read()
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.append(time.perf_counter() - due)
            if r.status != 202:
                try:
                    code = json.loads(body).get("error", {}).get("code", str(r.status))
                except ValueError:
                    code = str(r.status)
                errors[code] = errors.get(code, 0) + 1

        background = [asyncio.create_task(watch())]
        if flood_gas:
            background += [asyncio.create_task(flooder(k)) for k in range(FLOOD_CLIENTS)]
            await asyncio.sleep(2 * PERIOD_S)  # the flood under way before the clock starts
        watched_from = time.monotonic()
        tasks = []
        t0 = time.perf_counter()
        for i, c in enumerate(consents):
            due = t0 + i / RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(redeem(i % MERCHANTS, c, due)))
        await asyncio.gather(*tasks)
        rate = len(consents) / (time.perf_counter() - t0)
        watched_to = time.monotonic()
        stop.set()
        await asyncio.gather(*background)
        await _drain(client)
    seen = [t for t in arrivals if watched_from <= t <= watched_to]
    late = max((b - a - PERIOD_S for a, b in zip(seen, seen[1:])), default=0.0)
    return {"p50": _pct(latencies, 0.5), "p99": _pct(latencies, 0.99), "rate": round(rate, 1), "errors": errors,
            "late_ms": round(max(0.0, late) * 1000), "blocks": len(seen),
            "flood_answered": counts["answered"], "flood_limited": counts["limited"]}


def _write_section(r: dict) -> None:
    from scripts.benchmarks import table, update_section
    rows = [
        (f"redeem latency p50 / p99 at {RATE}/s offered, no flood (pending answers)",
         f"{r['redeem_p50_ms_quiet']} / {r['redeem_p99_ms_quiet']} ms", f"achieved {r['achieved_rate_quiet']}/s"),
        (f"the same while {FLOOD_CLIENTS} clients flood eth_calls",
         f"{r['redeem_p50_ms_flood']} / {r['redeem_p99_ms_flood']} ms", f"achieved {r['achieved_rate_flood']}/s"),
        ("p99 under the flood / p99 without", f"{r['p99_ratio']}", "floor <= 2"),
        ("block lateness beyond the 1 s period, max: no flood / flood",
         f"{r['block_late_max_ms_quiet']} / {r['block_late_max_ms_flood']} ms",
         f"floor <= {int(PERIOD_S * 1000)} ms (no block late by more than a period); "
         f"{r['blocks_quiet']} / {r['blocks_flood']} blocks"),
        ("flood calls answered (ran, out of gas) / limited (-32005)",
         f"{r['flood_calls_answered']} / {r['flood_calls_limited']}", f"gas cap {r['gas_cap']:,}"),
        ("refused redemptions", json.dumps(r["redeem_errors"]) or "{}", "expected none"),
    ]
    body = (table(rows) + f"\n\nThe `api` benchmark's set-up (the embedded durable node, 1-second blocks, one uvicorn "
            f"worker, SQLite, 4 relayer accounts); {FLOOD_CLIENTS} flood clients each from its own loopback address, "
            f"half calling with no gas given (the cap), half with a fifth of it; load generator and flood on the same "
            f"machine (load average {r['load_average_1m_before']} before, {r['load_average_1m_after']} after, on "
            f"{r['cores']} cores).\n\n```json\n{json.dumps(r)}\n```")
    update_section("flood", body)


if __name__ == "__main__":
    main("--json" in sys.argv)
