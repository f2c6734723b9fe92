"""`citypoints bench city [--residents N] [--days D] [--json]`: a district's month as a mixed workload (issue 25).

In the spirit of Hyperledger Caliper, on the durable node `make up` runs (1-second blocks once the district is set
up) and the API as `make up` runs it (bench_api.start_api):
set-up: a fresh deployment, five programmes (schemes with rates, every pair of schemes 2-5 exchangeable), 200
merchants, N residents registered in batches, 4 relayer accounts; then day by day (a day is a round: chain time is
not advanced, quotas and caps are wide):
- issuance: the programmes whose day it is (traffic and library daily, recycling every 2nd day, health every 3rd,
  volunteering weekly) issue through the SDK's `IssuerClient.issue_many`, each its own system, side by side;
- redemptions: the 200 merchants redeem residents' scheme-1 points through POST /v1/redemptions at a steady rate
  (open loop: latency counts from each request's due moment), then until the relayer has every one mined;
- exchanges: residents' signed ExchangeIntents through POST /v1/exchanges, alongside the redemptions;
- governance: a rate change a week, its week of notice waited out by moving the chain's clock (the durable node's
  operator channel); consents and intents are signed with deadlines on the chain's clock;
- a period close (Clearing.closePeriod) at the end of each day;
then the auditor over the whole chain (status and problems), the chain's size (the node's data dir: snapshot and
journal bytes; anvil's state dump) and its restart time (stop, start, first answered eth_blockNumber).
Per operation: throughput, p50/p99 latency, errors and gas per transaction (every mined transaction of the days,
by the contract it called), beside the raw node's own figure in the same run (pre-signed issueBatch and redeem
transactions straight to the node) as a ratio. Writes the "city" section of BENCHMARKS.md.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MERCHANTS = 200
RELAYERS = 4
REGISTER_BATCH = 250
ISSUE_POINTS = 100  # points each record of a programme gives
# programme (scheme): (name, every n-th day it issues)
PROGRAMMES = {1: ("traffic", 1), 2: ("library", 1), 3: ("recycling", 2), 4: ("health", 3), 5: ("volunteering", 7)}
RATES = {1: 10_000_000, 2: 8_000_000, 3: 12_000_000, 4: 5_000_000, 5: 20_000_000}  # scheme 1's: bench_api's plan
REDEEM_RATE = 100  # redemptions/s offered by the merchants in all
EXCHANGE_RATE = 20  # exchanges/s offered
SDK_BATCH = 500
RAW_ISSUE_ITEMS = 4000  # below the auditor's ref-burst (5,000 items a minute from one issuer)
RAW_REDEEM_TX = 1000
WIDE = 2**96 - 1
API_LOG = Path(__file__).resolve().parents[1] / "build" / "bench" / "city-api.log"  # the last run's API log


def _day_load(residents: int) -> tuple[int, int, int]:
    """(records per programme's issuance, redemptions, exchanges) of one day."""
    return max(50, residents // 5), max(40, residents // 25), max(10, residents // 100)


class District:
    """The district on a durable node: contracts, 5 programmes' issuers, 200 merchants, relayers, residents. Has what
    bench_api.start_api reads (addresses, chain_id, merchants, relayers)."""

    def __init__(self, node, residents: int, progress):
        from eth_account import Account
        from web3 import Web3

        from ledger_node import chain
        from ledger_node.deploy.command import deploy_all
        from ledger_node.deploy.system import call, propose_and_execute

        operator = self.operator = node.operator
        self.w3 = w3 = chain.connect(node.url)
        self.addresses = deploy_all(w3, operator)
        self.c = c = {n: chain.bind(w3, n, a) for n, a in self.addresses.items()}
        self.merchants = [Account.create() for _ in range(MERCHANTS)]
        self.relayers = [Account.create() for _ in range(RELAYERS)]
        self.issuers = {s: Account.create() for s in PROGRAMMES}
        self.salts = {s: os.urandom(32) for s in PROGRAMMES}  # each programme's secret ref salt
        self.raw_issuer = Account.create()
        onboarding = Account.create()
        self.residents = [Account.create() for _ in range(residents)]
        self.exchange_nonces: dict[str, int] = {}  # each resident's last exchange nonce (IExchange: numbered)
        chain.fund(w3, operator, [a.address for a in [*self.relayers, *self.issuers.values(), self.raw_issuer,
                                                      onboarding]], 10**22)
        m, rates, exchange = c["Membership"], c["Rates"], c["Exchange"]
        role = lambda n: getattr(m.functions, n)().call()  # noqa: E731
        calls = []
        for s in PROGRAMMES:
            issuers = [self.issuers[s].address] + ([self.raw_issuer.address] if s == 1 else [])
            calls += [call(c["PointsLedger"], "addScheme", s, WIDE, WIDE), call(m, "setIssuerAccounts", s, issuers),
                      call(rates, "setInitialRate", s, RATES[s])]
        calls += [call(exchange, "setPairAllowed", a, b, True) for a in range(2, 6) for b in range(2, 6) if a != b]
        calls += [*[call(m, "registerMerchant", x.address) for x in self.merchants],
                  *[call(m, "grantRole", role("RELAYER_ROLE"), r.address) for r in self.relayers],
                  call(m, "grantRole", role("ONBOARDING_ROLE"), onboarding.address)]
        propose_and_execute(w3, c["Consortium"], [operator], calls, "bench city: programmes, pairs, merchants")
        task = progress.add_task("registering residents", total=residents)
        for i in range(0, residents, REGISTER_BATCH):
            who = [r.address for r in self.residents[i:i + REGISTER_BATCH]]
            chain.transact(w3, onboarding, m.functions.registerResidents(
                who, [Web3.keccak(text=f"city:{a}") for a in who]), gas=30_000_000)
            progress.advance(task, len(who))
        self.chain_id = w3.eth.chain_id
        self.redemption = c["Redemption"].address

        def advance(seconds: int) -> None:
            """A rate change's week of notice, through the node's operator channel: the gateway's clock is wall
            time plus an offset, and blocks mined faster than a second ran ahead of it, so the offset is made
            up to the chain's own clock plus `seconds`; then a block at the new time."""
            target = int(w3.eth.get_block("latest")["timestamp"]) + seconds + 1
            offset = int(node._node.operator("evm_increaseTime", [seconds]), 16)
            if int(time.time()) + offset < target:
                node._node.operator("evm_increaseTime", [target - int(time.time()) - offset])
            node._node.operator("evm_mine", [])
        self.advance = advance

    def deadline(self) -> int:
        """An hour from the chain's clock (which the weekly rate changes move a week on each)."""
        return max(int(self.w3.eth.get_block("latest")["timestamp"]), int(time.time())) + 3600


def main(residents: int = 50_000, days: int = 30, as_json: bool = False) -> dict:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from scripts.bench_api import _Node, start_api, stop_api

    from ledger_node.audit.patterns import Thresholds

    t_start = time.perf_counter()
    # a day is a round of seconds, so a programme's month can fall inside the auditor's one-minute ref-burst window:
    # the threshold is raised above a programme's whole month only when the defaults would flag that compression
    thresholds = Thresholds()
    month = _day_load(residents)[0] * days
    if month >= thresholds.burst_items:
        thresholds = Thresholds(burst_items=month + 1)
    log = (lambda *a: None) if as_json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    work = Path(tempfile.mkdtemp(prefix="bench-city-"))
    load_before = round(os.getloadavg()[0], 2)
    node = _Node("durable", work)
    api_proc = None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), disable=as_json)
    try:
        with progress:
            log(f"set-up: deploying, 5 programmes, {MERCHANTS} merchants, {residents} residents...")
            t0 = time.perf_counter()
            d = District(node, residents, progress)
            setup_s = time.perf_counter() - t0
            node.block_period()
            log("raw node: pre-signed issueBatch and redeem transactions...")
            raw = _raw(node, d)
            api_proc, url, keys = start_api(d, node.url, work)
            ops = {k: {"latencies": [], "count": 0, "errors": {}, "seconds": 0.0}
                   for k in ("issuance", "redemption", "exchange", "governance", "period close")}
            first_block = int(d.w3.eth.block_number) + 1
            task = progress.add_task("days", total=days)
            for day in range(days):
                _day(d, day, url, keys, ops)
                progress.advance(task)
            last_block = int(d.w3.eth.block_number)
            # the node's public reads it answered "limit exceeded" (refused past its per-address limit, or given up
            # waiting for a turn) and started as long reads (one at a time, a share of the engine's time), all run
            node_reads = node._node.operator("citypoints_status").get("reads", {})
            log("gas of the days' transactions...")
            gas = _gas_by_contract(node.url, d.addresses, first_block, last_block)
            stop_api(api_proc)
            api_proc = None
            log("audit over the whole chain...")
            from ledger_node.audit.run import AuditOptions, audit
            t0 = time.perf_counter()
            audited = audit(AuditOptions(node.url, d.addresses, proofs=False, thresholds=thresholds))
            audit_s = time.perf_counter() - t0
            size = _chain_size(node)
            log("restart...")
            node._node.stop()
            restart_s = node._node.start()
    finally:
        stop_api(api_proc)
        node.stop()
        if (work / "api.log").exists():  # the service's log, kept to trace the errors counted
            API_LOG.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(work / "api.log", API_LOG)
        shutil.rmtree(work, ignore_errors=True)
    result = _figures(ops, gas, raw, residents, days)
    result["audit_thresholds"] = {"burst_items": thresholds.burst_items}
    result["node_reads"] = node_reads
    result.update({
        "audit": {"status": audited.report.get("status"), "problems": len(audited.problems),
                  "findings": sorted({f["pattern"] for f in audited.report.get("findings", [])}),
                  "seconds": round(audit_s, 1),
                  "events": audited.stats.get("events")},
        "chain": {**size, "blocks": last_block, "restart_s": round(restart_s, 2)},
        "setup_s": round(setup_s, 1), "total_s": round(time.perf_counter() - t_start, 1),
        "load_average_1m_before": load_before, "load_average_1m_after": round(os.getloadavg()[0], 2),
        "cores": len(os.sched_getaffinity(0)),
    })
    _write_section(result)
    return result


