"""`citypoints bench api [--json]`: the Exchange API under load, beside the raw node's own limit in the same run.

On a node of its own with 1-second blocks: the embedded durable node that `make up` runs (gateway, journal
fsynced before a hash is returned, anvil behind it), or with `--node anvil` bare anvil, to see what the durability
layer costs the API. The service as `citypoints serve` runs it (exchange_api/service.py): every request through
the front, redemptions to the API process, balance reads to the read process. A fresh deployment and a city of 50
merchants, 4 relayer accounts and a few hundred residents:
1. raw: pre-signed `redeem` transactions sent straight by JSON-RPC, as fast as the node takes them -> tx/s;
2. API, saturated: 50 merchants POST /v1/redemptions back to back (pending answers, Idempotency-Key), as many
   as the service takes -> its capacity in redemptions/s (and the latency of a queue that deep);
3. API at the floor's rate: the same 50 merchants redeem 200 times a second in all, each request sent at its
   scheduled moment whether or not earlier ones were answered (open loop: latency counts from the scheduled
   moment, so a stalled service cannot hide its queue) -> achieved rate, p50/p99;
   then confirmed answers (wait for the block) -> p50/p99; the indexer's lag is sampled throughout;
4. balances: 200 concurrent clients (one connection each) -> saturated reads/s, and p50/p99 when each client
   reads once a second (open loop, as a wallet page refreshing), from a process of their own (their phones), as
   the same reads during a burst of redemptions in phase 3 are (the merchants' sends would delay them in one loop).
5. catalogue browse: 1,000 offers of the 50 merchants, then GET /v1/catalogue/offers 200 times a second (open
   loop; first pages with and without filters, and second pages by cursor, as residents browse) -> p50/p99.
All of it `--runs` times (5 by default), each on a fresh node, city and API: the paced p99's floor (200 ms) must
hold in each run, so the section gives every run's p99 and their maximum beside the last run's figures.
Writes the "api" section of BENCHMARKS.md.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import shutil
import tempfile
import time
from pathlib import Path

from ledger_node.audit.pipeline import no_gc_pauses

MERCHANTS = 50
RELAYERS = 4
RESIDENTS = 300
RAW_TX = 2000  # about four 1-second blocks' worth: the last block's wait weighs less on the figure
RAW_BATCH = 50
SATURATED_REDEMPTIONS = 1500
FLOOR_RATE = 200  # redemptions/s offered in the open-loop phase (the issue's floor)
PACED_SECONDS = 10
BURST_SECONDS = 5  # redemptions at FLOOR_RATE again, while residents read their balances (BALANCE_CLIENTS each a second)
CONFIRMED_SAMPLE = 60
BALANCE_READS = 4000
BALANCE_CLIENTS = 200
BALANCE_PERIOD_S = 1.0  # each client's refresh period in the open-loop phase
BALANCE_PACED_SECONDS = 10
CATALOGUE_OFFERS = 1000  # 20 per merchant
CATALOGUE_RATE = 200  # catalogue reads/s offered (the issue's floor: p99 <= 20 ms at this rate)
CATALOGUE_SECONDS = 10


NODES = ("durable", "anvil")


class _Node:
    """The node under the API: its URL, a funded operator, its processes (for CPU), block production."""

    def __init__(self, kind: str, work: Path):
        from eth_account import Account

        from ledger_node.node.anvil import AnvilProcess, free_port, write_genesis
        from ledger_node.config import NodeConfig
        from ledger_node.harness import SupervisedNode

        if kind not in NODES:
            raise SystemExit(f"--node: one of {', '.join(NODES)}")
        self.kind = kind
        if kind == "durable":
            self._node = SupervisedNode(work / "node", block_period=1.0)
            self._node.start()
            self.url = self._node.url
            self.operator = Account.from_key((work / "node" / "var" / "keys" / "operator.key").read_text().strip())
            self._node.operator("evm_setAutomine", [True])  # the city is built at once; timed phases get 1 s blocks
        else:
            self.operator = Account.create()
            cfg = NodeConfig(port=free_port())
            write_genesis(work / "genesis.json", cfg, {self.operator.address: 10**30})
            self._node = AnvilProcess(cfg, work / "genesis.json", work / "anvil.log", block_time=1.0)
            self._node.start()
            self.url = self._node.url

    def block_period(self) -> None:
        """From here on, a block a second (the durable node mined at once while the city was built)."""
        if self.kind == "durable":
            self._node.operator("evm_setIntervalMining", [1.0])

    def pids(self) -> list[int]:
        """The node's processes: the durable node's supervisor (gateway) and its engine, or anvil."""
        pid = self._node.proc.pid
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        return [pid, *map(int, children)]

    def stop(self) -> None:
        self._node.stop()


class City:
    """The benchmark's city on a node: its contracts, 50 merchants, 4 relayer accounts, residents holding points."""

    def __init__(self, node: _Node):
        from eth_account import Account
        from web3 import Web3

        from ledger_node import chain
        from ledger_node.deploy.command import deploy_all
        from ledger_node.deploy.system import call, propose_and_execute

        operator = node.operator
        w3 = chain.connect(node.url)
        self.addresses = deploy_all(w3, operator)
        c = {n: chain.bind(w3, n, a) for n, a in self.addresses.items()}
        self.merchants = merchants = [Account.create() for _ in range(MERCHANTS)]
        self.relayers = relayers = [Account.create() for _ in range(RELAYERS)]
        onboarding, issuer = Account.create(), Account.create()
        self.residents = residents = [Account.create() for _ in range(RESIDENTS)]
        chain.fund(w3, operator, [a.address for a in relayers + [onboarding, issuer]], 10**21)
        m = c["Membership"]
        role = lambda n: getattr(m.functions, n)().call()  # noqa: E731
        propose_and_execute(w3, c["Consortium"], [operator], [
            call(c["PointsLedger"], "addScheme", 1, 10**12, 10**9),
            call(m, "setIssuerAccounts", 1, [issuer.address]),
            call(c["Rates"], "setInitialRate", 1, 10_000_000),
            *[call(m, "registerMerchant", x.address) for x in merchants],
            *[call(m, "grantRole", role("RELAYER_ROLE"), r.address) for r in relayers],
            call(m, "grantRole", role("ONBOARDING_ROLE"), onboarding.address),
        ])
        who = [r.address for r in residents]
        chain.transact(w3, onboarding, m.functions.registerResidents(who, [Web3.keccak(text=f"b:{a}") for a in who]))
        chain.transact(w3, issuer, c["PointsLedger"].functions.issueBatch(
            1, who, [100_000] * len(who), [Web3.keccak(text=f"bench:{i}") for i in range(len(who))]))
        self.w3 = w3
        self.chain_id = w3.eth.chain_id
        self.redemption = c["Redemption"].address
        node.block_period()

    def consents(self, n: int, offset: int = 0) -> list[dict]:
        """`n` signed redemption consents of 10 credits, resident and merchant taken in turn."""
        return [_consent(self.chain_id, self.redemption, self.residents[i % RESIDENTS], self.merchants[i % MERCHANTS],
                         10) for i in range(offset, offset + n)]


