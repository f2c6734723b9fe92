"""An exchange intent whose simulation the node does not answer in time (a state snapshot pauses the engine for
seconds at city scale) is not refused `node_unavailable` (issue 25: 55 of the district's month were): it is relayed
unchecked and the chain checks it; the record says how it ended."""
from __future__ import annotations

import asyncio
import dataclasses
import time

from sqlalchemy import select

from exchange_api import metrics
from exchange_api.schemas import IntentIn
from exchange_api.services.results import Done, Pending
from exchange_api.store.models import ExchangeSubmission

from .conftest import S1
from .test_hostile_input import intent
from .test_indexer_relayer import _server_loop


def _silent_node_service(live):
    """The exchange service with a node that answers no eth_call within its budget (0.2 s here)."""
    rt = live.rt
    return dataclasses.replace(rt.services.exchanges, chain=_Silent(rt.chain),
                               settings=rt.settings.model_copy(update={"exchange_check_s": 0.2}))


class _Silent:
    """The live chain client, but its eth_calls hang (the engine is dumping its state)."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    async def call(self, *args, **kwargs):
        await asyncio.sleep(30)
        raise AssertionError("the node never answers here")


def _unchecked() -> float:
    return metrics.EXCHANGES_UNCHECKED._value.get()


def test_anExchangeTheNodeCannotCheckInTime_isRelayedUnchecked_andConfirmedByTheChain(api, w3, api_city, live):
    service, before = _silent_node_service(live), _unchecked()
    body = intent(w3, api_city, api_city.residents[0])
    started = time.monotonic()
    result = asyncio.run_coroutine_threadsafe(service.submit(IntentIn(**body, wait=True)),
                                              _server_loop(live)).result(60)
    assert isinstance(result, Done) and result.body["status"] == "confirmed", result
    assert result.body["received"] == 3
    assert time.monotonic() - started < 10  # the 30 s the node would have taken were not waited for
    assert _unchecked() == before + 1


def test_anExchangeTheChainRefuses_relayedUnchecked_failsWithTheContractsCode(api, w3, api_city, live):
    service = _silent_node_service(live)
    held = api_city.contracts["PointsLedger"].functions.balanceOf(api_city.residents[1].address, S1).call()
    body = intent(w3, api_city, api_city.residents[1], points=held + 10**6)  # more than the resident holds
    result = asyncio.run_coroutine_threadsafe(service.submit(IntentIn(**body, wait=False)),
                                              _server_loop(live)).result(60)
    assert isinstance(result, Pending)  # what the simulation would have refused at once
    deadline = time.monotonic() + 20
    while True:
        row = live.rt.store.call(lambda s: s.scalar(select(ExchangeSubmission).where(
            ExchangeSubmission.id == result.body["id"])))
        if row.status != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert row.status == "failed" and row.failure_code not in (None, "consent_already_used"), row.failure_code
