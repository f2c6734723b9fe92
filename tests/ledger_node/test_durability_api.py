"""kill -9 of the embedded node while the merchant API keeps running, and while `make up` loads the demo city.

1. Rounds of kill -9 of the supervised node under the same mixed load as test_durability.py (SDK issuance, SENDERS
   issuers sending signed `issueBatch`, a client following every block, 1 s blocks), except that merchants redeem
   through the REAL API service (`uvicorn exchange_api.app:create_app`, as scripts/bench_api.py starts it: SQLite
   store, its relayer and indexer inside it). The API process is never restarted: the node dies and comes back
   under it, as in production, and merchants keep submitting through the outage (retrying with the same
   Idempotency-Key, as a merchant's till would). After each restart: every block a client was shown keeps its
   hash; every acknowledged issuance is on chain exactly once; every redemption the API answered 201/202 reaches a
   final state that matches the chain once the relayer has reconciled (on chain exactly once -> `confirmed`, never
   `failed`; not on chain -> `failed`); no consent is redeemed twice; the API's indexer reaches the node's head on
   the node's own blocks.
2. kill -9 of the node (its supervisor's process group) at a random moment while `citypoints deploy` and
   `citypoints demo` run (the last steps of `make up`, demo made smaller); the node is restarted, the loading
   resumed as a user re-running `make up` would, and the chain then audits clean as `citypoints audit --strict`
   judges it (no problems, no findings), with every block seen before the kill unchanged.

CI runs 2 API rounds and 1 demo loading. Deep mode: `CITYPOINTS_KILL_ROUNDS=50 CITYPOINTS_DEMO_KILL_ROUNDS=10
.venv/bin/python -m pytest tests/ledger_node/test_durability_api.py -p no:randomly -s`; `CITYPOINTS_KILL_SEED`
repeats a run's kill moments, `CITYPOINTS_KILL_BLOCK_PERIOD` changes the 1 s block period (test_durability.py's
knobs).
"""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from ledger_node import chain, paths
from ledger_node.harness import SupervisedNode, deploy_city, sign_issue_batch
from ledger_node.deploy.system import call, propose_and_execute
from scripts.bench_api import _consent, start_api, stop_api
from test_durability import (BLOCK_PERIOD, CREDITS, SENDERS, START_POINTS, Load, _block_hashes, _redeemed_consents,
                             check_after_restart)

ROUNDS = int(os.environ.get("CITYPOINTS_KILL_ROUNDS", "2"))
DEMO_ROUNDS = int(os.environ.get("CITYPOINTS_DEMO_KILL_ROUNDS", "1"))
MERCHANTS = 3                 # each redeems through the API with its own API key, one consent after another
RELAYERS = 2
RESIDENTS = 60
SETTLE_TIMEOUT_S = 120        # what the relayer gets to reconcile every acknowledged redemption after a restart
DEMO_RESIDENTS, DEMO_MERCHANTS = 24, 3
# deploy + demo of that size take about 38 block periods (measured: 38 s at 1 s blocks, 10.6 s at 0.2 s)
DEMO_LOADING_S = 38 * BLOCK_PERIOD + 2


def _seeded_rng() -> random.Random:
    seed = int(os.environ.get("CITYPOINTS_KILL_SEED", "0")) or random.randrange(1, 2**31)
    print(f"kill test: CITYPOINTS_KILL_SEED={seed}")
    return random.Random(seed)


# ---- 1. the API under the node's kill -9 -------------------------------------------------------------------------

@dataclass
class Acked:
    """A redemption the API answered 201/202 for: who signed it and with which consent nonce."""
    merchant: int          # index into the merchants (and their API keys)
    resident: str
    nonce: bytes
    http_status: int
    answered_status: str   # the record's status in the answer (pending / confirmed)
    round_no: int
    answered_at: float     # time.monotonic()