def start_api(city: City, node_url: str, work: Path) -> tuple[subprocess.Popen, str, list[str]]:
    """The service as `citypoints serve` runs it (exchange_api/service.py: the front on a free port, the API process,
    one uvicorn worker with SQLite and the city's relayer keys, and the read process behind it), ready and indexed
    to the node's head: its process (the front's, which stops the others), its URL and one API key per merchant."""
    from ledger_node.node.anvil import free_port

    deployment = {"chainId": city.chain_id, "rpcUrl": node_url, "startBlock": 0,
                  "contracts": {k: v for k, v in city.addresses.items()}}
    (work / "deployment.json").write_text(json.dumps(deployment))
    port = free_port()
    db_url = f"sqlite:///{work / 'api.db'}"
    from exchange_api.merchant_keys import import_key
    from exchange_api.store.db import Store
    store = Store(db_url)
    store.migrate()
    keys = []
    with store.session() as s:
        for i, mer in enumerate(city.merchants):
            key = "cpk_" + secrets.token_urlsafe(24)
            import_key(s, mer.address, f"bench-{i}", key)
            keys.append(key)
    store.dispose()
    env = {**os.environ, "CITYPOINTS_DATABASE_URL": db_url, "CITYPOINTS_PORT": str(port),
           "CITYPOINTS_DEPLOYMENT_FILE": str(work / "deployment.json"), "CITYPOINTS_DEV_SECRETS": "false",
           "CITYPOINTS_PII_KEY": base64.b64encode(os.urandom(32)).decode(),
           "CITYPOINTS_IDENTITY_HMAC_KEY": base64.b64encode(os.urandom(32)).decode(),
           "CITYPOINTS_RELAYER_KEYS": ",".join(r.key.hex() for r in city.relayers),
           "CITYPOINTS_RATE_LIMIT_PER_S": "10000", "CITYPOINTS_RATE_LIMIT_BURST": "10000",
           "CITYPOINTS_HOST": "127.0.0.1"}
    api_proc = subprocess.Popen([sys.executable, "-m", "exchange_api.service"], env=env,
                                stdout=open(work / "api.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, api_proc)
        _wait_indexed(url, node_url)
    except BaseException:
        stop_api(api_proc)
        raise
    return api_proc, url, keys


def stop_api(api_proc: subprocess.Popen | None) -> None:
    """SIGTERM to the front, which stops both processes behind it (a front killed takes them with it)."""
    if api_proc is not None:
        api_proc.terminate()
        try:
            api_proc.wait(45)
        except subprocess.TimeoutExpired:
            api_proc.kill()
            api_proc.wait()


def service_pids(api_proc: subprocess.Popen) -> dict[str, int]:
    """The service's processes: the front (`api_proc`), the API process and the read process (its children)."""
    pids = {"front": api_proc.pid}
    children = subprocess.run(["pgrep", "-P", str(api_proc.pid)], capture_output=True, text=True).stdout.split()
    for pid in map(int, children):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        pids["reads" if b"create_read_app" in cmdline else "api"] = pid
    return pids


def main(as_json: bool = False, node_kind: str = "durable", runs: int = 5) -> dict:
    """`runs` consecutive runs, each on a fresh node, deployment and API: the figures of the last, with the paced
    p99 (and the balance reads' p99 during the burst) of every run beside them; the p99 floor holds in each."""
    log = (lambda *a: None) if as_json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    each = []
    for i in range(runs):
        log(f"run {i + 1} of {runs}")
        each.append(_run(log, node_kind))
    result = {**each[-1], "runs": runs,
              "redeem_p99_ms_each_run": [r["redeem_p99_ms"] for r in each],
              "redeem_p99_ms_max": max(r["redeem_p99_ms"] for r in each),
              "balance_p99_ms_each_run": [r["balance_p99_ms"] for r in each],
              "balance_p99_ms_during_redemptions_each_run": [r["balance_p99_ms_during_redemptions"] for r in each],
              "catalogue_p99_ms_each_run": [r["catalogue_p99_ms"] for r in each]}
    result["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    _write_section(result)
    print(json.dumps(result, indent=None if as_json else 2))
    return result


def _run(log, node_kind: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    node = _Node(node_kind, work)
    api_proc = None
    try:
        log("deploying and building the city...")
        city = City(node)

        log(f"raw: {RAW_TX} pre-signed redeem transactions by JSON-RPC...")
        raw = _raw_phase(node.url, city.chain_id, city.redemption, city.merchants, city.relayers, city.residents)

        total = SATURATED_REDEMPTIONS + FLOOR_RATE * (PACED_SECONDS + BURST_SECONDS) + CONFIRMED_SAMPLE
        log(f"API: signing {total} consents...")
        consents = city.consents(total)
        api_proc, url, keys = start_api(city, node.url, work)
        first_block = city.w3.eth.block_number + 1
        log(f"API: {SATURATED_REDEMPTIONS} redemptions from {MERCHANTS} merchants back to back, then "
            f"{FLOOR_RATE}/s for {PACED_SECONDS} s...")
        node_pids, pids = node.pids(), service_pids(api_proc)
        cpu0 = (_cpu_s(pids["api"]), _cpu_s(pids["front"]), sum(map(_cpu_s, node_pids)), _cpu_s(os.getpid()))
        api = asyncio.run(_api_phase(url, keys, consents, [r.address for r in city.residents]))
        cpu1 = (_cpu_s(pids["api"]), _cpu_s(pids["front"]), sum(map(_cpu_s, node_pids)), _cpu_s(os.getpid()))
        per = [round((b - a) * 1000 / len(consents), 2) for a, b in zip(cpu0, cpu1)]
        gas = _gas_per_redemption(node.url, city.redemption, first_block)
        log(f"balances: {BALANCE_CLIENTS} concurrent clients...")
        bal = asyncio.run(_balance_phase(url, [r.address for r in city.residents]))
        log(f"catalogue: {CATALOGUE_OFFERS} offers, browsed {CATALOGUE_RATE} times a second...")
        cat = asyncio.run(_catalogue_phase(url, keys))
        load = os.getloadavg()
        result = {
            "redemptions_per_s": api["max_rate"],
            "redeem_p50_ms": api["p50"], "redeem_p99_ms": api["p99"], "paced_rate_per_s": api["paced_rate"],
            "sends_late_p99_ms": api["sends_late_p99"],
            "saturated_p50_ms": api["sat_p50"], "saturated_p99_ms": api["sat_p99"],
            "redeem_errors": api["errors"],
            "confirmed_p50_ms": api["c_p50"], "confirmed_p99_ms": api["c_p99"],
            "all_confirmed_s": api["all_confirmed_s"],
            "balance_p50_ms": bal["p50"], "balance_p99_ms": bal["p99"], "balance_paced_reads_per_s": bal["paced_rate"],
            "balance_reads_per_s": bal["max_rate"], "balance_saturated_p99_ms": bal["sat_p99"],
            "balance_p99_ms_during_redemptions": api["balance_p99"],
            "balance_served_p99_bucket_ms": bal["served_p99"],
            "balance_served_p99_bucket_ms_during_redemptions": api["balance_served_p99"],
            "catalogue_p50_ms": cat["p50"], "catalogue_p99_ms": cat["p99"], "catalogue_reads_per_s": cat["paced_rate"],
            "catalogue_offers": cat["offers"],
            "indexer_max_lag_blocks": api["max_lag"], "p99_bucket_ms_by_stage": api["where"],
            "max_bucket_ms_by_stage": api["worst"],
            "count_by_stage": api["counted"],
            "cpu_ms_per_redemption": {"api": per[0], "front": per[1], "node": per[2], "load_generator": per[3]},
            "raw_redeem_tx_per_s": round(raw, 1), **gas,
            "api_to_raw_ratio": round(api["max_rate"] / raw, 3) if raw else None,
            "node": node.kind, "merchants": MERCHANTS, "relayers": RELAYERS, "block_period_s": 1.0,
            "load_average_1m_after": round(load[0], 2), "cores": len(os.sched_getaffinity(0)),
        }
        log(f"p99 at {FLOOR_RATE}/s: {result['redeem_p99_ms']} ms")
        return result
    finally:
        stop_api(api_proc)
        node.stop()
        shutil.rmtree(work, ignore_errors=True)  # a city's node and store: ~60 MB a run


def _gas_per_redemption(rpc_url, redemption, from_block: int) -> dict:
    """What the API's redemptions cost on chain: the gas of the transactions that redeemed (the relayer's batches
    and lone redemptions) over the redemptions they made, and how many a transaction carried."""
    from issuer_sdk.rpc import RpcTransport
    from ledger_node.compiler import load_artifact
    from ledger_node.event_codec import EventType
    rpc = RpcTransport(rpc_url)
    topic = next(EventType(i).topic0 for i in load_artifact("Redemption")["abi"]
                 if i.get("type") == "event" and i["name"] == "Redeemed")
    logs = rpc.call("eth_getLogs", [{"fromBlock": hex(from_block), "toBlock": "latest", "address": redemption,
                                     "topics": [topic]}])
    hashes = sorted({lg["transactionHash"] for lg in logs})
    gas = 0
    for i in range(0, len(hashes), 500):
        gas += sum(int(a["result"]["gasUsed"], 16)
                   for a in rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes[i:i + 500]]))
    return {"gas_per_redemption": round(gas / len(logs)) if logs else None,
            "redemptions_per_tx": round(len(logs) / len(hashes), 2) if hashes else None}


def _consent(chain_id, redemption, resident, merchant, credits, deadline: int | None = None) -> dict:
    import coincurve

    from ledger_node.harness import one_part_plan
    from ledger_node.typed_data import digest
    parts = one_part_plan(credits)  # 10-credit redemptions at 10 credit cents a point: one whole point, no change
    msg = {"resident": resident.address, "merchant": merchant.address, "credits": credits, "parts": parts,
           "orderRef": os.urandom(32), "nonce": os.urandom(32), "deadline": deadline or int(time.time()) + 3600}
    rsv = coincurve.PrivateKey(bytes(resident.key)).sign_recoverable(
        digest("RedemptionConsent", chain_id, redemption, msg), hasher=None)
    sig = rsv[:64] + bytes([27 + rsv[64]])
    return {"resident": msg["resident"], "merchant": msg["merchant"], "credits": credits, "parts": parts,
            "orderRef": "0x" + msg["orderRef"].hex(), "nonce": "0x" + msg["nonce"].hex(),
            "deadline": msg["deadline"], "signature": "0x" + sig.hex()}


def _raw_phase(rpc_url, chain_id, redemption, merchants, relayers, residents, n: int = RAW_TX) -> float:
    """`n` pre-signed redeem transactions straight to the node; tx/s from first send to last receipt."""
    from concurrent.futures import ThreadPoolExecutor

    from exchange_api.chain import REDEEM, unhex
    from issuer_sdk.encoding import UnsignedTx, tx_hash
    from issuer_sdk.rpc import RpcTransport
    from issuer_sdk.signer import LocalSigner, sign_tx
    rpc = RpcTransport(rpc_url)
    signers = [LocalSigner(r.key) for r in relayers]
    nonces = [int(rpc.call("eth_getTransactionCount", [s.address, "pending"]), 16) for s in signers]
    raws = []
    for i in range(n):
        c = _consent(chain_id, redemption, residents[(i * 7) % len(residents)], merchants[i % len(merchants)], 10)
        data = REDEEM.encode((c["resident"], c["merchant"], c["credits"],
                              [(p["scheme"], p["points"], p["credits"]) for p in c["parts"]], unhex(c["orderRef"]),
                              unhex(c["nonce"]), c["deadline"]), unhex(c["signature"]))
        k = i % len(signers)
        raws.append(sign_tx(signers[k], UnsignedTx(chain_id, nonces[k], 1_500_000, unhex(redemption), data)))
        nonces[k] += 1
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(signers)) as pool:
        def send(k):  # each sender's transactions in nonce order, in JSON-RPC batches as the relayer sends them
            mine = raws[k::len(signers)]
            for i in range(0, len(mine), RAW_BATCH):
                answers = rpc.batch([("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in mine[i:i + RAW_BATCH]])
                refused = [a["error"] for a in answers if "error" in a]
                if refused:
                    raise RuntimeError(f"raw phase: the node refused {len(refused)} transactions: {refused[0]}")
        list(pool.map(send, range(len(signers))))
    pending = {tx_hash(r) for r in raws}
    while pending:
        answers = rpc.batch([("eth_getTransactionReceipt", [h]) for h in list(pending)[:200]])
        for a in answers:
            if a.get("result"):
                pending.discard(a["result"]["transactionHash"])
        if pending:
            time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    rpc.close()
    return n / elapsed


def _wait_ready(url, proc) -> None:
    """The API process and the read process ready, through the front (as `citypoints serve --detach` waits)."""
    import httpx
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the API exited")
        try:
            if all(httpx.get(url + path, timeout=1).status_code == 200 for path in ("/health/ready", "/health/reads")):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not become ready")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used: what a redemption costs, whatever else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_indexed(url, node_url) -> None:
    """The indexer starts from the deployment's block: let it reach the node's head (as the node says now; the
    indexer's own lag is 0 before its first round), and the read process follow it, before anything is timed."""
    import httpx

    from ledger_node.node.anvil import rpc
    head = int(rpc(node_url, "eth_blockNumber"), 16)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (httpx.get(url + "/v1/indexer", timeout=5).json()["block"] >= head
                and httpx.get(url + "/health/reads", timeout=5).json()["indexer"]["block"] >= head):
            return
        time.sleep(0.2)
    raise RuntimeError("the indexer did not catch up with the node")


def _pct(values, q) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


async def _api_phase(url, keys, consents, addresses) -> dict:
    import aiohttp
    saturated = consents[:SATURATED_REDEMPTIONS]
    paced = consents[SATURATED_REDEMPTIONS:SATURATED_REDEMPTIONS + FLOOR_RATE * PACED_SECONDS]
    burst = consents[SATURATED_REDEMPTIONS + FLOOR_RATE * PACED_SECONDS:
                     SATURATED_REDEMPTIONS + FLOOR_RATE * (PACED_SECONDS + BURST_SECONDS)]
    sample = consents[SATURATED_REDEMPTIONS + FLOOR_RATE * (PACED_SECONDS + BURST_SECONDS):]
    errors = {}
    max_lag = [0]
    done = asyncio.Event()
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=2 * MERCHANTS)) as client:
        async def sample_lag():
            while not done.is_set():
                try:
                    async with client.get("/v1/indexer") as r:
                        max_lag[0] = max(max_lag[0], (await r.json())["lagBlocks"])
                except Exception:  # noqa: BLE001
                    pass
                await asyncio.sleep(0.2)

        sends_late = []  # how late the paced phase's sends left this loop: the load generator's share of a latency

        async def redeem(k, c, latencies, since=None):
            t = since or time.perf_counter()
            if latencies is paced_latencies:
                sends_late.append(time.perf_counter() - t)
            async with client.post("/v1/redemptions", json={**c, "wait": False},
                                   headers={"Authorization": f"Bearer {keys[k]}", "Idempotency-Key": c["nonce"]}) as r:
                body = await r.read()
            latencies.append(time.perf_counter() - t)
            if r.status != 202:
                code = json.loads(body).get("error", {}).get("code", str(r.status))
                errors[code] = errors.get(code, 0) + 1

        paced_latencies = []
        lag_task = asyncio.create_task(sample_lag())
        sat = []

        async def merchant(k):
            for c in saturated[k::MERCHANTS]:
                await redeem(k, c, sat)
        t0 = time.perf_counter()
        await asyncio.gather(*(merchant(k) for k in range(MERCHANTS)))
        max_rate = len(saturated) / (time.perf_counter() - t0)
        await _drain(client)

        async def at_floor_rate(consents, latencies) -> float:
            return await _open_loop(len(consents), FLOOR_RATE,
                                    lambda i, due: redeem(i % MERCHANTS, consents[i], latencies, since=due))

        before = await _histograms(client)
        with no_gc_pauses():  # the load generator's own collector pauses would count as the service's latency
            paced_rate = await at_floor_rate(paced, paced_latencies)
        after = await _histograms(client)
        where, counted = _p99_by_series(before, after), _count_by_series(before, after)
        worst = _p99_by_series(before, after, 1.0)
        # the residents' reads from a process of their own (their phones), as in the quiet phase: in this loop they
        # would wait behind the merchants' 200 sends a second, a delay of the load generator and not of the service
        readers = _Readers(url, addresses, BURST_SECONDS)
        await asyncio.to_thread(readers.wait_ready)
        served_before = await _balances_served(client)
        with no_gc_pauses():
            await at_floor_rate(burst, [])
        balance_latencies = await asyncio.to_thread(readers.latencies)
        served = _p99_by_series(served_before, await _balances_served(client)).get("balances")
        t1 = time.perf_counter()
        await _drain(client)
        all_confirmed = time.perf_counter() - t1
        confirmed = []

        async def confirm(i, c):
            t = time.perf_counter()
            async with client.post("/v1/redemptions", json=c,
                                   headers={"Authorization": f"Bearer {keys[i % MERCHANTS]}"}) as r:
                await r.read()
            if r.status == 201:
                confirmed.append(time.perf_counter() - t)
        await asyncio.gather(*(confirm(i, c) for i, c in enumerate(sample)))
        await asyncio.sleep(1.5)
        done.set()
        await lag_task
    return {"max_rate": round(max_rate, 1), "sat_p50": _pct(sat, 0.5), "sat_p99": _pct(sat, 0.99),
            "paced_rate": round(paced_rate, 1), "p50": _pct(paced_latencies, 0.5),
            "p99": _pct(paced_latencies, 0.99), "sends_late_p99": _pct(sends_late, 0.99), "errors": errors, "c_p50": _pct(confirmed, 0.5),
            "c_p99": _pct(confirmed, 0.99), "all_confirmed_s": round(all_confirmed, 2), "max_lag": max_lag[0],
            "balance_p99": _pct(balance_latencies, 0.99), "balance_served_p99": served, "where": where,
            "worst": worst, "counted": counted}


async def _open_loop(n: int, rate: float, send) -> float:
    """Request i is due at t0 + i / rate and sent then (`send(i, due)`, a coroutine), whatever came before: its
    latency counts from that moment. Each is made when due (2,000 made at once held this loop ~40 ms, which the
    first requests' latencies counted). The rate achieved."""
    tasks = []
    t0 = time.perf_counter()
    for i in range(n):
        due = t0 + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(send(i, due)))
    await asyncio.gather(*tasks)
    return n / (time.perf_counter() - t0)


async def _histograms(client) -> dict[str, dict[float, float]]:
    """The API's histograms of where a redemption's time goes and of its event loop's lag (GET /metrics): series ->
    {bucket's upper bound: count}."""
    async with client.get("/metrics") as r:
        text = await r.text()
    series: dict[str, dict[float, float]] = {}
    for line in text.splitlines():
        for name in ("citypoints_redemption_stage_seconds_bucket", "citypoints_event_loop_lag_seconds_bucket",
                     "citypoints_store_write_seconds_bucket"):
            if line.startswith(name):
                labels, value = line[len(name):].rsplit(" ", 1)
                stage = (labels.split('stage="')[1].split('"')[0] if "stage=" in labels else
                         "store write, " + labels.split('kind="')[1].split('"')[0] if "kind=" in labels else
                         "event loop lag")
                le = labels.split('le="')[1].split('"')[0]
                series.setdefault(stage, {})[float(le)] = float(value)
    return series


def _p99_by_series(before: dict, after: dict, q: float = 0.99) -> dict[str, float]:
    """Per series, the upper bound (ms) of the bucket holding the `q` quantile (default the 99th percentile; 1.0:
    the slowest) of what was observed between the two scrapes."""
    out = {}
    for stage, buckets in after.items():
        counts = {le: n - before.get(stage, {}).get(le, 0.0) for le, n in buckets.items()}
        total = counts.get(float("inf"), 0.0)
        if total:
            out[stage] = next(round(le * 1000, 1) for le in sorted(counts) if counts[le] >= q * total)
    return out


def _count_by_series(before: dict, after: dict) -> dict[str, int]:
    """Per series, how many were observed between the two scrapes (a redemption admitted on the indexed view, or
    simulated on the node because the indexer had not yet the head)."""
    return {stage: int(buckets.get(float("inf"), 0.0) - before.get(stage, {}).get(float("inf"), 0.0))
            for stage, buckets in after.items()}


async def _drain(client) -> None:
    """Until the relayer has seen every pending redemption mined."""
    for _ in range(600):
        async with client.get("/health/ready") as r:
            if (await r.json())["relayer"]["inFlight"] == 0:
                return
        await asyncio.sleep(0.1)


async def _balance_phase(url, addresses) -> dict:
    import aiohttp
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=BALANCE_CLIENTS)) as client:
        for a in addresses:  # warm
            async with client.get(f"/v1/residents/{a}/balances") as r:
                await r.read()

        async def read(address, latencies, since=None):
            t = since or time.perf_counter()
            async with client.get(f"/v1/residents/{address}/balances") as r:
                await r.read()
            latencies.append(time.perf_counter() - t)
            assert r.status == 200

        sat = []

        async def reader(k):
            for i in range(k, BALANCE_READS, BALANCE_CLIENTS):
                await read(addresses[i % len(addresses)], sat)
        t0 = time.perf_counter()
        await asyncio.gather(*(reader(k) for k in range(BALANCE_CLIENTS)))
        max_rate = BALANCE_READS / (time.perf_counter() - t0)

        readers = _Readers(url, addresses, BALANCE_PACED_SECONDS)  # measured as during the burst (_api_phase)
        await asyncio.to_thread(readers.wait_ready)
        served_before = await _balances_served(client)
        t0 = time.perf_counter()
        paced = await asyncio.to_thread(readers.latencies)
        paced_rate = len(paced) / (time.perf_counter() - t0)
        served = _p99_by_series(served_before, await _balances_served(client)).get("balances")
    return {"max_rate": round(max_rate, 1), "sat_p99": _pct(sat, 0.99), "p50": _pct(paced, 0.5),
            "p99": _pct(paced, 0.99), "paced_rate": round(paced_rate, 1), "served_p99": served}


