"""AsyncIssuerClient, the asynchronous twin, against the real node."""
from __future__ import annotations

import asyncio

import pytest

from issuer_sdk import AsyncIssuerClient, CapExceeded, Issuance, LocalSigner, QuotaExceeded

from isdk_helpers import SALT, SCHEME, TIGHT_CAP, TIGHT_QUOTA, TIGHT_SCHEME


def make(city, scheme=SCHEME, account=None, **config) -> AsyncIssuerClient:
    from issuer_sdk import ClientConfig

    return AsyncIssuerClient.from_deployment(LocalSigner(bytes((account or city.issuer).key)), scheme, SALT,
                                             deployment=city.deployment(), config=ClientConfig(**config))


def test_async_issueRevokeAndViews(city):
    async def main():
        async with make(city) as client:
            resident = city.residents[0]
            assert (await client.issue(resident, 30, "a-1", reason=2)).status == "issued"
            assert (await client.issue(resident, 30, "a-1", reason=2)).status == "duplicate"
            assert (await client.revoke(resident, 10, "a-1-fix")).balance_after == 20
            assert (await client.status("a-1")).used
            assert await client.balance(resident) == 20
            assert (await client.allowance(resident)).received == 30

    asyncio.run(main())


def test_async_issueMany_fromAsyncIterableAndConcurrentTasks(city):
    async def records():
        for i in range(45):
            yield Issuance(city.residents[i % 9], 2, f"async-{i}")

    async def main():
        async with make(city, max_batch_items=10) as client:
            summary = await client.issue_many(records())
            assert (summary.batches, summary.issued) == (5, 45)
            # tasks sharing one client take distinct nonces
            results = await asyncio.gather(*[client.issue(city.residents[i % 9], 1, f"task-{i}") for i in range(12)])
            assert all(r.status == "issued" for r in results)
            again = await client.issue_many([Issuance(city.residents[i % 9], 2, f"async-{i}") for i in range(45)])
            assert (again.issued, again.duplicates) == (0, 45)

    asyncio.run(main())
    assert city.supply() == 45 * 2 + 12


def test_async_quotaAndCapErrors(city):
    async def main():
        async with make(city, TIGHT_SCHEME, city.tight_issuer) as client:
            with pytest.raises(CapExceeded):
                await client.issue(city.residents[0], TIGHT_CAP + 1, "too-much")
            items = [Issuance(city.residents[i], TIGHT_CAP, f"q{i}") for i in range(TIGHT_QUOTA // TIGHT_CAP + 1)]
            with pytest.raises(QuotaExceeded) as info:
                await client.issue_many(items)
            assert info.value.summary.issued == 0
            assert (await client.issue(city.residents[0], 1, "fine")).status == "issued"

    asyncio.run(main())


def test_async_issueMany_outOfGasBatchMadeCheaperByAResentOne_isStillResent(city):
    """As the sync client's test: batches that ran out of gas are re-sent with more, whatever an estimate now says."""
    async def main():
        async with make(city, max_batch_items=20, max_in_flight=4, gas_per_item_bound=48_000) as client:
            summary = await client.issue_many([Issuance(city.residents[i % 20], 1, f"oog-{i}") for i in range(60)])
            assert summary.issued == 60

    asyncio.run(main())
    assert city.supply() == 60