class ApiLoad(Load):
    """test_durability's Load (issuers, the SDK, a block follower) with the merchants redeeming through the API
    instead of from their own account. The API's merchants keep going through the node's outage until `api_stop`:
    the API is what stays up."""

    def __init__(self, api_url: str, api_keys: list[str], merchants, *args, **kwargs):
        super().__init__(*args, merchant=merchants[0], **kwargs)
        self.api_url, self.api_keys, self.merchants = api_url, api_keys, merchants
        self.api_acked: dict[str, Acked] = {}        # redemption id -> what was acknowledged
        self.api_refused: list[tuple[int, str]] = []  # (HTTP status, error code) of definite refusals
        self.api_unavailable = 0                       # 5xx / connection errors, retried with the same key
        self.api_stop = threading.Event()
        self.api_threads: list[threading.Thread] = []

    def run(self, nonces: dict[str, int]) -> list[threading.Thread]:
        self.api_threads = [threading.Thread(target=self._redeem_through_api, args=(k,), daemon=True)
                            for k in range(len(self.merchants))]
        for t in self.api_threads:
            t.start()
        return super().run(nonces)

    def _redeem(self, nonce: int) -> None:
        """Nothing here: the merchants redeem through the API (`_redeem_through_api`)."""

    def _redeem_through_api(self, k: int) -> None:
        """Merchant k's till: one consent at a time, one in eight waiting for the block (201), the others answered
        at once (202): mostly not waiting, so that consents are being persisted and sent when the node dies."""
        client = httpx.Client(base_url=self.api_url, timeout=30)
        merchant = self.merchants[k]
        seq = 0
        while not self.api_stop.is_set():
            resident = self.residents[(seq * len(self.merchants) + k) % len(self.residents)]
            consent = _consent(self.chain_id, self.redemption, resident, merchant, CREDITS)
            wait = seq % 8 == 0
            answer = self._submit(client, k, consent, wait)
            if answer is not None:
                status, body = answer
                with self.lock:
                    self.api_acked[body["id"]] = Acked(k, resident.address, bytes.fromhex(consent["nonce"][2:]),
                                                       status, body["status"], self.round_no, time.monotonic())
            seq += 1

    def _submit(self, client: httpx.Client, k: int, consent: dict, wait: bool) -> tuple[int, dict] | None:
        """POST /v1/redemptions until the API answers for good: (status, body) for 201/202, None for a refusal or
        when the round ends first. A 5xx or a lost connection is retried with the same Idempotency-Key."""
        headers = {"Authorization": f"Bearer {self.api_keys[k]}", "Idempotency-Key": consent["nonce"]}
        while not self.api_stop.is_set():
            try:
                resp = client.post("/v1/redemptions", json={**consent, "wait": wait}, headers=headers)
            except httpx.HTTPError:
                resp = None
            if resp is not None and resp.status_code in (201, 202):
                return resp.status_code, resp.json()
            code = _error_code(resp) if resp is not None else ""
            if resp is not None and resp.status_code < 500 and code != "idempotency_in_progress":
                with self.lock:
                    self.api_refused.append((resp.status_code, code))
                return None
            with self.lock:  # the node is away (503), or the first try with this key is still running: again
                self.api_unavailable += 1
            time.sleep(0.2)
        return None


def _error_code(resp: httpx.Response) -> str:
    try:
        return (resp.json().get("error") or {}).get("code", "")
    except ValueError:
        return ""