async def _balances_served(client) -> dict[str, dict[float, float]]:
    """The read process's own histogram of the balance reads it answered (GET /metrics/reads; from the request's
    arrival there to its answer, without the front and the client): {"balances": {bucket's upper bound: count}}."""
    async with client.get("/metrics/reads") as r:
        text = await r.text()
    name, route = "citypoints_api_request_seconds_bucket", 'route="/v1/residents/{address}/balances"'
    out: dict[str, dict[float, float]] = {}
    for line in text.splitlines():
        if line.startswith(name) and route in line:
            labels, value = line.rsplit(" ", 1)
            out.setdefault("balances", {})[float(labels.split('le="')[1].split('"')[0])] = float(value)
    return out


async def _paced_balance_reads(client, addresses, latencies: list, seconds: float = BALANCE_PACED_SECONDS) -> None:
    """BALANCE_CLIENTS residents each reading their balances once a period for `seconds`, the first reads spread over
    the first period; latency counted from each read's due moment."""
    async def reader(k):
        start = time.perf_counter() + k * BALANCE_PERIOD_S / BALANCE_CLIENTS
        for n in range(int(seconds / BALANCE_PERIOD_S)):
            due = start + n * BALANCE_PERIOD_S
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            async with client.get(f"/v1/residents/{addresses[k % len(addresses)]}/balances") as r:
                await r.read()
            latencies.append(time.perf_counter() - due)
            assert r.status == 200
    await asyncio.gather(*(reader(k) for k in range(BALANCE_CLIENTS)))


