"""What a resident reads: balances per scheme and in credits, and the history of who issued what and why.
Served from the indexer's tables; balances from memory (exchange_api.indexed_view)."""
from __future__ import annotations

from sqlalchemy import select, tuple_

from exchange_api.chain import checksum
from exchange_api.errors import NotFound
from exchange_api.schemas import decimal
from exchange_api.store.models import IdxActivity

RATE_SCALE = 10**6
SPENDABLE = (1, 3)  # IPointsLedger.SchemeStatus Active, Retired: what Redemption counts


async def balances(rt, address: str) -> dict:
    """From memory once loaded (exchange_api.indexed_view): the indexer's commits keep it current."""
    address = checksum(address)
    while True:  # read across an indexer commit, the points might predate it: read again
        epoch = rt.view.epoch
        points = await rt.view.points(rt.store, address)
        schemes = await rt.view.schemes(rt.store)
        if epoch == rt.view.epoch:
            break
    out, total = [], 0
    for scheme, amount in sorted(points.items()):
        info = schemes.get(scheme)
        rate = info.rate if info else 0
        credits = amount * rate // RATE_SCALE
        if info is not None and info.status in SPENDABLE:
            total += credits
        out.append({"scheme": scheme, "points": amount, "rate": rate, "credits": credits,
                    "creditsDecimal": decimal(credits)})
    return {"object": "balances", "resident": address, "balances": out, "totalCredits": total,
            "totalCreditsDecimal": decimal(total), "asOfBlock": max(rt.indexer.block, 0)}


def _activity_id(r) -> str:
    return f"act_{r.block_number}_{r.log_index}_{r.item}"


async def history(rt, address: str, limit: int, starting_after: str | None) -> dict:
    address = checksum(address)

    def load(s):
        q = select(IdxActivity).where(IdxActivity.account == address)
        if starting_after:
            try:
                _, b, i, k = starting_after.split("_")
                key = (int(b), int(i), int(k))
            except ValueError:
                raise NotFound("starting_after names no activity", code="invalid_cursor", field="starting_after")
            q = q.where(tuple_(IdxActivity.block_number, IdxActivity.log_index, IdxActivity.item) < key)
        q = q.order_by(IdxActivity.block_number.desc(), IdxActivity.log_index.desc(), IdxActivity.item.desc())
        return list(s.scalars(q.limit(limit + 1)))
    rows = await rt.store.run(load)
    data = [{"object": "activity", "id": _activity_id(r), "kind": r.kind, "scheme": r.scheme, "amount": r.amount,
             "balanceAfter": r.balance_after, "by": r.by, "reasonCode": r.reason_code, "ref": r.ref,
             "txHash": r.tx_hash, "blockNumber": r.block_number, "blockTimestamp": r.timestamp}
            for r in rows[:limit]]
    return {"object": "list", "data": data, "has_more": len(rows) > limit}