def _city(node: SupervisedNode, work) -> dict:
    """The load's city on the node, built at once (automine): contracts, issuers, merchants, residents holding
    START_POINTS, relayer accounts with RELAYER_ROLE; then 1 s blocks."""
    operator = Account.from_key((node.home / "var" / "keys" / "operator.key").read_text().strip())
    w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
    issuers = [Account.create() for _ in range(SENDERS)]
    sdk_issuer, merchants = Account.create(), [Account.create() for _ in range(MERCHANTS)]
    residents = [Account.create() for _ in range(RESIDENTS)]
    relayers = [Account.create() for _ in range(RELAYERS)]
    node.operator("evm_setAutomine", [True])
    contracts = deploy_city(w3, operator, residents=[r.address for r in residents],
                            issuers=[i.address for i in [*issuers, sdk_issuer]],
                            merchants=[m.address for m in merchants])
    membership = contracts["Membership"]
    relayer_role = membership.functions.RELAYER_ROLE().call()
    propose_and_execute(w3, contracts["Consortium"], [operator],
                        [call(membership, "grantRole", relayer_role, r.address) for r in relayers], "relayers")
    chain.fund(w3, operator, [r.address for r in relayers], 10**21)
    chain_id = w3.eth.chain_id
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(sign_issue_batch(
        issuers[0], contracts["PointsLedger"].address, 0, chain_id, [r.address for r in residents],
        [START_POINTS] * len(residents), [keccak(f"start-{r.address}".encode()) for r in residents])))
    assert receipt["status"] == 1
    node.operator("evm_setIntervalMining", [BLOCK_PERIOD])
    return dict(w3=w3, contracts=contracts, issuers=issuers, sdk_issuer=sdk_issuer, merchants=merchants,
                residents=residents, relayers=relayers, chain_id=chain_id)


def _api_redemptions(client: httpx.Client, keys: list[str]) -> dict[str, dict]:
    """Every redemption the API holds, as each merchant lists its own (GET /v1/redemptions, page by page)."""
    records: dict[str, dict] = {}
    for key in keys:
        after = None
        while True:
            params = {"limit": 100, **({"starting_after": after} if after else {})}
            resp = client.get("/v1/redemptions", params=params, headers={"Authorization": f"Bearer {key}"})
            assert resp.status_code == 200, resp.text
            page = resp.json()
            records.update((r["id"], r) for r in page["data"])
            if not page["has_more"] or not page["data"]:
                break
            after = page["data"][-1]["id"]
    return records


def _settled_redemptions(api_url: str, keys: list[str], acked: dict[str, Acked], timeout: float) -> dict[str, dict]:
    """Every acknowledged redemption as the API reports it once all reached a final state (confirmed or failed);
    fails naming those still pending after `timeout` (the relayer did not reconcile them)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=api_url, timeout=30) as client:
        while True:
            records = _api_redemptions(client, keys)
            unknown = sorted(set(acked) - set(records))
            assert not unknown, f"acknowledged redemptions unknown to the API: {unknown[:3]}"
            pending = sorted(rid for rid in acked if records[rid]["status"] not in ("confirmed", "failed"))
            if not pending:
                return {rid: records[rid] for rid in acked}
            assert time.monotonic() < deadline, \
                f"{len(pending)} acknowledged redemptions still pending {timeout}s after the restart: {pending[:3]}"
            time.sleep(0.5)


def _check_redemptions(w3: Web3, redemption, final: dict[str, dict], acked: dict[str, Acked], round_no: int) -> dict:
    """The API's final word on each acknowledged redemption against the chain: no consent redeemed twice; on chain
    -> `confirmed` at the transaction and block the API names; not on chain -> `failed`. Counts by outcome."""
    redeemed = _redeemed_consents(w3, redemption)
    doubled = {k: c for k, c in redeemed.items() if c != 1}
    assert not doubled, f"round {round_no}: consents redeemed more than once: {doubled}"
    false_failed, lost, moved = [], [], []
    outcome = {"confirmed": 0, "failed": 0}
    for rid, ack in acked.items():
        record = final[rid]
        on_chain = redeemed.get((ack.resident, ack.nonce), 0) == 1
        outcome[record["status"]] += 1
        if on_chain and record["status"] != "confirmed":
            false_failed.append((rid, record["status"], record["failureCode"]))
        elif not on_chain and record["status"] != "failed":
            lost.append((rid, record["status"], record["txHash"]))
        elif on_chain:
            receipt = w3.eth.get_transaction_receipt(record["txHash"])
            if receipt["status"] != 1 or receipt["blockNumber"] != record["blockNumber"]:
                moved.append((rid, record["txHash"], record["blockNumber"], receipt["blockNumber"]))
    assert not false_failed, f"round {round_no}: on chain but reported failed by the API: {false_failed[:3]}"
    assert not lost, f"round {round_no}: reported {lost[0][1]} by the API but not on chain: {lost[:3]}"
    assert not moved, f"round {round_no}: the API names another transaction or block than the chain: {moved[:3]}"
    return outcome


def _wait_indexer_caught_up(api_url: str, db_path, w3: Web3, timeout: float = 60) -> int:
    """Until the API's indexer has processed the node's head as it is now, on the node's own block (the cursor's
    hash is the node's hash at that height); its height."""
    head = w3.eth.block_number
    deadline = time.monotonic() + timeout
    cursor = None
    while time.monotonic() < deadline:
        status = httpx.get(api_url + "/v1/indexer", timeout=10).json()
        if status["block"] >= head:
            with sqlite3.connect(db_path) as db:
                cursor = db.execute("SELECT block_number, block_hash FROM idx_cursor WHERE id = 1").fetchone()
            if cursor and cursor[0] >= head and w3.eth.get_block(cursor[0])["hash"].to_0x_hex() == cursor[1]:
                return cursor[0]
        time.sleep(0.2)
    raise AssertionError(f"the API's indexer did not reach the node's head {head} on the node's blocks "
                         f"(cursor {cursor}, status {httpx.get(api_url + '/v1/indexer', timeout=10).json()})")


