"""The embedded node keeps what it acknowledged: kill -9 under concurrent issuance and redemption, restart, and
every acknowledged transaction, ref and redemption consent is on chain exactly once, on the very same blocks.

The load runs on the real contracts (PointsLedger, Redemption) with blocks every period (0.25 s in `make test`, the
city's 1 s in `make test-deep`): an issuer through the
issuer SDK (`IssuerClient.issue`, each confirmed on chain), SENDERS issuers sending signed `issueBatch`, a
merchant submitting residents' EIP-712 signed redemption consents one per transaction (the API relayer's
transactions, without the API), and a client following every block. The node is killed (`kill -9`) at a random
moment of each round; after each restart every block any client was shown has the same hash, and every
acknowledged transaction (a hash was returned) and every SDK-confirmed issuance is on chain exactly once.
CI runs 3 rounds on the default engine (anvil; a snapshot under load every other round) and 2 on Hardhat/EDR.
The deep mode (`make test-deep`): `CITYPOINTS_KILL_ROUNDS=50 .venv/bin/python -m pytest
tests/ledger_node/test_durability.py -k underLoad -p no:randomly -s` (`CITYPOINTS_KILL_SEED` repeats a run's
kill moments, `CITYPOINTS_KILL_BLOCK_PERIOD` sets the period; test-deep sets 1).
"""
from __future__ import annotations

import os
import random
import threading
import time

import httpx
import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from ledger_node.node import journal, state_file
from ledger_node.harness import RATE, SupervisedNode, deploy_city, sign_issue_batch, sign_redemption
from node_tools import chain_with_transfers

ROUNDS = int(os.environ.get("CITYPOINTS_KILL_ROUNDS", "3"))
BLOCK_PERIOD = float(os.environ.get("CITYPOINTS_KILL_BLOCK_PERIOD", "0.25"))
SENDERS = 4
ITEMS_PER_TX = 10
START_POINTS = 10**9        # every resident's balance before the load, so every redemption can be paid
CREDITS = RATE // 10**6     # a redemption of one point's worth of credit cents


