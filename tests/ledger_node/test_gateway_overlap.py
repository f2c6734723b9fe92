"""Admission overlaps mining: a transaction sent while a block is being mined gets its hash at once and goes into
the next block; a replay of the journal rebuilds the very same blocks; no client sees a block before its record
is durable, and reads of the journaled chain ("latest") do not wait for it.

The gateway runs in-process on a real anvil, with its engine calls wrapped so a test can hold a block half-way
(right after the engine mined it, before the gateway journaled it) and act meanwhile.
"""
from __future__ import annotations

import asyncio
import json
import shutil

import pytest
from eth_account import Account

from ledger_node.node import journal, recovery
from ledger_node.node.anvil import rpc
from ledger_node.config import NodeConfig
from ledger_node.node.engine import AnvilEngine
from ledger_node.node.journal import transaction_hash
from ledger_node.node.rpc_gateway import Gateway


class HeldGateway(Gateway):
    """A gateway whose next block stops right after the engine mined it, until `release` is set; and whose engine
    answers to chosen transactions arrive only when the test lets them (`late_answers`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mined = asyncio.Event()
        self.release = asyncio.Event()
        self.late_answers: dict[str, asyncio.Event] = {}

    async def engine_call(self, method, params):
        answer = await super().engine_call(method, params)
        if method == "evm_mine":
            self.mined.set()
            await self.release.wait()
        return answer

    async def engine_batch(self, calls):
        answers = await super().engine_batch(calls)
        for method, params in calls:
            if method == "eth_sendRawTransaction" and transaction_hash(params[0]) in self.late_answers:
                await self.late_answers[transaction_hash(params[0])].wait()
        return answers


@pytest.fixture
def chain(tmp_path):
    operator = Account.create()
    cfg = NodeConfig()
    engines = []

    def start(name: str) -> AnvilEngine:
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        if engines:  # the same genesis (its timestamp too), or no block hash could match
            shutil.copy(engines[0].directory / "genesis.json", directory / "genesis.json")
        engine = AnvilEngine(cfg, directory, {operator.key.hex(): cfg.funding_wei})
        engine.start()
        engines.append(engine)
        return engine

    yield tmp_path / "chain", operator, start
    for engine in engines:
        engine.stop()


def _transfer(operator, nonce: int) -> str:
    tx = {"to": "0x" + "22" * 20, "value": 1, "gas": 21_000, "nonce": nonce, "chainId": 7007,
          "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    return "0x" + operator.sign_transaction(tx).raw_transaction.hex()


async def _call(gw: Gateway, method: str, params: list) -> dict:
    answer = await gw.handle({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, operator=False)
    return json.loads(answer) if isinstance(answer, bytes) else answer


async def _gateway(chain_dir, engine) -> HeldGateway:
    """A gateway whose blocks the test mines itself."""
    gw = HeldGateway(engine, journal.Journal(recovery.journal_dir(chain_dir), 1), block_period=1, operator_token="t")
    await gw.open()
    await gw.stop_producing()
    return gw


def _replayed_hashes(chain_dir, engine, height: int) -> list[str]:
    rec = recovery.restore(engine, chain_dir)
    assert rec.height == height
    return [rpc(engine.url, "eth_getBlockByNumber", [hex(n), False])["hash"] for n in range(1, height + 1)]


def test_transactionSentWhileABlockIsMined_isAcknowledgedAtOnce_goesIntoTheNextBlock_andReplaysIdentically(chain):
    chain_dir, operator, start = chain
    engine = start("live")

    async def live():
        gw = await _gateway(chain_dir, engine)
        first = await _call(gw, "eth_sendRawTransaction", [_transfer(operator, 0)])
        block = asyncio.create_task(gw.mine_block())
        await gw.mined.wait()                              # the engine has mined block 1; not journaled yet
        second = await asyncio.wait_for(_call(gw, "eth_sendRawTransaction", [_transfer(operator, 1)]), 10)
        receipt = asyncio.create_task(_call(gw, "eth_getTransactionReceipt", [first["result"]]))
        head = asyncio.create_task(_call(gw, "eth_getBlockByNumber", ["pending", False]))
        # "latest" is the last journaled block: such reads are answered at once, about block 0
        assert (await asyncio.wait_for(_call(gw, "eth_blockNumber", []), 5))["result"] == "0x0"
        nonce = await asyncio.wait_for(_call(gw, "eth_getTransactionCount", [operator.address, "latest"]), 5)
        assert nonce["result"] == "0x0"
        await asyncio.sleep(0.3)
        assert not receipt.done() and not head.done(), "an answer showed block 1 before its record was durable"
        gw.release.set()
        await block
        assert (await receipt)["result"]["blockNumber"] == "0x1"
        assert int((await head)["result"]["number"], 16) >= 1
        assert (await _call(gw, "eth_blockNumber", []))["result"] == "0x1"
        gw.mined.clear()
        await gw.mine_block()
        blocks = [await _call(gw, "eth_getBlockByNumber", [hex(n), False]) for n in (1, 2)]
        await gw.close()
        gw.journal.close()
        return first["result"], second["result"], [b["result"] for b in blocks]

    first, second, blocks = asyncio.run(live())
    assert blocks[0]["transactions"] == [first] and blocks[1]["transactions"] == [second]
    records = [r for r in journal.read_from(recovery.journal_dir(chain_dir), 1)]
    assert [r["k"] for r in records] == ["tx", "tx", "block", "block"]  # the second tx precedes block 1's record
    assert _replayed_hashes(chain_dir, start("replayed"), 2) == [b["hash"] for b in blocks]


def test_transactionInABlockBeforeItsAnswerIsHandled_isJournaledBeforeTheBlock(chain):
    """The engine accepted it and mined it before the gateway handled its answer: the block adopts it."""
    chain_dir, operator, start = chain
    engine = start("live")
    raw = _transfer(operator, 0)

    async def live():
        gw = await _gateway(chain_dir, engine)
        gw.release.set()
        gw.late_answers[transaction_hash(raw)] = answer_may_arrive = asyncio.Event()
        sent = asyncio.create_task(_call(gw, "eth_sendRawTransaction", [raw]))
        while transaction_hash(raw) not in gw._in_flight:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)                            # the engine has it in its pool by now
        block = await gw.mine_block()
        answer_may_arrive.set()
        assert (await sent)["result"] == transaction_hash(raw)
        assert not gw.state.pending                         # mined, not waiting for another block
        await gw.close()
        gw.journal.close()
        return block

    block = asyncio.run(live())
    assert block["transactions"] == [transaction_hash(raw)]
    records = list(journal.read_from(recovery.journal_dir(chain_dir), 1))
    assert [r["k"] for r in records] == ["tx", "block"]
    assert _replayed_hashes(chain_dir, start("replayed"), 1) == [block["hash"]]


def test_transactionTheEngineDropped_leavesThePendingList_soBlocksKeepThePeriod(chain):
    """A transaction replaced in the engine's pool (same nonce, higher fee) can never be mined: once a block shows
    the engine no longer holds it, the gateway stops counting it as waiting (it made every block look full)."""
    chain_dir, operator, start = chain
    engine = start("live")
    replaced = _transfer(operator, 0)
    tx = {"to": "0x" + "33" * 20, "value": 1, "gas": 21_000, "nonce": 0, "chainId": 7007,
          "maxFeePerGas": 10**9, "maxPriorityFeePerGas": 10**9}
    replacement = "0x" + operator.sign_transaction(tx).raw_transaction.hex()

    async def live():
        gw = await _gateway(chain_dir, engine)
        gw.release.set()
        for raw in (replaced, replacement):
            assert "result" in await _call(gw, "eth_sendRawTransaction", [raw])
        block = await gw.mine_block()
        state = dict(gw.state.pending), gw._backlog, gw.stats["dropped"]
        await gw.close()
        gw.journal.close()
        return block, state

    block, (pending, backlog, dropped) = asyncio.run(live())
    assert block["transactions"] == [transaction_hash(replacement)]
    assert not pending and not backlog and dropped == 1


def test_batchOfTransactions_oneEngineRequest_eachAnsweredInOrder_allJournaledBeforeTheAnswer(chain):
    """A relayer's JSON-RPC batch: its transactions reach the engine together and wait for one fsync; every item
    gets its own answer (a malformed one its error), reads in between are answered too, and every acknowledged
    transaction is in the journal, so a replay rebuilds the same block."""
    chain_dir, operator, start = chain
    engine = start("live")
    raws = [_transfer(operator, n) for n in range(5)]

    async def live():
        gw = await _gateway(chain_dir, engine)
        gw.release.set()
        sent_batches = []
        real = gw.engine_batch

        async def counted(calls):
            sent_batches.append(len(calls))
            return await real(calls)
        gw.engine_batch = counted
        body = [{"jsonrpc": "2.0", "id": 10 + i, "method": "eth_sendRawTransaction", "params": [raw]}
                for i, raw in enumerate(raws[:3])]
        body += [{"jsonrpc": "2.0", "id": 20, "method": "eth_sendRawTransaction", "params": ["0xzz"]},
                 {"jsonrpc": "2.0", "id": 21, "method": "eth_chainId", "params": []},
                 {"jsonrpc": "2.0", "id": 22, "method": "eth_sendRawTransaction", "params": [raws[3]]},
                 {"jsonrpc": "2.0", "id": 23, "method": "eth_sendRawTransaction", "params": [raws[4]]}]
        answers = [json.loads(a) if isinstance(a, bytes) else a for a in await gw.handle_batch(body, operator=False)]
        acknowledged = journal.read_from(recovery.journal_dir(chain_dir), 1)  # as durable when the answers came
        block = await gw.mine_block()
        await gw.close()
        gw.journal.close()
        return answers, sent_batches, [r for r in acknowledged], block

    answers, sent_batches, records, block = asyncio.run(live())
    assert [a["id"] for a in answers] == [10, 11, 12, 20, 21, 22, 23]
    hashes = [transaction_hash(r) for r in raws]
    assert [a["result"] for a in answers[:3]] == hashes[:3] and [a["result"] for a in answers[5:]] == hashes[3:]
    assert answers[3]["error"]["code"] == -32602 and answers[4]["result"] == hex(7007)
    assert sent_batches == [3, 2]  # a run of transactions, one engine request each (the malformed one never sent)
    assert [r["raw"] for r in records if r["k"] == "tx"] == raws
    assert block["transactions"] == hashes
    assert _replayed_hashes(chain_dir, start("replayed"), 1) == [block["hash"]]