@pytest.mark.timeout(max(600, 60 * ROUNDS))
def test_kill9_underApiLoad_everyAcknowledgedRedemptionSettlesAsOnChain(tmp_path, artifacts):
    started = time.monotonic()
    node = SupervisedNode(tmp_path / "node", block_period=BLOCK_PERIOD)
    node.start()
    api_proc = None
    try:
        city = _city(node, tmp_path)
        w3, contracts = city["w3"], city["contracts"]
        api_city = SimpleNamespace(chain_id=city["chain_id"], merchants=city["merchants"], relayers=city["relayers"],
                                   addresses={name: c.address for name, c in contracts.items()})
        api_proc, api_url, api_keys = start_api(api_city, node.url, tmp_path)
        seen: dict[int, str] = _block_hashes(node.url, range(w3.eth.block_number + 1))
        all_acked: dict[str, Acked] = {}
        all_sdk: dict[bytes, tuple[str, int]] = {}
        issued = unavailable = 0
        outcomes = {"confirmed": 0, "failed": 0}
        rng = _seeded_rng()
        print(f"kill test (API): set-up {time.monotonic() - started:.0f}s")
        for r in range(ROUNDS):
            round_started = time.monotonic()
            senders = [*city["issuers"], city["merchants"][0]]
            nonces = {a.address: w3.eth.get_transaction_count(a.address, "pending") for a in senders}
            load = ApiLoad(api_url, api_keys, city["merchants"], node.url, contracts, city["issuers"],
                           residents=city["residents"], chain_id=city["chain_id"], round_no=r,
                           sdk_issuer=city["sdk_issuer"], seen_up_to=max(seen))
            threads = load.run(nonces)
            time.sleep(rng.uniform(0.3, 2.5 * BLOCK_PERIOD + 0.5))
            node.kill()
            killed_at = time.monotonic()
            load.stop.set()
            for t in threads:
                t.join(15)
            seen.update(load.blocks_seen)
            time.sleep(rng.uniform(0.0, 1.5))      # the API meets a dead node; merchants keep submitting
            node.start()
            back_at = time.monotonic()
            time.sleep(rng.uniform(0.0, 1.0))      # ... and go on after the restart
            load.api_stop.set()
            for t in load.api_threads:
                t.join(60)
            all_acked.update(load.api_acked)
            unavailable += load.api_unavailable
            assert not load.api_refused, f"round {r}: the API refused consents that were valid: {load.api_refused}"
            w3, _, redemption = check_after_restart(node, contracts, load, seen, all_sdk, r)
            issued += len(load.acked)
            # what the API acknowledged, once its relayer has reconciled with the restarted node
            final = _settled_redemptions(api_url, api_keys, all_acked, SETTLE_TIMEOUT_S)
            round_outcome = _check_redemptions(w3, redemption, final, all_acked, r)
            height = _wait_indexer_caught_up(api_url, tmp_path / "api.db", w3)
            while_down = sum(killed_at <= a.answered_at <= back_at for a in load.api_acked.values())
            print(f"kill test (API) round {r}: {time.monotonic() - round_started:.1f}s, "
                  f"{len(load.api_acked)} redemptions acknowledged this round ({while_down} while the node was "
                  f"down), {load.api_unavailable} retried "
                  f"(node away), all so far {round_outcome}, indexer at {height}")
            outcomes = round_outcome
        result = {"rounds": ROUNDS, "acknowledgedIssuances": issued, "sdkConfirmed": len(all_sdk),
                  "redemptionsAcknowledged": len(all_acked), "redemptions": outcomes, "retriedSubmissions": unavailable,
                  "blocksCompared": len(seen)}
        print(f"kill test (API): {result} in {time.monotonic() - started:.0f}s")
        assert outcomes["confirmed"] > 0 and issued > 0 and len(all_sdk) > 0
        assert any(a.http_status == 201 for a in all_acked.values()) \
            and any(a.http_status == 202 for a in all_acked.values())
    finally:
        stop_api(api_proc)
        node.stop()


