"""A point-of-sale sale, from the resident's approval to "paid" at the till (issue 22's floor: at most 2 block
periods at p99), against the embedded durable node with 1-second blocks and the API as `make up` runs them.

Tills sign in as the POS page does (POST /v1/pos/session: the session cookie, the CSRF header on changes), ask for
a payment (POST /v1/redemption_requests), follow it as the page does (GET .../events, server-sent events); a
resident signs the request's consent and approves (POST .../approve, answered at once); the figure is the time
from the approval leaving the resident to the till receiving `paid` (the page draws the receipt on that event:
tests/pos/test_pos_page.py measured the drawing itself at a few ms). The city, the node and the API are
scripts/bench_api.py's. Run: `python -m scripts.bench_pos [--tills 10] [--sales 10]`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress

from scripts.bench_api import City, _Node, _pct, start_api, stop_api

POS = {"X-CityPoints-POS": "1"}
BLOCK_PERIOD_S = 1.0


async def till(url: str, key: str, residents: list, sales: int, chain_id: int, progress, task) -> list[dict]:
    from ledger_node.typed_data import sign
    out = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        resp = await client.post("/v1/pos/session", json={"apiKey": key})
        resp.raise_for_status()
        for i in range(sales):
            resident = residents[i % len(residents)]
            t_ask = time.perf_counter()
            resp = await client.post("/v1/redemption_requests", headers=POS,
                                     json={"resident": resident.address, "credits": 10, "orderRef": f"Counter · {i}"})
            resp.raise_for_status()
            req = resp.json()
            opened = asyncio.Event()
            seen: dict = {}

            async def follow():
                async with client.stream("GET", f"/v1/redemption_requests/{req['id']}/events") as stream:
                    async for line in stream.aiter_lines():
                        if line.startswith("data: "):
                            status = json.loads(line[6:])["status"]
                            seen.setdefault(status, time.perf_counter())
                            opened.set()
            follower = asyncio.create_task(follow())
            await asyncio.wait_for(opened.wait(), 10)
            signature = "0x" + sign(resident, req["typedData"]).hex()
            t_approve = time.perf_counter()
            resp = await client.post(f"/v1/redemption_requests/{req['id']}/approve",
                                     json={"signature": signature, "parts": req["typedData"]["message"]["parts"],
                                           "wait": False})
            resp.raise_for_status()
            await asyncio.wait_for(follower, 30)
            if "paid" not in seen:
                raise RuntimeError(f"sale {req['id']} ended {list(seen)}, not paid")
            out.append({"approve_to_paid_s": seen["paid"] - t_approve, "ask_to_paid_s": seen["paid"] - t_ask})
            progress.advance(task)
    return out


async def run_tills(url: str, keys: list[str], city: City, tills: int, sales: int, progress) -> list[dict]:
    task = progress.add_task("sales", total=tills * sales)
    per = len(city.residents) // tills
    results = await asyncio.gather(*[
        till(url, keys[k], city.residents[k * per:(k + 1) * per], sales, city.chain_id, progress, task)
        for k in range(tills)])
    return [r for rs in results for r in rs]


def main(tills: int = 10, sales: int = 10) -> dict:
    console = Console(stderr=True)
    work = Path(tempfile.mkdtemp(prefix="bench-pos-"))
    node = _Node("durable", work)
    api_proc = None
    try:
        console.log("deploying and building the city (durable node, then 1-second blocks)...")
        city = City(node)
        api_proc, url, keys = start_api(city, node.url, work)
        console.log(f"{tills} tills, {sales} sales each, side by side...")
        with Progress(console=console) as progress:
            rows = asyncio.run(run_tills(url, keys, city, tills, sales, progress))
    finally:
        stop_api(api_proc)
        node.stop()
    a2p = [r["approve_to_paid_s"] for r in rows]  # seconds; _pct answers ms
    k2p = [r["ask_to_paid_s"] for r in rows]
    result = {"sales": len(rows), "tills": tills, "block_period_s": BLOCK_PERIOD_S,
              "approve_to_paid_p50_ms": _pct(a2p, 0.5), "approve_to_paid_p99_ms": _pct(a2p, 0.99),
              "approve_to_paid_max_ms": round(max(a2p) * 1000, 1),
              "ask_to_paid_p50_ms": _pct(k2p, 0.5), "ask_to_paid_p99_ms": _pct(k2p, 0.99),
              "floor_ms": 2 * BLOCK_PERIOD_S * 1000}
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tills", type=int, default=10)
    parser.add_argument("--sales", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(main(args.tills, args.sales), indent=2))