class Load:
    """SENDERS issuers sending issueBatch and a merchant redeeming residents' consents, concurrently; remembers what
    the node acknowledged."""

    def __init__(self, url: str, contracts: dict, issuers, merchant, residents, chain_id: int, round_no: int,
                 sdk_issuer=None, seen_up_to: int = -1):
        self.url, self.ledger, self.redemption = url, contracts["PointsLedger"].address, contracts["Redemption"].address
        self.issuers, self.merchant, self.residents = issuers, merchant, residents
        self.chain_id, self.round_no = chain_id, round_no
        self.sdk_issuer = sdk_issuer
        self.acked: dict[str, list[bytes]] = {}   # tx hash -> refs
        self.acked_consents: dict[str, tuple[str, bytes]] = {}  # tx hash -> (resident, consent nonce)
        self.sdk_confirmed: dict[bytes, tuple[str, int]] = {}  # on-chain ref -> (tx hash, block) the SDK confirmed
        self.seen_up_to = seen_up_to
        self.sdk_errors: list[str] = []
        self.sent_refs: set[bytes] = set()
        self.blocks_seen: dict[int, str] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self, nonces: dict[str, int]) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._send, args=(i, issuer, nonces[issuer.address]), daemon=True)
                   for i, issuer in enumerate(self.issuers)]
        threads.append(threading.Thread(target=self._redeem, args=(nonces[self.merchant.address],), daemon=True))
        self.sdk_thread = None
        if self.sdk_issuer:   # not in `threads`: it rides through the kill (its retries outlast the restart)
            self.sdk_thread = threading.Thread(target=self._issue_with_sdk, daemon=True)
            self.sdk_thread.start()
        threads.append(threading.Thread(target=self._watch_blocks, daemon=True))
        for t in threads:
            t.start()
        return threads

    def _send(self, index: int, issuer, nonce: int) -> None:
        client = httpx.Client(timeout=10)
        seq = 0
        while not self.stop.is_set():
            refs = [keccak(f"r{self.round_no}-s{index}-{seq}-{k}".encode()) for k in range(ITEMS_PER_TX)]
            people = [self.residents[(seq * ITEMS_PER_TX + k + index) % len(self.residents)].address
                      for k in range(ITEMS_PER_TX)]
            raw = sign_issue_batch(issuer, self.ledger, nonce, self.chain_id, people, [1 + k for k in range(ITEMS_PER_TX)],
                                   refs)
            with self.lock:
                self.sent_refs.update(refs)
            tx_hash = self._acknowledged(client, raw)
            if tx_hash is None:
                return
            with self.lock:
                self.acked[tx_hash] = refs
            nonce += 1
            seq += 1

    def _acknowledged(self, client: httpx.Client, raw: str) -> str | None:
        """The hash the node acknowledged `raw` with, or None when the node is gone (never acknowledged)."""
        try:
            answer = client.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                                                 "params": [raw]}).json()
        except httpx.HTTPError:
            return None
        assert "result" in answer, answer
        return answer["result"]

    def _redeem(self, nonce: int) -> None:
        """One consent per transaction, each by a resident in turn, as the API's relayer would submit them."""
        client = httpx.Client(timeout=10)
        deadline = int(time.time()) + 86400
        seq = 0
        while not self.stop.is_set():
            resident = self.residents[seq % len(self.residents)]
            consent_nonce = keccak(f"c{self.round_no}-{seq}".encode())
            raw = sign_redemption(resident, self.merchant, self.redemption, nonce, self.chain_id, CREDITS,
                                  consent_nonce, deadline)
            tx_hash = self._acknowledged(client, raw)
            if tx_hash is None:
                return
            with self.lock:
                self.acked_consents[tx_hash] = (resident.address, consent_nonce)
            nonce += 1
            seq += 1

    def _issue_with_sdk(self) -> None:
        """The issuer SDK, one confirmed issuance after another, as an issuer's program would run it. Its retries
        carry the issuance in flight at the kill through the restart: it must then be confirmed, exactly once."""
        from issuer_sdk import errors
        from issuer_sdk.client import ClientConfig, IssuerClient
        from issuer_sdk.rpc import RetryPolicy
        from issuer_sdk.signer import LocalSigner

        config = ClientConfig(retry=RetryPolicy(attempts=60, max_backoff_s=1.0), request_timeout_s=10,
                              confirm_timeout_s=180)
        try:
            client = IssuerClient(self.url, self.ledger, LocalSigner(self.sdk_issuer.key), 1, keccak(b"kill-test"),
                                  chain_id=self.chain_id, config=config)
        except errors.IssuerError as exc:
            self.sdk_errors.append(repr(exc))
            return
        seq = 0
        while not self.stop.is_set():
            resident = self.residents[seq % len(self.residents)].address
            try:
                result = client.issue(resident, 7, f"sdk-r{self.round_no}-{seq}")
            except errors.IssuerError as exc:
                self.sdk_errors.append(repr(exc))
                return
            assert result.status == "issued", result
            with self.lock:
                self.sdk_confirmed[bytes(result.onchain_ref)] = (result.tx_hash, result.block_number)
            seq += 1

    def _watch_blocks(self) -> None:
        """A client following the chain: reads every block, in order, as soon as the node shows it."""
        client = httpx.Client(timeout=5)
        while not self.stop.is_set():
            try:
                head = int(client.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber",
                                                       "params": []}).json()["result"], 16)
                for number in range(self.seen_up_to + 1, head + 1):
                    block = client.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber",
                                                        "params": [hex(number), False]}).json()["result"]
                    self.blocks_seen[number] = block["hash"]
                    self.seen_up_to = number
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                return
            time.sleep(0.02)


def _issued_refs(w3: Web3, ledger) -> dict[bytes, int]:
    counts: dict[bytes, int] = {}
    event = ledger.events.PointsIssued()
    query = {"address": ledger.address, "fromBlock": 0, "toBlock": "latest", "topics": [event.topic]}
    for log in w3.eth.get_logs(query):
        ev = event.process_log(log)
        skipped = set(ev["args"]["skipped"])
        for i, ref in enumerate(ev["args"]["refs"]):
            if i not in skipped:
                counts[bytes(ref)] = counts.get(bytes(ref), 0) + 1
    return counts


