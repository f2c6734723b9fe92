"""What a resident reads: balances per scheme and in credits, and the history of who issued what and why.
Served from the indexer's tables; balances are kept in memory until the indexer commits a change to them."""
from __future__ import annotations

from sqlalchemy import select, tuple_

from exchange_api.chain import checksum
from exchange_api.errors import NotFound
from exchange_api.schemas import decimal
from exchange_api.store.models import IdxActivity, IdxBalance, IdxScheme

RATE_SCALE = 10**6
SPENDABLE = (1, 3)  # IPointsLedger.SchemeStatus Active, Retired: what Redemption counts


async def balances(rt, address: str) -> dict:
    """Served from memory once loaded: an entry stays until the indexer commits a change of this account's
    balances (or of a rate or scheme status), so a read costs no database round trip."""
    address = checksum(address)
    body = rt.balance_cache.get(address)
    if body is None:
        epoch = rt.balance_epoch

        def load(s):
            rows = s.execute(select(IdxBalance.scheme, IdxBalance.balance).where(IdxBalance.account == address)).all()
            schemes = {r.scheme: r for r in s.scalars(select(IdxScheme))}
            return rows, schemes
        rows, schemes = await rt.store.run(load)
        out, total = [], 0
        for scheme, points in sorted(rows):
            info = schemes.get(scheme)
            rate = info.rate if info else 0
            credits = points * rate // RATE_SCALE
            if info is not None and info.status in SPENDABLE:
                total += credits
            out.append({"scheme": scheme, "points": points, "rate": rate, "credits": credits,
                        "creditsDecimal": decimal(credits)})
        body = {"object": "balances", "resident": address, "balances": out, "totalCredits": total,
                "totalCreditsDecimal": decimal(total)}
        if epoch == rt.balance_epoch:  # no commit while it loaded: it is current
            if len(rt.balance_cache) > 200_000:
                rt.balance_cache.clear()
            rt.balance_cache[address] = body
    return {**body, "asOfBlock": max(rt.indexer.block, 0)}


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
             "txHash": r.tx_hash, "blockNumber": r.block_number} for r in rows[:limit]]
    return {"object": "list", "data": data, "has_more": len(rows) > limit}