# ---- 2. the demo city's loading under the node's kill -9 ---------------------------------------------------------

class BlockFollower:
    """A client following the chain in the background: the hash of every block it was shown, until the node goes
    away."""

    def __init__(self, url: str):
        self.url = url
        self.seen: dict[int, str] = {}
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        with httpx.Client(timeout=5) as client:
            while True:
                try:
                    head = int(client.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber",
                                                           "params": []}).json()["result"], 16)
                    start = max(self.seen, default=-1) + 1
                    if head >= start:
                        self.seen.update(_block_hashes(self.url, range(start, head + 1)))
                except (httpx.HTTPError, KeyError, TypeError, ValueError):
                    return
                time.sleep(0.05)


def _start_loading(env: dict) -> subprocess.Popen:
    """`make up`'s chain steps after `node start`: `citypoints deploy`, then `citypoints demo` (smaller), in a
    process group of their own."""
    cp = f"{sys.executable} -m scripts.cli"
    script = f"{cp} deploy && {cp} demo --residents {DEMO_RESIDENTS} --merchants {DEMO_MERCHANTS}"
    return subprocess.Popen(["bash", "-c", script], env=env, cwd=paths.ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _end_loading(loader: subprocess.Popen, grace: float = 20) -> str:
    """The loader's output once it gave up on the dead node by itself, or was killed after `grace` seconds (as
    the machine's crash would); which of the two, and where it was."""
    try:
        out, _ = loader.communicate(timeout=grace)
        how = f"exited {loader.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(loader.pid, signal.SIGKILL)
        out, _ = loader.communicate()
        how = "killed"
    tail = " ".join(out.split())[-300:]
    return f"{how}: {tail}"


def _resume_loading(env: dict) -> str:
    """Re-running `make up`'s steps after the restart, as the user would: both must succeed."""
    loader = _start_loading(env)
    out, _ = loader.communicate(timeout=600)
    assert loader.returncode == 0, f"resuming the demo loading after the restart failed: {out[-2000:]}"
    assert "demo city ready" in out, out[-2000:]
    return out


@pytest.mark.timeout(max(300, 180 * DEMO_ROUNDS))
def test_kill9_duringDemoLoading_resumesAndAuditsClean(tmp_path, artifacts):
    from ledger_node.audit.run import AuditOptions, audit

    rng = _seeded_rng()
    for r in range(DEMO_ROUNDS):
        round_started = time.monotonic()
        node = SupervisedNode(tmp_path / f"round-{r}", block_period=BLOCK_PERIOD)
        node.start()
        loader = None
        try:
            follower = BlockFollower(node.url)
            loader = _start_loading(node.env)
            kill_at = rng.uniform(0.5, DEMO_LOADING_S)
            try:
                loader.wait(kill_at)
                finished_first = True
            except subprocess.TimeoutExpired:
                finished_first = False
            node.kill()
            follower.thread.join(10)
            loader_end = _end_loading(loader)
            progress_file = node.home / "var" / "demo.progress.json"
            done = json.loads(progress_file.read_text())["done"] if progress_file.exists() else []
            deployed = (node.home / "var" / "deployment.json").exists()
            print(f"kill test (demo) round {r}: killed at {kill_at:.1f}s (deployed: {deployed}, steps done: {done}"
                  f"{', loading had finished' if finished_first else ''}); loader {loader_end}")
            node.start()
            seen = follower.seen
            now = _block_hashes(node.url, seen)
            changed = {n: (h, now[n]) for n, h in seen.items() if now[n] != h}
            assert not changed, f"round {r}: blocks seen before the kill changed after the restart: {changed}"
            _resume_loading(node.env)
            deployment = json.loads((node.home / "var" / "deployment.json").read_text())
            report = audit(AuditOptions(node.url, dict(deployment["contracts"]))).report
            assert report["problems"] == [], f"round {r}: the audit found problems: {report['problems']}"
            assert report["findings"] == [], f"round {r}: `audit --strict` fails on findings: {report['findings']}"
            now = _block_hashes(node.url, seen)
            assert {n: now[n] for n in seen} == seen, f"round {r}: blocks seen before the kill changed"
            names = report["counts"]["eventsByName"]
            print(f"kill test (demo) round {r}: {time.monotonic() - round_started:.1f}s, audit {report['status']}, "
                  f"{len(seen)} blocks compared, events {({k: names.get(k) for k in ('Redeemed', 'Exchanged', 'Refunded', 'MemberAdded')})}")
        finally:
            if loader is not None and loader.poll() is None:
                os.killpg(loader.pid, signal.SIGKILL)
                loader.wait()
            node.stop()


def test_demoLoading_runAgainFromEveryStep_sendsNothingTwice(tmp_path, artifacts):
    """Every step of the loading is safe to run again whatever part of it the chain already holds (a kill can
    land after a step's last transaction and before its progress was saved): with no step recorded as done, a
    second loading adds no exchange, redemption, refund, period or payment, and the city still audits clean."""
    from ledger_node.audit.run import AuditOptions, audit

    node = SupervisedNode(tmp_path / "node", block_period=0)
    node.start()
    try:
        _resume_loading(node.env)
        deployment = json.loads((node.home / "var" / "deployment.json").read_text())
        first = audit(AuditOptions(node.url, dict(deployment["contracts"]))).report["counts"]["eventsByName"]
        w3 = Web3(Web3.HTTPProvider(node.url))
        ledger = chain.bind(w3, "PointsLedger", deployment["contracts"]["PointsLedger"])
        supply = lambda: [ledger.functions.totalSupply(s).call() for s in range(1, 5)]  # noqa: E731
        supply_first = supply()
        progress_file = node.home / "var" / "demo.progress.json"
        progress = json.loads(progress_file.read_text())
        progress_file.write_text(json.dumps({**progress, "done": []}))
        _resume_loading(node.env)
        report = audit(AuditOptions(node.url, dict(deployment["contracts"]))).report
        again = report["counts"]["eventsByName"]
        kinds = ("Exchanged", "Redeemed", "Refunded", "PeriodClosed", "PaymentRecorded", "PaymentConfirmed",
                 "MemberAdded", "SchemeAdded", "ResidentRegistered", "ProposalCreated", "ProposalExecuted",
                 "ProposalApprovedBySig", "IssuerAccountsSet", "AuditAttested")
        assert {k: again.get(k) for k in kinds} == {k: first.get(k) for k in kinds}
        # the issuance is sent again and the ledger skips every ref it holds (the SDK's own retry rule)
        assert supply() == supply_first
        assert first.get("Redeemed") and first.get("PaymentConfirmed") and first.get("AuditAttested") == 1
        assert report["problems"] == [] and report["findings"] == []
    finally:
        node.stop()