def _redeemed_consents(w3: Web3, redemption) -> dict[tuple[str, bytes], int]:
    """How many times each (resident, consent nonce) was redeemed on chain."""
    counts: dict[tuple[str, bytes], int] = {}
    event = redemption.events.Redeemed()
    query = {"address": redemption.address, "fromBlock": 0, "toBlock": "latest", "topics": [event.topic]}
    for log in w3.eth.get_logs(query):
        args = event.process_log(log)["args"]
        key = (args["resident"], bytes(args["nonce"]))
        counts[key] = counts.get(key, 0) + 1
    return counts


def _wait_mined(w3: Web3, hashes, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for h in hashes:
        while True:
            try:
                receipt = w3.eth.get_transaction_receipt(h)
                assert receipt["status"] == 1, f"acknowledged transaction {h} reverted"
                break
            except Exception as exc:
                if "not found" not in str(exc).lower() and "TransactionNotFound" not in type(exc).__name__:
                    raise
                assert time.monotonic() < deadline, f"acknowledged transaction {h} never mined after restart"
                time.sleep(0.1)


def _block_hashes(url: str, numbers) -> dict[int, str | None]:
    """The hashes the node shows now for `numbers` (one batch request)."""
    numbers = sorted(numbers)
    answers = httpx.post(url, json=[{"jsonrpc": "2.0", "id": n, "method": "eth_getBlockByNumber",
                                     "params": [hex(n), False]} for n in numbers], timeout=60).json()
    return {a["id"]: (a.get("result") or {}).get("hash") for a in answers}


def check_after_restart(node: SupervisedNode, contracts: dict, load: Load, seen: dict[int, str],
                        all_sdk: dict[bytes, tuple[str, int]], round_no: int, mined_too=()) -> tuple:
    """What holds after every restart: the SDK's issuance across it completed (its confirmations join `all_sdk`);
    every block any client was shown, in any round, is there with the same hash; every acknowledged issuance, and
    every one the SDK ever confirmed, is on chain exactly once. A client of the restarted node and its ledger and
    redemption contracts."""
    load.sdk_thread.join(180)
    assert not load.sdk_thread.is_alive() and not load.sdk_errors, \
        f"round {round_no}: the SDK's issuance across the restart did not complete: {load.sdk_errors}"
    all_sdk.update(load.sdk_confirmed)
    w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
    ledger, redemption = (w3.eth.contract(address=c.address, abi=c.abi)
                          for c in (contracts["PointsLedger"], contracts["Redemption"]))
    now = _block_hashes(node.url, seen)
    changed = {n: (h, now[n]) for n, h in seen.items() if now[n] != h}
    assert not changed, f"round {round_no}: blocks shown to clients changed after restart (was, now): {changed}"
    _wait_mined(w3, [*load.acked, *mined_too])
    counts = _issued_refs(w3, ledger)
    assert all(c == 1 for c in counts.values()), "a ref was issued more than once"
    missing = [h for h, refs in load.acked.items() if any(counts.get(ref) != 1 for ref in refs)]
    assert not missing, f"round {round_no}: acknowledged issuances missing after restart: {missing[:3]}"
    missing = [h for ref, (h, _) in all_sdk.items() if counts.get(ref) != 1]
    assert not missing, f"round {round_no}: SDK-confirmed issuances missing after restart: {missing[:3]}"
    return w3, ledger, redemption


def _kill_rounds(tmp_path, engine: str, rounds: int, snapshot_every: int = 0, block_period: float = BLOCK_PERIOD) -> dict:
    node = SupervisedNode(tmp_path, engine=engine, block_period=block_period)
    node.start()
    try:
        operator = Account.from_key((tmp_path / "var" / "keys" / "operator.key").read_text().strip())
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        issuers = [Account.create() for _ in range(SENDERS)]
        sdk_issuer = Account.create()
        merchant = Account.create()
        residents = [Account.create() for _ in range(60)]
        node.operator("evm_setAutomine", [True])  # set-up quickly; the load runs on block periods
        contracts = deploy_city(w3, operator, residents=[r.address for r in residents],
                                issuers=[i.address for i in [*issuers, sdk_issuer]], merchants=[merchant.address])
        chain_id = w3.eth.chain_id
        w3.eth.send_raw_transaction(sign_issue_batch(
            issuers[0], contracts["PointsLedger"].address, 0, chain_id, [r.address for r in residents],
            [START_POINTS] * len(residents), [keccak(f"start-{r.address}".encode()) for r in residents]))
        node.operator("evm_setIntervalMining", [block_period])
        all_acked: dict[str, list[bytes]] = {}
        all_consents: dict[str, tuple[str, bytes]] = {}
        all_sdk: dict[bytes, tuple[str, int]] = {}
        seen: dict[int, str] = _block_hashes(node.url, range(w3.eth.block_number + 1))
        seed = int(os.environ.get("CITYPOINTS_KILL_SEED", "0")) or random.randrange(1, 2**31)
        print(f"kill test: CITYPOINTS_KILL_SEED={seed}")
        rng = random.Random(seed)
        rounds_started = time.monotonic()
        for r in range(rounds):
            nonces = {a.address: w3.eth.get_transaction_count(a.address, "pending") for a in [*issuers, merchant]}
            load = Load(node.url, contracts, issuers, merchant, residents, chain_id, r, sdk_issuer, max(seen))
            threads = load.run(nonces)
            time.sleep(rng.uniform(0.3, 2.5 * block_period + 0.5))
            if snapshot_every and r % snapshot_every == 0:
                node.operator("citypoints_snapshot")     # anvil: snapshot under load, journal continues after it
                time.sleep(rng.uniform(0.0, 0.5))
            node.kill()
            load.stop.set()
            for t in threads:
                t.join(15)
            all_acked.update(load.acked)
            all_consents.update(load.acked_consents)
            seen.update(load.blocks_seen)
            node.start()
            w3, _, redemption = check_after_restart(node, contracts, load, seen, all_sdk, r, load.acked_consents)
            for ref, (h, number) in load.sdk_confirmed.items():
                assert w3.eth.get_transaction_receipt(h)["blockNumber"] == number, f"round {r}: {h} moved blocks"
            redeemed = _redeemed_consents(w3, redemption)
            assert all(c == 1 for c in redeemed.values()), "a consent was redeemed more than once"
            missing = [h for h, consent in all_consents.items() if redeemed.get(consent) != 1]
            assert not missing, f"round {r}: acknowledged redemptions missing after restart: {missing[:3]}"
        round_s = (time.monotonic() - rounds_started) / max(rounds, 1)
        # a clean stop and start keeps everything too, and every block seen by a client is unchanged
        before = {n: w3.eth.get_block(n)["hash"] for n in range(w3.eth.block_number + 1)}
        node.stop()
        node.start()
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert {n: w3.eth.get_block(n)["hash"] for n in before} == before
        for number, block_hash in seen.items():
            assert w3.eth.get_block(number)["hash"].to_0x_hex() == block_hash
        return {"rounds": rounds, "acknowledged": len(all_acked), "acknowledgedConsents": len(all_consents),
                "sdkConfirmed": len(all_sdk), "blocks": w3.eth.block_number, "blocksCompared": len(seen),
                "secondsPerRound": round(round_s, 1)}
    finally:
        node.stop()


@pytest.mark.timeout(max(600, 30 * ROUNDS))  # the deep mode: rounds slow down as the chain grows
def test_kill9_underLoad_keepsEveryAcknowledgedIssuanceAndConsentExactlyOnce(tmp_path, artifacts):
    """The default engine (anvil), with a snapshot under load every other round: restart = snapshot + journal."""
    started = time.monotonic()
    result = _kill_rounds(tmp_path, "anvil", ROUNDS, snapshot_every=2)
    print(f"kill test (anvil): {result} in {time.monotonic() - started:.0f}s")
    assert result["acknowledged"] > 0 and result["acknowledgedConsents"] > 0 and result["sdkConfirmed"] > 0


def test_kill9_onHardhatEngine_replaysTheWholeJournal(tmp_path, artifacts):
    result = _kill_rounds(tmp_path, "hardhat", 2, block_period=0.25)
    print(f"kill test (hardhat): {result}")
    assert result["acknowledged"] > 0 and result["acknowledgedConsents"] > 0


# ---- corruption: detected on start, repaired where safe, reported ----------------------------------------------

def test_start_cutsTornJournalTail_andReportsIt(tmp_path):
    node, hashes = chain_with_transfers(tmp_path)
    height = Web3(Web3.HTTPProvider(node.url)).eth.block_number
    node.kill()
    seg = journal.segments(node.chain_dir / "journal")[-1]
    with open(seg, "ab") as f:                       # a write cut short by the crash
        f.write(journal.encode({"k": "tx", "raw": "0x" + "ab" * 100})[:37])
    node.start()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert w3.eth.block_number == height
        assert all(w3.eth.get_transaction_receipt(h)["status"] == 1 for h in hashes)
        assert "cut a torn tail" in (node.chain_dir / "node.log").read_text()
    finally:
        node.stop()


def test_start_refusesJournalDamagedInTheMiddle(tmp_path):
    node, _ = chain_with_transfers(tmp_path)
    node.kill()
    seg = journal.segments(node.chain_dir / "journal")[-1]
    data = bytearray(seg.read_bytes())
    data[12] ^= 0xFF                                 # inside the first record: valid records follow it
    seg.write_bytes(bytes(data))
    with pytest.raises(Exception, match="journal is damaged"):
        node.start(timeout=60)


def test_start_refusesTruncatedSnapshot(tmp_path):
    node, _ = chain_with_transfers(tmp_path)
    node.stop()                                       # a clean stop writes state.dump
    path = node.chain_dir / "state.dump"
    path.write_text(path.read_text()[:-7])
    with pytest.raises(Exception, match="digest mismatch"):
        node.start(timeout=60)
    with pytest.raises(state_file.CorruptState):
        state_file.read_meta(path)


# ---- backup and restore ----------------------------------------------------------------------------------------

def test_backupWhileRunning_restoresTheSameChainElsewhere(tmp_path, monkeypatch):
    from ledger_node.node import backup

    node, hashes = chain_with_transfers(tmp_path / "a")
    monkeypatch.setenv("CITYPOINTS_HOME", str(node.home))
    monkeypatch.setenv("CITYPOINTS_RPC_PORT", str(node.port))
    w3 = Web3(Web3.HTTPProvider(node.url))
    blocks = {n: w3.eth.get_block(n)["hash"] for n in range(w3.eth.block_number + 1)}
    manifest = backup.backup(tmp_path / "backup")
    assert manifest["height"] == max(blocks)
    _more_transfers(w3, node, 3)                       # after the backup: not in it
    node.stop()

    other = SupervisedNode(tmp_path / "b")
    monkeypatch.setenv("CITYPOINTS_HOME", str(other.home))
    monkeypatch.setenv("CITYPOINTS_RPC_PORT", str(other.port))
    (other.home / "var" / "keys").mkdir(parents=True)
    (other.home / "var" / "keys" / "operator.key").write_text((node.home / "var" / "keys" / "operator.key").read_text())
    assert "restored" in backup.restore(tmp_path / "backup")
    other.start()
    try:
        w3b = Web3(Web3.HTTPProvider(other.url))
        assert w3b.eth.block_number == max(blocks)
        assert {n: w3b.eth.get_block(n)["hash"] for n in blocks} == blocks
        assert all(w3b.eth.get_transaction_receipt(h)["status"] == 1 for h in hashes)
    finally:
        other.stop()


def test_restore_refusesDamagedBackup(tmp_path, monkeypatch):
    from ledger_node.node import backup

    node, _ = chain_with_transfers(tmp_path / "a", n=2)
    node.stop()
    monkeypatch.setenv("CITYPOINTS_HOME", str(node.home))
    monkeypatch.setenv("CITYPOINTS_RPC_PORT", str(node.port))
    backup.backup(tmp_path / "backup")                 # the node is stopped: plain copy
    state = tmp_path / "backup" / "state.dump"
    state.write_text(state.read_text()[:-5])
    monkeypatch.setenv("CITYPOINTS_HOME", str(tmp_path / "b"))
    with pytest.raises(backup.BackupError, match="damaged"):
        backup.restore(tmp_path / "backup")


def _more_transfers(w3: Web3, node: SupervisedNode, n: int) -> None:
    operator = Account.from_key((node.home / "var" / "keys" / "operator.key").read_text().strip())
    nonce = w3.eth.get_transaction_count(operator.address, "pending")
    for i in range(n):
        tx = {"to": "0x" + "44" * 20, "value": 1, "gas": 21_000, "nonce": nonce + i, "chainId": w3.eth.chain_id,
              "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
        w3.eth.send_raw_transaction(operator.sign_transaction(tx).raw_transaction)
