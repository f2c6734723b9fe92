"""Which reads need not wait for a block being journaled: "latest" is pinned to the last journaled block, and a
read that names only journaled blocks (or a transaction that cannot be in the block) can be answered at once."""
from __future__ import annotations

import asyncio

import pytest

from ledger_node.node.read_gate import pinned, shows_only_journaled

HEIGHT = 7
ADDRESS = "0x" + "11" * 20
TX = "0x" + "ab" * 32


@pytest.mark.parametrize("method,params,expected", [
    ("eth_call", [{"to": ADDRESS}, "latest"], [{"to": ADDRESS}, "0x7"]),
    ("eth_call", [{"to": ADDRESS}], [{"to": ADDRESS}, "0x7"]),
    ("eth_getBalance", [ADDRESS, "finalized"], [ADDRESS, "0x7"]),
    ("eth_getStorageAt", [ADDRESS, "0x0", "latest"], [ADDRESS, "0x0", "0x7"]),
    ("eth_getBlockByNumber", ["latest", False], ["0x7", False]),
    ("eth_getLogs", [{"address": ADDRESS}], [{"address": ADDRESS, "fromBlock": "0x7", "toBlock": "0x7"}]),
    ("eth_getLogs", [{"fromBlock": "0x1"}], [{"fromBlock": "0x1", "toBlock": "0x7"}]),
    ("eth_getTransactionCount", [ADDRESS, "pending"], [ADDRESS, "pending"]),
    ("eth_estimateGas", [{"to": ADDRESS}], [{"to": ADDRESS}]),
])
def test_pinned_turnsLatestIntoTheLastJournaledBlock(method, params, expected):
    assert pinned(method, params, HEIGHT) == expected


@pytest.mark.parametrize("method,params,answered_at_once", [
    ("eth_call", [{"to": ADDRESS}, "0x7"], True),
    ("eth_call", [{"to": ADDRESS}, "0x8"], False),
    ("eth_call", [{"to": ADDRESS}, {"blockHash": TX}], True),
    ("eth_getTransactionCount", [ADDRESS, "pending"], False),
    ("eth_getBlockByNumber", ["pending", False], False),
    ("eth_getLogs", [{"fromBlock": "0x1", "toBlock": "0x7"}], True),
    ("eth_getLogs", [{"blockHash": TX}], True),
    ("eth_getFilterChanges", ["0x1"], False),
    ("eth_chainId", [], True),
    ("eth_getTransactionReceipt", [TX], True),
    ("eth_getTransactionReceipt", [TX.upper().replace("0X", "0x")], True),
])
def test_showsOnlyJournaled_answersAtOnceOnlyReadsThatCannotSeeAnUnjournaledBlock(method, params, answered_at_once):
    assert shows_only_journaled(method, params, HEIGHT, lambda h: False) is answered_at_once


def test_showsOnlyJournaled_holdsAReceiptOfATransactionThatMayBeInTheBlock():
    assert not shows_only_journaled("eth_getTransactionReceipt", [TX.upper().replace("0X", "0x")], HEIGHT,
                                    lambda h: h == TX)


def test_longReads_takeAtMostTheirShareOfTheEngine_shortOnesGoOn():
    """Long public reads together hold the engine at most `long_share` of the time: once their saved-up engine time
    is spent, the next long read waits until its share is earned back, while a short read (no EVM) is served."""
    from ledger_node.node.read_gate import LONG_CREDIT_S, ReadLimiter

    async def scenario():
        now = [0.0]
        limiter = ReadLimiter(slots=4, long_slots=1, per_client=4, long_share=0.25, clock=lambda: now[0])
        for client, took in (("10.0.0.1", 1.0), ("10.0.0.2", 1.5)):   # a first EVM read from an address counts as long
            ticket = await limiter.acquire(client, gas=10_000_000)
            assert ticket[1] is True
            now[0] += took
            limiter.release(ticket)
        spent = LONG_CREDIT_S - 2.5 + 1.5 * 0.25                      # earned at a quarter a second meanwhile
        assert spent < 0
        waiting = asyncio.ensure_future(limiter.acquire("10.0.0.3", gas=10_000_000))
        await asyncio.sleep(0.01)
        assert not waiting.done()                                       # the long reads have had their share
        short = await asyncio.wait_for(limiter.acquire("10.0.0.4"), 1)  # a read that runs no EVM goes on
        limiter.release(short)
        now[0] += -spent / 0.25 - 0.01                                 # not quite earned back
        limiter._dispatch()
        await asyncio.sleep(0.01)
        assert not waiting.done()
        now[0] += 0.02                                                  # earned back: it starts
        limiter._dispatch()
        ticket = await asyncio.wait_for(waiting, 1)
        limiter.release(ticket)

    asyncio.run(scenario())