def _day(d: District, day: int, url: str, keys: list[str], ops: dict) -> None:
    from ledger_node import chain
    from ledger_node.deploy.system import call, propose_and_execute

    per_issue, n_redeem, n_exchange = _day_load(len(d.residents))
    n = len(d.residents)
    start = (day * per_issue) % n
    cohort = [d.residents[(start + i) % n] for i in range(per_issue)]
    due = [s for s, (_, every) in PROGRAMMES.items() if day % every == 0]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(due)) as pool:
        for issued, seconds, error in pool.map(lambda s: _issue(d, s, day, cohort), due):
            op = ops["issuance"]
            op["count"] += issued
            op["latencies"].append(seconds)
            if error:
                op["errors"][error] = op["errors"].get(error, 0) + 1
    ops["issuance"]["seconds"] += time.perf_counter() - t0
    # the day's cohort holds scheme 1 (traffic, daily) and scheme 2 (library, daily): redeem 1, exchange 2 -> 3..5
    redeemers = [cohort[i % len(cohort)] for i in range(n_redeem)]
    exchangers = [cohort[(i * 7 + 3) % len(cohort)] for i in range(n_exchange)]
    asyncio.run(_api_day(d, url, keys, redeemers, exchangers, day, ops))
    if day % 7 == 0:  # a rate change a week
        scheme = 2 + (day // 7) % 4
        rate = RATES[scheme] + (1 + day // 7) * 100_000
        _timed(ops["governance"], lambda: propose_and_execute(
            d.w3, d.c["Consortium"], [d.operator], [call(d.c["Rates"], "setRate", scheme, rate)],
            f"bench city: day {day}, scheme {scheme}'s rate", advance_time=d.advance))
    _timed(ops["period close"], lambda: chain.transact(d.w3, d.operator, d.c["Clearing"].functions.closePeriod()))


def _timed(op: dict, fn) -> None:
    t = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - counted, shown in the figures
        op["errors"][type(exc).__name__] = op["errors"].get(type(exc).__name__, 0) + 1
        print(f"error: {exc}"[:400], file=sys.stderr)
    elapsed = time.perf_counter() - t
    op["latencies"].append(elapsed)
    op["seconds"] += elapsed
    op["count"] += 1


def _issue(d: District, scheme: int, day: int, cohort) -> tuple[int, float, str | None]:
    """One programme's day: its records through its own SDK client, timed from first item to last confirmation.
    Returns (items issued, seconds, the error's name if it failed)."""
    from issuer_sdk import ClientConfig, Issuance, IssuerClient, LocalSigner
    client = IssuerClient(d.w3.provider.endpoint_uri, d.addresses["PointsLedger"],
                          LocalSigner(bytes(d.issuers[scheme].key)), scheme, d.salts[scheme],
                          chain_id=d.chain_id, config=ClientConfig(max_batch_items=SDK_BATCH, max_in_flight=4))
    t = time.perf_counter()
    try:
        summary = client.issue_many(Issuance(r.address, ISSUE_POINTS, f"d{day}-{i}") for i, r in enumerate(cohort))
        return summary.issued, time.perf_counter() - t, None
    except Exception as exc:  # noqa: BLE001 - counted, shown in the figures
        return getattr(getattr(exc, "summary", None), "issued", 0), time.perf_counter() - t, type(exc).__name__
    finally:
        client.close()


async def _api_day(d: District, url: str, keys: list[str], redeemers, exchangers, day: int, ops: dict) -> None:
    """The merchants' redemptions and the residents' exchanges, side by side, each at its steady rate (open loop,
    pending answers), then until the relayer has them all mined."""
    import aiohttp

    from scripts.bench_api import _consent, _drain
    deadline = d.deadline()
    consents = [(i % MERCHANTS, _consent(d.chain_id, d.redemption, r, d.merchants[(i + day) % MERCHANTS], 10,
                                         deadline)) for i, r in enumerate(redeemers)]
    intents = [_intent(d, r, 2, 3 + (i + day) % 3, deadline) for i, r in enumerate(exchangers)]
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=100)) as client:
        async def post(op, path, body, headers, due):
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            async with client.post(path, json={**body, "wait": False}, headers=headers) as r:
                raw = await r.read()
            op["latencies"].append(time.perf_counter() - due)
            if r.status in (201, 202):
                op["count"] += 1
            else:
                error = json.loads(raw).get("error", {})
                # by code and message: one code can have several causes (node_unavailable: a simulation not
                # answered with the index behind, a node not heard from, a batch the node refused)
                cause = f"{error.get('code', r.status)}: {error.get('message', '')}"[:120]
                op["errors"][cause] = op["errors"].get(cause, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(
            *(post(ops["redemption"], "/v1/redemptions", c,
                   {"Authorization": f"Bearer {keys[(k + day) % MERCHANTS]}", "Idempotency-Key": c["nonce"]},
                   t0 + i / REDEEM_RATE) for i, (k, c) in enumerate(consents)),
            *(post(ops["exchange"], "/v1/exchanges", x, {"Idempotency-Key": x["nonce"]}, t0 + i / EXCHANGE_RATE)
              for i, x in enumerate(intents)))
        await _drain(client)
        elapsed = time.perf_counter() - t0
    ops["redemption"]["seconds"] += elapsed
    ops["exchange"]["seconds"] += elapsed


def _intent(d: District, resident, from_scheme: int, to_scheme: int, deadline: int, points: int = 10) -> dict:
    """A resident's signed ExchangeIntent (the API's body for POST /v1/exchanges), with its next nonce."""
    import coincurve

    from ledger_node.typed_data import digest
    nonce = d.exchange_nonces[resident.address] = d.exchange_nonces.get(resident.address, 0) + 1
    msg = {"resident": resident.address, "fromScheme": from_scheme, "toScheme": to_scheme, "points": points,
           "minReceived": 0, "nonce": nonce.to_bytes(32, "big"), "deadline": deadline}
    rsv = coincurve.PrivateKey(bytes(resident.key)).sign_recoverable(
        digest("ExchangeIntent", d.chain_id, d.addresses["Exchange"], msg), hasher=None)
    return {**msg, "nonce": "0x" + msg["nonce"].hex(), "signature": "0x" + (rsv[:64] + bytes([27 + rsv[64]])).hex()}


def _gas_by_contract(url: str, addresses: dict, first: int, last: int) -> dict[str, dict]:
    """Every transaction mined in blocks first..last, by the contract it called: count and gas."""
    from issuer_sdk.rpc import RpcTransport
    names = {a.lower(): n for n, a in addresses.items()}
    rpc = RpcTransport(url)
    hashes = []
    for b in range(first, last + 1, 100):
        for a in rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(b, min(last, b + 99) + 1)]):
            hashes += a["result"]["transactions"]
    out: dict[str, dict] = {}
    for i in range(0, len(hashes), 200):
        for a in rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes[i:i + 200]]):
            rc = a["result"]
            e = out.setdefault(names.get((rc.get("to") or "").lower(), "other"), {"tx": 0, "gas": 0, "reverted": 0})
            e["tx"] += 1
            e["gas"] += int(rc["gasUsed"], 16)
            e["reverted"] += rc["status"] != "0x1"
    rpc.close()
    return out


