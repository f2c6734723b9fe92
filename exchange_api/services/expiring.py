"""Points that expire (PointsLedger.setExpiry, contracts/README.md "Points expiry"): in a scheme with an expiry, the
indexed balance (events' balance after) counts points until a debit sweeps them, while what a resident can spend
depends on today's date. For those schemes only, the live points (`balanceOf`) and the points expiring next
(`expiringOf`) are read from the chain at one block: reads the ledger keeps bounded whatever the number of
issuances. Every other scheme is answered from the indexer as before, without a chain call.
"""
from __future__ import annotations

import asyncio

from eth_abi import decode as abi_decode

from exchange_api.chain import ChainClient, fn
from ledger_node.expiry import date_of_day

BALANCE_OF = fn("balanceOf(address,uint256)")
EXPIRING_OF = fn("expiringOf(address,uint256)")
TODAY = fn("today()")


async def live_points(chain: ChainClient, account: str, points: dict[int, int], schemes: dict, *,
                      expiring: bool = False) -> tuple[dict[int, int], dict[int, dict]]:
    """(`points` with the live points of each expiring scheme held, and with `expiring`, per such scheme the points
    that expire next: {points, lastDay, lastDate, daysLeft}). `schemes`: the indexed rows (their `expiry_months`)."""
    held = [sc for sc, p in points.items() if p and getattr(schemes.get(sc), "expiry_months", 0)]
    if not held:
        return points, {}
    ledger = chain.addresses["PointsLedger"]
    block = hex(await chain.block_number())
    calls = [chain.call(ledger, BALANCE_OF.encode(account, sc), block=block) for sc in held]
    if expiring:
        calls.append(chain.call(ledger, TODAY.encode(), block=block))
        calls += [chain.call(ledger, EXPIRING_OF.encode(account, sc), block=block) for sc in held]
    answers = await asyncio.gather(*calls)
    live = dict(points)
    for sc, answer in zip(held, answers):
        live[sc] = abi_decode(["uint256"], answer)[0]
    soon: dict[int, dict] = {}
    if expiring:
        today = abi_decode(["uint256"], answers[len(held)])[0]
        for sc, answer in zip(held, answers[len(held) + 1:]):
            amount, last_day = abi_decode(["uint256", "uint256"], answer)
            if amount:
                soon[sc] = {"points": amount, "lastDay": last_day, "lastDate": date_of_day(last_day),
                            "daysLeft": last_day - today}
    return live, soon