class _Readers:
    """BALANCE_CLIENTS residents reading their balances once a period for `seconds` (_paced_balance_reads) from a
    process of their own, as phones are: started, `wait_ready()` (its connection made), then `latencies()`."""

    def __init__(self, url: str, addresses: list[str], seconds: float):
        import multiprocessing
        ctx = multiprocessing.get_context("spawn")
        self._ready = ctx.Event()
        self._results, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_readers_process, args=(url, addresses, seconds, self._ready, child),
                                 daemon=True)
        self._proc.start()
        child.close()

    def wait_ready(self) -> None:
        if not self._ready.wait(60):
            raise RuntimeError("the balance readers' process did not start")

    def latencies(self) -> list[float]:
        try:
            return self._results.recv()
        finally:
            self._proc.join(10)


def _readers_process(url, addresses, seconds, ready, results) -> None:
    async def run():
        import aiohttp
        async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=BALANCE_CLIENTS)) as client:
            async def warm(address):  # every client's connection open before the first timed read
                async with client.get(f"/v1/residents/{address}/balances") as r:
                    await r.read()
            await asyncio.gather(*(warm(addresses[k % len(addresses)]) for k in range(BALANCE_CLIENTS)))
            ready.set()
            latencies: list[float] = []
            with no_gc_pauses():
                await _paced_balance_reads(client, addresses, latencies, seconds)
            return latencies
    results.send(asyncio.run(run()))