def _raw(node, d: District) -> dict:
    """The raw node's own figures in the same run, on the set-up district before the days start: pre-signed
    issueBatch (the SDK's batch size, 4 in flight as the SDK) and pre-signed redeem transactions by JSON-RPC, as
    fast as the node takes them."""
    from scripts.bench_api import _raw_phase
    from scripts.bench_issuance import _presign_batches, _Rpc, _send_raw_all
    records = [(d.residents[i % len(d.residents)].address, ISSUE_POINTS, f"raw-{i}") for i in range(RAW_ISSUE_ITEMS)]
    raws = _presign_batches(d.c["PointsLedger"], d.raw_issuer, records, SDK_BATCH, os.urandom(32), d.chain_id)
    seconds, _ = _send_raw_all(_Rpc(node.url), raws, d.raw_issuer.address, 4)
    redeem = _raw_phase(node.url, d.chain_id, d.redemption, d.merchants, d.relayers, d.residents, n=RAW_REDEEM_TX)
    return {"issued_items_per_s": round(RAW_ISSUE_ITEMS / seconds, 1), "redeem_tx_per_s": round(redeem, 1)}


def _chain_size(node) -> dict:
    """What the node can tell of its size: the bytes under its chain dir, of its snapshot (state.dump) and of its
    journal since (a snapshot empties it), and anvil's state dump as the engine gives it now."""
    chain_dir = node._node.chain_dir
    files = [p for p in chain_dir.rglob("*") if p.is_file()]
    journal = sum(p.stat().st_size for p in files if "journal" in str(p.relative_to(chain_dir)))
    size = {"data_dir_bytes": sum(p.stat().st_size for p in files), "journal_bytes": journal,
            "snapshot_bytes": sum(p.stat().st_size for p in files if p.name == "state.dump")}
    try:
        dump = node._node.operator("anvil_dumpState")
        size["state_dump_bytes"] = (len(dump) - 2) // 2
    except Exception as exc:  # noqa: BLE001 - the figure is then absent, and says why
        size["state_dump_bytes"] = f"unavailable: {exc}"[:120]
    return size


