"""Refunds of a redemption, full or partial, asked by its merchant and sent by the relayer."""
from __future__ import annotations

import json

from sqlalchemy import select

from exchange_api import errors
from exchange_api.chain import REFUND, ChainRevert, fn, unhex
from exchange_api.errors import Conflict, InvalidRequest, NotFound
from exchange_api.schemas import decimal
from exchange_api.services.common import iso, new_id
from exchange_api.store.models import Redemption, Refund

RECORD = fn("redemption(bytes32)")


async def create(rt, principal, rid: str, body) -> tuple[int, dict]:
    red = await rt.store.run(lambda s: s.scalar(select(Redemption).where(
        Redemption.id == rid.lower(), Redemption.merchant_id == principal.merchant_id)))
    if red is None:
        raise NotFound("no such redemption", code="redemption_not_found")
    if red.status != "confirmed" or not red.parts:
        raise Conflict(f"the redemption is {red.status}; only a confirmed one can be refunded",
                       code="redemption_not_confirmed")
    # summed here, not in SQL: credits are uint96, kept as decimal text on SQLite (whose SUM would go to float)
    pending = await rt.store.run(lambda s: sum(s.scalars(select(Refund.credits).where(
        Refund.redemption_id == red.id, Refund.status == "pending"))))
    if body.credits > red.credits - red.refunded - pending:
        raise InvalidRequest("more credits than are left to refund", code="refund_too_large", field="credits")
    parts = [tuple(p) for p in json.loads(red.parts)]
    data = REFUND.encode(unhex(red.id), red.resident, red.merchant, parts, body.credits)
    to = rt.chain.addresses["Redemption"]
    try:
        await rt.chain.call(to, data, sender=rt.relayer.addresses[0] if rt.relayer.addresses else None)
    except ChainRevert as exc:
        raise errors.from_contract_error(exc.name, exc.args_)
    row = Refund(id=new_id("rfd"), redemption_id=red.id, merchant_id=principal.merchant_id, credits=body.credits,
                 status="pending")

    def persist(s, h):
        row.tx_hash = h
        s.add(row)
    h = await rt.relayer.submit(kind="refund", subject_id=row.id, to=to, data=data, gas=rt.settings.redeem_gas,
                                persist_with=persist)
    if not body.wait:
        return 202, public(row)
    mined = await rt.relayer.wait(h, rt.settings.confirm_timeout_s)
    if mined is None:
        return 202, public(row)
    row = await rt.store.run(lambda s: s.scalar(select(Refund).where(Refund.id == row.id)))
    if row.status == "failed":
        raise errors.from_contract_error(*(mined.error or (None, ())))
    return 201, public(row)


def public(f: Refund) -> dict:
    return {"object": "refund", "id": f.id, "redemptionId": f.redemption_id, "status": f.status,
            "credits": f.credits, "creditsDecimal": decimal(f.credits), "txHash": f.tx_hash,
            "blockNumber": f.block_number, "failureCode": f.failure_code, "createdAt": iso(f.created_at)}


async def get(rt, principal, refund_id: str) -> dict:
    f = await rt.store.run(lambda s: s.scalar(select(Refund).where(
        Refund.id == refund_id, Refund.merchant_id == principal.merchant_id)))
    if f is None:
        raise NotFound("no such refund", code="refund_not_found")
    return public(f)


async def refund_already_applied(relayer, row) -> bool:
    """After a restart: did the chain apply this refund? (its refunded total covers the confirmed refunds + it)"""
    store = relayer.store

    def load(s):
        f = s.scalar(select(Refund).where(Refund.id == row.subject_id))
        if f is None:
            return None, 0
        done = sum(s.scalars(select(Refund.credits).where(
            Refund.redemption_id == f.redemption_id, Refund.status == "confirmed")))
        return f, done
    f, done = await store.run(load)
    if f is None:
        return True
    out = await relayer.chain.call(relayer.chain.addresses["Redemption"], RECORD.encode(unhex(f.redemption_id)))
    refunded = int.from_bytes(out[64:96], "big")
    return refunded >= done + f.credits