CATALOGUE_CATEGORIES = ("food", "groceries", "culture", "transport", "services", "health", "education")
CATALOGUE_DISTRICTS = ("jinjiang", "qingyang", "jinniu", "wuhou", "chenghua", "gaoxin", "tianfu")


async def _catalogue_phase(url, keys, offers: int = CATALOGUE_OFFERS, rate: int = CATALOGUE_RATE,
                           seconds: float = CATALOGUE_SECONDS) -> dict:
    """`offers` offers published by the merchants (POST /v1/offers), then GET /v1/catalogue/offers `rate` times a
    second for `seconds` (open loop: latency from each read's due moment): first pages without a filter, by
    category, by district, under a price, and second pages by cursor, in turn."""
    import aiohttp
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=100)) as client:
        async def publish(k):
            for i in range(k, offers, len(keys)):
                body = {"titleZh": f"优惠 {i}", "titleEn": f"Offer {i}", "price": 100 + (i * 37) % 9900,
                        "stock": None if i % 3 else 5 + i % 50, "category": CATALOGUE_CATEGORIES[i % 7],
                        "district": CATALOGUE_DISTRICTS[(i // 7) % 7]}
                async with client.post("/v1/offers", json=body,
                                       headers={"Authorization": f"Bearer {keys[k]}"}) as r:
                    assert r.status == 201, await r.text()
        await asyncio.gather(*(publish(k) for k in range(min(len(keys), offers))))
        async with client.get("/v1/catalogue/offers", params={"limit": 20}) as r:
            cursor = (await r.json())["next_cursor"]
        queries = [{"limit": "20"}, {"limit": "20", "category": "food"}, {"limit": "20", "district": "wuhou"},
                   {"limit": "20", "max_price": "2000"}, {"limit": "20", "cursor": cursor},
                   {"limit": "20", "category": "culture", "district": "qingyang"}]
        for q in queries:  # warm
            async with client.get("/v1/catalogue/offers", params=q) as r:
                await r.read()
        latencies = []

        async def read(i, due):
            async with client.get("/v1/catalogue/offers", params=queries[i % len(queries)]) as r:
                await r.read()
            latencies.append(time.perf_counter() - due)
            assert r.status == 200
        with no_gc_pauses():
            paced_rate = await _open_loop(int(rate * seconds), rate, read)
    return {"offers": offers, "p50": _pct(latencies, 0.5), "p99": _pct(latencies, 0.99),
            "paced_rate": round(paced_rate, 1)}


def _write_section(r: dict) -> None:
    from scripts.benchmarks import table, update_section
    rows = [
        ("redemptions over HTTP, 50 merchants back to back (capacity)", f"{r['redemptions_per_s']}/s",
         f"floor >= 200/s; raw node {r['raw_redeem_tx_per_s']} redeem tx/s, ratio {r['api_to_raw_ratio']}"),
        (f"redeem latency p99 at {FLOOR_RATE}/s offered, each of {r['runs']} consecutive runs (fresh node and city)",
         " / ".join(f"{v}" for v in r["redeem_p99_ms_each_run"]) + " ms",
         f"floor <= 200 ms in each; max {r['redeem_p99_ms_max']} ms"),
        (f"redeem latency p50 / p99 at {FLOOR_RATE}/s offered (pending answers), last run",
         f"{r['redeem_p50_ms']} / {r['redeem_p99_ms']} ms",
         f"achieved {r['paced_rate_per_s']}/s; the load generator's sends left up to {r['sends_late_p99_ms']} ms "
         "late (p99), counted in the latency"),
        ("redeem latency p50 / p99 back to back (a queue 50 deep)",
         f"{r['saturated_p50_ms']} / {r['saturated_p99_ms']} ms", "Little's law: 50 / capacity"),
        ("redeem latency p50 / p99 (confirmed)", f"{r['confirmed_p50_ms']} / {r['confirmed_p99_ms']} ms",
         "within two block periods (1 s blocks)"),
        ("balance reads, 200 clients each once a second, p50 / p99", f"{r['balance_p50_ms']} / {r['balance_p99_ms']} ms",
         f"floor p99 <= 20 ms; {r['balance_paced_reads_per_s']} reads/s"),
        (f"the same during a burst of redemptions ({FLOOR_RATE}/s for {BURST_SECONDS} s), p99, each run",
         " / ".join(f"{v}" for v in r["balance_p99_ms_during_redemptions_each_run"]) + " ms",
         "without: " + " / ".join(f"{v}" for v in r["balance_p99_ms_each_run"]) + " ms"),
        ("the same as the read process answered them (its histogram's p99 bucket, without the front and the "
         "client), during the burst / without, last run",
         f"{r['balance_served_p99_bucket_ms_during_redemptions']} / {r['balance_served_p99_bucket_ms']} ms",
         "what the burst costs the read process itself; the rest is the route through the front and the 2 cores "
         "the load generator shares"),
        ("balance reads, 200 clients back to back", f"{r['balance_reads_per_s']}/s",
         f"p99 {r['balance_saturated_p99_ms']} ms"),
        (f"catalogue browse (GET /v1/catalogue/offers, {r['catalogue_offers']} offers) at {CATALOGUE_RATE}/s "
         "offered, p50 / p99", f"{r['catalogue_p50_ms']} / {r['catalogue_p99_ms']} ms",
         "floor p99 <= 20 ms; each run: " + " / ".join(f"{v}" for v in r["catalogue_p99_ms_each_run"]) + " ms"),
        ("indexer max lag during the run", f"{r['indexer_max_lag_blocks']} blocks", "floor < 2 blocks"),
        (f"where a redemption's time goes at {FLOOR_RATE}/s: p99 per stage, at most (the API's histograms)",
         ", ".join(f"{k} {v} ms" for k, v in r["p99_bucket_ms_by_stage"].items()),
         "GET /metrics: citypoints_redemption_stage_seconds, _store_write_seconds, _event_loop_lag_seconds"),
        ("the same, the slowest of each (its bucket's upper bound)",
         ", ".join(f"{k} {v} ms" for k, v in r["max_bucket_ms_by_stage"].items()),
         "a store write's kind: requests, or the background writer that held it"),
        (f"redemptions at {FLOOR_RATE}/s admitted on the indexed view / simulated on the node",
         f"{r['count_by_stage'].get('admit', 0)} / {r['count_by_stage'].get('simulate', 0)}",
         "simulated while the indexer has not yet the head (each an eth_call the node answers between blocks)"),
        ("CPU per redemption: API process / front / node / load generator",
         " / ".join(f"{r['cpu_ms_per_redemption'][k]} ms" for k in ("api", "front", "node", "load_generator")),
         "the front's: what it costs to route every request (the burst's balance reads too)"),
        ("gas a redemption on chain (the API's transactions: the relayer's batches and lone redemptions), last run",
         f"{r['gas_per_redemption']:,}", f"issue 25's floor 100,000 (one scheme); {r['redemptions_per_tx']} "
         "redemptions a transaction (redemptions that reach the relayer together go in one redeemMany)"),
        ("refused redemptions", json.dumps(r["redeem_errors"]) or "{}", "expected none"),
    ]
    node = ("the embedded durable node (gateway and journal before anvil)" if r["node"] == "durable"
            else "bare anvil (`--node anvil`)")
    body = (table(rows) + f"\n\nThe service as `citypoints serve` runs it: the front, the API process (one uvicorn "
            f"worker, SQLite, 4 relayer accounts) and the read process (balance reads); {node} with 1-second "
            f"blocks, load generator on the same machine (load average after the run {r['load_average_1m_after']} "
            f"on {r['cores']} cores).\n\n```json\n{json.dumps(r)}\n```")
    update_section("api", body)


if __name__ == "__main__":
    main("--json" in sys.argv, "anvil" if "--node=anvil" in sys.argv else "durable",
         next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--runs=")), 5))