def _figures(ops: dict, gas: dict, raw: dict, residents: int, days: int) -> dict:
    from scripts.bench_api import _pct
    contract = {"issuance": "PointsLedger", "redemption": "Redemption", "exchange": "Exchange",
                "governance": "Consortium", "period close": "Clearing"}
    raw_rate = {"issuance": raw["issued_items_per_s"], "redemption": raw["redeem_tx_per_s"]}
    out = {}
    for name, op in ops.items():
        g = gas.get(contract[name], {"tx": 0, "gas": 0, "reverted": 0})
        rate = round(op["count"] / op["seconds"], 1) if op["seconds"] else 0.0
        out[name] = {"count": op["count"], "per_s": rate, "p50_ms": _pct(op["latencies"], 0.5),
                     "p99_ms": _pct(op["latencies"], 0.99), "errors": op["errors"], "tx": g["tx"],
                     "gas_per_tx": g["gas"] // g["tx"] if g["tx"] else 0, "reverted_tx": g["reverted"],
                     # the relayer batches redemptions and exchanges: what each cost, and how many a transaction
                     "gas_each": g["gas"] // op["count"] if op["count"] else 0,
                     "per_tx": round(op["count"] / g["tx"], 2) if g["tx"] else 0.0,
                     "raw_per_s": raw_rate.get(name),
                     "ratio_to_raw": round(rate / raw_rate[name], 3) if raw_rate.get(name) else None}
    return {"residents": residents, "days": days, "merchants": MERCHANTS, "operations": out, "raw": raw}


