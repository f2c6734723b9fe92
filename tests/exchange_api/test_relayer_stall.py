"""The relayer never calls failed what may still mine: the ledger engine behind a durable node is stopped (SIGSTOP),
a burst of redemptions is sent into it (each send batch outstanding at the stopped engine), and it is resumed
(SIGCONT) after the relayer's send timed out. Every redemption ends exactly once, in the state the chain shows,
and no merchant is told `failed` (status or webhook) of a redemption the chain carried out.

Before the fix (send answers read as refusals) this failed on both stores: the transport re-sends a batch that
timed out, the resumed engine answers the copies "transaction already imported", and the relayer failed those
redemptions (2 of 18 on SQLite, 8 of 18 on PostgreSQL, with STALL_S=11.5 past the transport's 10 s timeout) while
the chain carried every one out.

The session's node (tests/conftest.py) is a bare anvil: this module runs the API against a supervised durable node
of its own (gateway, journal, anvil engine), the one `make up` runs.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from eth_account import Account
from web3.exceptions import Web3RPCError

from exchange_api.merchant_keys import create_key
from exchange_api.settings import Settings
from ledger_node import chain
from ledger_node.deploy.command import deploy_all
from ledger_node.harness import SupervisedNode

from .conftest import LiveServer, _free_port, api_city, auth, wait_indexed
from .test_residents_and_more import Receiver

SEND_TIMEOUT_S = 1.5   # the relayer's send timeout in this test (relayer.SEND_TIMEOUT_S, 10 s, by default)
STALL_S = float(os.environ.get("STALL_S", SEND_TIMEOUT_S + 1.5))  # how long the engine stays stopped
BURST = 12  # redemptions sent while the engine is stopped
CREDITS = 10


@pytest.fixture(scope="module")
def durable_city(tmp_path_factory, artifacts):
    """A supervised durable node with the API tests' city on it (built with blocks mined at once, then a block
    every 0.2 s as in production); (node, w3, city)."""
    home = tmp_path_factory.mktemp("stall-node")
    node = SupervisedNode(home, block_period=0)
    node.start(timeout=120)
    try:
        operator = Account.from_key((home / "var" / "keys" / "operator.key").read_text().strip())
        w3 = chain.connect(node.url)
        addresses = deploy_all(w3, operator)
        city = api_city.__wrapped__(w3, addresses, operator)  # the same city the API tests use
        node.operator("evm_setIntervalMining", [0.2])
        yield node, w3, city
    finally:
        node.stop()


def _engine_pid(node: SupervisedNode) -> int:
    """The anvil process under the node's supervisor (the one the gateway sends transactions to)."""
    todo, seen = [node.proc.pid], []
    while todo:
        pid = todo.pop()
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        todo += [int(c) for c in children]
        seen += [int(c) for c in children]
    engines = [p for p in seen if open(f"/proc/{p}/comm").read().strip() == "anvil"]
    assert len(engines) == 1, f"expected one anvil under the node, found {engines}"
    return engines[0]


@pytest.fixture
def stall_service(durable_city, empty_database_url, tmp_path):
    node, w3, city = durable_city
    deployment = {"chainId": w3.eth.chain_id, "rpcUrl": node.url, "startBlock": 0,
                  "contracts": {k: v.address for k, v in city.contracts.items()}}
    (tmp_path / "deployment.json").write_text(json.dumps(deployment))
    settings = Settings(database_url=empty_database_url, port=_free_port(),
                        deployment_file=tmp_path / "deployment.json",
                        pii_key=base64.b64encode(os.urandom(32)).decode(),
                        identity_hmac_key=base64.b64encode(os.urandom(32)).decode(),
                        relayer_keys=",".join(r.key.hex() for r in city.relayers),
                        onboarding_key=city.onboarding.key.hex(), dev_secrets=False,
                        indexer_poll_s=0.05, webhook_backoff_s=0.2, confirm_timeout_s=20, rate_limit_per_s=1000,
                        rate_limit_burst=1000,
                        webhook_allow_http=True, webhook_allow_private_targets=True)  # the receiver is local
    server = LiveServer(settings)
    server.start()
    server.rt.relayer.send_timeout_s = SEND_TIMEOUT_S
    try:
        with server.rt.store.session() as s:
            key = create_key(s, name="stall-shop", merchant_address=city.merchant.address).api_key
        with httpx.Client(base_url=server.url, timeout=30) as client:
            client.live = server
            wait_indexed(client, w3)  # admission then runs on the indexed view (no call to the engine)
            yield node, w3, city, server, client, key
    finally:
        os.kill(_engine_pid(node), signal.SIGCONT)  # whatever happened, the next test gets a running engine
        server.stop()


def _until_idle(server, client, w3, timeout: float = 20) -> None:
    """Until the relayer waits for nothing and the indexer has the head."""
    deadline = time.monotonic() + timeout
    while server.rt.relayer.in_flight:
        assert time.monotonic() < deadline, "the relayer still waits for its transactions"
        time.sleep(0.05)
    wait_indexed(client, w3)


