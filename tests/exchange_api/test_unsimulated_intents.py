"""An intent whose simulation the node does not answer in time (a state snapshot pauses the engine for seconds at
city scale) is not refused `node_unavailable` (issue 25: 55 exchanges and 3,781 redemptions of the district's month
were): an exchange is relayed unchecked, a redemption admitted on the indexed view when it lacks at most
ADMIT_LAG_BLOCKS of the head's blocks, and the chain checks them; the record says how each ended."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import time

import pytest
from sqlalchemy import func, select

from exchange_api import metrics
from exchange_api.chain import CHECKS_AT_ONCE, IS_RESIDENT
from exchange_api.errors import ApiError, NodeUnavailable
from exchange_api.schemas import IntentIn
from exchange_api.services.common import simulate
from exchange_api.services.redemptions import ADMIT_LAG_BLOCKS
from exchange_api.services.results import Done, Pending
from exchange_api.store.models import ExchangeSubmission, Merchant, Redemption

from .conftest import S1
from .test_hostile_input import intent
from .test_indexer_relayer import _server_loop


def _silent_node_service(live):
    """The exchange service with a node that answers no eth_call within its budget (0.2 s here)."""
    rt = live.rt
    return dataclasses.replace(rt.services.exchanges, chain=_Silent(rt.chain),
                               settings=rt.settings.model_copy(update={"simulation_wait_s": 0.2}))


class _Silent:
    """The live chain client, but its eth_calls hang (the engine is dumping its state)."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    async def call(self, *args, **kwargs):
        await asyncio.sleep(30)
        raise AssertionError("the node never answers here")


def _unchecked(kind: str = "exchange") -> float:
    return metrics.UNSIMULATED.labels(kind)._value.get()


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


class _Behind:
    """The live indexer, but its indexed view lacks the head's last `by` blocks (its block-write is slow, or the
    engine paused before it could fetch them)."""

    def __init__(self, real, relayer, by: int):
        self._real, self._relayer, self._by = real, relayer, by

    def __getattr__(self, name):
        return getattr(self._real, name)

    @property
    def block(self) -> int:
        return (self._relayer.current_head() or 0) - self._by


def _redemption_service(live, behind: int):
    """The redemption service with an index `behind` blocks behind the head and a node that answers no eth_call."""
    rt = live.rt
    return dataclasses.replace(rt.services.redemptions, chain=_Silent(rt.chain),
                               indexer=_Behind(rt.indexer, rt.relayer, behind),
                               settings=rt.settings.model_copy(update={"simulation_wait_s": 0.2}))


def _redeem(live, service, api_city, consent, wait: bool):
    merchant_id = live.rt.store.call(lambda s: s.scalar(select(Merchant.id).where(
        Merchant.address == api_city.merchant.address)))
    return asyncio.run_coroutine_threadsafe(service.submit(merchant_id, consent, wait=wait),
                                            _server_loop(live)).result(60)


def _redemptions(live) -> int:
    return live.rt.store.call(lambda s: s.scalar(select(func.count()).select_from(Redemption)))


def test_aConsentTheNodeCannotSimulateInTime_isAdmittedOnTheIndexedView_andConfirmedByTheChain(
        api, w3, api_city, live):
    service, before = _redemption_service(live, behind=1), _unchecked("redemption")
    consent = api_city.consent(w3, api_city.residents[0], 10, order_ref=os.urandom(32), parts=[(S1, 1, 10)])
    started = time.monotonic()
    result = _redeem(live, service, api_city, consent, wait=True)
    assert isinstance(result, Done) and result.body["status"] == "confirmed", result  # 503 before
    assert result.body["parts"][0]["credits"] == 10
    assert time.monotonic() - started < 10  # the 30 s the node would have taken were not waited for
    assert _unchecked("redemption") == before + 1


def test_aConsentForMoreThanTheIndexedViewHolds_isRefusedAtOnce_whileTheNodeIsSilent(api, w3, api_city, live):
    service, before = _redemption_service(live, behind=1), _redemptions(live)
    holds = service.holds.held(api_city.residents[1].address)
    points = 10**9  # worth more than the resident's points of every scheme
    consent = api_city.consent(w3, api_city.residents[1], points * 10, order_ref=os.urandom(32),
                               parts=[(S1, points, points * 10)])
    with pytest.raises(ApiError) as refused:
        _redeem(live, service, api_city, consent, wait=False)
    assert (refused.value.status, refused.value.code) == (422, "insufficient_credits")
    assert _redemptions(live) == before and service.holds.held(api_city.residents[1].address) == holds


def test_aConsentTheNodeCannotSimulate_withTheIndexFurtherBehind_is503_andNothingIsKept(api, w3, api_city, live):
    service, before = _redemption_service(live, behind=ADMIT_LAG_BLOCKS + 1), _redemptions(live)
    holds = service.holds.held(api_city.residents[2].address)
    consent = api_city.consent(w3, api_city.residents[2], 10, order_ref=os.urandom(32), parts=[(S1, 1, 10)])
    with pytest.raises(NodeUnavailable):
        _redeem(live, service, api_city, consent, wait=False)
    assert _redemptions(live) == before and service.holds.held(api_city.residents[2].address) == holds


class _Stalled(_Silent):
    """The live chain client, its eth_calls hanging, counting how many are on the node at once."""

    def __init__(self, real):
        super().__init__(real)
        self.now = self.most = 0

    async def call(self, *args, **kwargs):
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(30)
        finally:
            self.now -= 1


def test_aFloodOfChecksOnAStalledNode_holdsAtMostChecksAtOnceOfItsReads_andEachEndsWithinItsBudget(api_city, live):
    """The node refuses every read from an address past 64 at once (the indexer's too): a flood of checks on a
    stalled engine waits its turn in the service instead, each within its caller's time budget, and the next
    check, once the engine answers, goes at once."""
    stalled, real = _Stalled(live.rt.chain), live.rt.chain
    membership = real.addresses["Membership"]
    data = IS_RESIDENT.encode(api_city.residents[0].address)

    async def flood():
        started = time.monotonic()
        outcomes = await asyncio.gather(*(asyncio.wait_for(simulate(stalled, membership, data, None), 0.5)
                                          for _ in range(3 * CHECKS_AT_ONCE)), return_exceptions=True)
        elapsed = time.monotonic() - started
        await asyncio.wait_for(simulate(real, membership, data, None), 5)  # every turn was given back
        return outcomes, elapsed
    outcomes, elapsed = asyncio.run_coroutine_threadsafe(flood(), _server_loop(live)).result(60)
    assert stalled.most == CHECKS_AT_ONCE and stalled.now == 0
    assert all(isinstance(o, asyncio.TimeoutError) for o in outcomes), outcomes
    assert elapsed < 3, elapsed  # the ones that waited for a turn ended with their budget too