def _write_section(r: dict) -> None:
    from scripts.benchmarks import table, update_section
    unit = {"issuance": "items/s (the day's programmes side by side, each its own sender; latency: one programme's "
                        "day; the raw figure is one sender)",
            "redemption": f"redemptions/s ({REDEEM_RATE}/s offered, pending answers, until mined)",
            "exchange": f"exchanges/s ({EXCHANGE_RATE}/s offered alongside)", "governance": "rate changes",
            "period close": "closePeriod"}
    rows = []
    for name, o in r["operations"].items():
        beside = (f"raw node {o['raw_per_s']}/s, ratio {o['ratio_to_raw']}" if o["raw_per_s"] else "")
        rows.append((f"{name}: {o['count']} in all, {unit[name]}",
                     f"{o['per_s']}/s; p50 {o['p50_ms']} / p99 {o['p99_ms']} ms; errors {json.dumps(o['errors'])}; "
                     f"{o['tx']} tx ({o['per_tx']} each), {o['gas_per_tx']} gas/tx ({o['gas_each']} each), "
                     f"{o['reverted_tx']} reverted", beside))
    a, c = r["audit"], r["chain"]
    rows += [("audit over the whole chain", f"{a['status']}, {a['problems']} problems, findings {a['findings']}",
              f"{a['seconds']} s; ref-burst at {r['audit_thresholds']['burst_items']} items a minute"),
             ("chain size", f"{c['blocks']} blocks; data dir {c['data_dir_bytes']} B "
              f"(snapshot {c['snapshot_bytes']} B, "
              f"journal since {c['journal_bytes']} B); "
              f"state dump {c['state_dump_bytes']} B", ""),
             ("restart (stop, start, first eth_blockNumber answered)", f"{c['restart_s']} s", ""),
             ("the node's public reads (the API's, the SDKs', the bench's)", _node_reads(r["node_reads"]), ""),
             ("set-up / whole run", f"{r['setup_s']} s / {r['total_s']} s",
              f"load average {r['load_average_1m_before']} before, {r['load_average_1m_after']} after")]
    body = (table(rows) + f"\n\n{r['residents']} residents, {r['days']} days (rounds), {r['merchants']} merchants; "
            f"the durable node with 1-second blocks, the API as `make up` runs it (one uvicorn worker, SQLite), "
            f"load generator on the same {r['cores']}-core machine.\n\n```json\n{json.dumps(r)}\n```")
    update_section("city", body)