def _redeemed_on_chain(city, w3, timeout: float = 60) -> dict[str, int]:
    """redemption id -> how many Redeemed events the chain has for it (a node still busy with the backlog the
    stall left may ask its readers to come back: they do)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            logs = city.contracts["Redemption"].events.Redeemed().get_logs(from_block=0)
            break
        except Web3RPCError as exc:
            if "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    counts: dict[str, int] = {}
    for e in logs:
        rid = "0x" + e["args"]["redemptionId"].hex()
        counts[rid] = counts.get(rid, 0) + 1
    return counts


def test_engineStoppedMidBatch_resumedAfterTheSendTimeout_everyRedemptionEndsOnceAsTheChainShows(stall_service):
    node, w3, city, server, client, key = stall_service
    h = auth(key)
    receiver = Receiver()
    try:
        ep = client.post("/v1/webhook_endpoints", json={"url": receiver.url}, headers={**h, "Idempotency-Key": "wh"})
        assert ep.status_code == 201, ep.text
        engine = _engine_pid(node)
        residents = city.residents

        # signed beforehand: nothing here asks the node while its engine is stopped
        consents = [city.consent(w3, residents[i % len(residents)], CREDITS, order_ref=os.urandom(32))
                    for i in range(len(residents) + BURST)]

        def redeem(i: int, wait: bool = False) -> dict:
            consent = consents[i]
            resp = client.post("/v1/redemptions", json={**consent, "wait": wait},
                               headers={**h, "Idempotency-Key": f"stall-{i}"})
            assert resp.status_code == (201 if wait else 202), resp.text
            return resp.json()

        # each resident once, mined: the service knows them (a first consent asks the chain whether the
        # resident is a contract wallet) and, with nothing pending, no block comes: the indexed view stays
        # current, so the burst below is admitted from it without asking the stopped engine
        accepted = [redeem(i, wait=True) for i in range(len(residents))]
        _until_idle(server, client, w3)
        os.kill(engine, signal.SIGSTOP)
        stopped_at = time.monotonic()
        with ThreadPoolExecutor(8) as pool:  # a burst of sends, each outstanding at the stopped engine
            accepted += list(pool.map(redeem, range(len(accepted), len(accepted) + BURST)))
        time.sleep(max(0.0, STALL_S - (time.monotonic() - stopped_at)))  # the relayer's sends have timed out
        os.kill(engine, signal.SIGCONT)

        ids = [r["id"] for r in accepted]
        deadline = time.monotonic() + 60
        final: dict[str, dict] = {}
        while time.monotonic() < deadline and len(final) < len(ids):
            for rid in ids:
                if rid not in final:
                    body = client.get(f"/v1/redemptions/{rid}", headers=h).json()
                    if body["status"] in ("confirmed", "failed"):
                        final[rid] = body
            time.sleep(0.2)
        on_chain = _redeemed_on_chain(city, w3)
        statuses = {rid: final.get(rid, {}).get("status", "pending") for rid in ids}
        # the chain carried every one out exactly once (each resident had the credits; each consent is fresh)
        assert {rid: on_chain.get(rid, 0) for rid in ids} == {rid: 1 for rid in ids}
        # and every merchant-visible status says what the chain shows
        assert statuses == {rid: "confirmed" for rid in ids}, \
            f"status against the chain: {[(s, on_chain.get(r, 0)) for r, s in statuses.items()]}"
        # webhooks: exactly one per redemption, never `failed` for one the chain carried out
        receiver.wait(len(ids), timeout=20)
        time.sleep(1.0)  # a second settlement, if any, would be delivered by now
        events = [json.loads(body) for body, _ in receiver.events]
        by_id: dict[str, list[str]] = {}
        for e in events:
            by_id.setdefault(e["data"]["object"]["id"], []).append(e["type"])
        assert by_id == {rid: ["redemption.confirmed"] for rid in ids}
        # and the stall did catch sends: the relayer had no answer to them within its timeout
        assert server.rt.relayer.unanswered_sends >= 1
    finally:
        receiver.server.shutdown()


def test_sendOutcome_readsTheDurableNodesRealAnswers(durable_city):
    """`send_outcome` on what the durable node really answers: a duplicate is KNOWN (never a failure), a used
    nonce is NONCE_TAKEN (a receipt decides), the node's own checks are REFUSED."""
    from exchange_api.relayer import KNOWN, NONCE_TAKEN, REFUSED, send_outcome
    node, w3, city = durable_city
    chain_id = w3.eth.chain_id

    def send(*raws: str) -> dict:  # several in one batch: the node takes them in one go (the last one's answer)
        return httpx.post(node.url, json=[{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction",
                                           "params": [raw]} for i, raw in enumerate(raws)], timeout=30).json()[-1]

    def signed(account, nonce: int, **tx) -> str:
        tx = {"to": account.address, "value": 0, "gas": 21_000, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0,
              "nonce": nonce, "chainId": chain_id, **tx}
        return "0x" + account.sign_transaction(tx).raw_transaction.hex()

    sender = city.relayers[1]
    fresh = signed(sender, w3.eth.get_transaction_count(sender.address, "pending"))
    answers = {
        "duplicate": send(fresh, fresh),  # the second copy arrives while the first is in the pool
        "nonce used": send(signed(city.operator, 0)),
        "cannot pay": send(signed(Account.create(), 0, value=10**18)),
        "above the block's gas limit": send(signed(sender, 10**6, gas=2 * 10**9)),
        "undecodable": send("0x02f8"),
    }
    outcomes = {what: send_outcome(a) for what, a in answers.items()}
    assert outcomes == {"duplicate": KNOWN, "nonce used": NONCE_TAKEN, "cannot pay": REFUSED,
                        "above the block's gas limit": REFUSED, "undecodable": REFUSED}, answers