def print_figures(r: dict, console) -> None:
    for name, o in r["operations"].items():
        raw = f"  raw {o['raw_per_s']}/s  ratio {o['ratio_to_raw']}" if o["raw_per_s"] else ""
        console.print(f"{name:<13} {o['count']:>8}  {o['per_s']:>9}/s  p50 {o['p50_ms']:>8} ms  p99 {o['p99_ms']:>8} ms"
                      f"  errors {json.dumps(o['errors'])}  gas/tx {o['gas_per_tx']} ({o['tx']} tx){raw}",
                      soft_wrap=True)
    a, c = r["audit"], r["chain"]
    console.print(f"audit         {a['status']}, {a['problems']} problems, findings {a['findings']}, {a['seconds']} s "
                  f"(ref-burst at {r['audit_thresholds']['burst_items']} items a minute)", soft_wrap=True)
    console.print(f"chain         {c['blocks']} blocks, data dir {c['data_dir_bytes']} B, snapshot "
                  f"{c['snapshot_bytes']} B, journal {c['journal_bytes']} B, state dump {c['state_dump_bytes']} B, "
                  f"restart {c['restart_s']} s",
                  soft_wrap=True)
    console.print(f"node reads    {_node_reads(r['node_reads'])}", soft_wrap=True)
    console.print(f"run           set-up {r['setup_s']} s, whole {r['total_s']} s, load average "
                  f"{r['load_average_1m_before']} -> {r['load_average_1m_after']} on {r['cores']} cores")


def _node_reads(reads: dict) -> str:
    return (f"{reads.get('refused', 0)} refused past the per-address limit, {reads.get('timed_out', 0)} given up "
            f"waiting for a turn, {reads.get('long', 0)} run as long reads")
