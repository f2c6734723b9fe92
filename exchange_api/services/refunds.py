"""Refunds of a redemption, full or partial, asked by its merchant and sent by the relayer."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from exchange_api import errors
from exchange_api.chain import REFUND, ChainClient, ChainRevert, unhex
from exchange_api.errors import Conflict, InvalidRequest, NotFound
from exchange_api.relayer import Relayer
from exchange_api.schemas import decimal
from exchange_api.services.common import Principal, iso, new_id
from exchange_api.services.redemptions import part_value_fields, signed_parts
from exchange_api.services.results import Done, Pending, Result
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import Redemption, Refund


@dataclass
class Refunds:
    store: Store
    chain: ChainClient
    relayer: Relayer
    settings: Settings

    async def create(self, principal: Principal, rid: str, body) -> Result:
        """Simulated first (the contract's refund window and checks), then relayed; Done once mined, Pending when
        not waited for or not mined within the confirmation timeout."""
        red = await self.store.run(lambda s: s.scalar(select(Redemption).where(
            Redemption.id == rid.lower(), Redemption.merchant_id == principal.merchant_id)))
        if red is None:
            raise NotFound("no such redemption", code="redemption_not_found")
        if red.status != "confirmed" or not red.parts:
            raise Conflict(f"the redemption is {red.status}; only a confirmed one can be refunded",
                           code="redemption_not_confirmed")
        # summed here, not in SQL: credits are uint96, kept as decimal text on SQLite (whose SUM would go to float)
        pending = await self.store.run(lambda s: sum(s.scalars(select(Refund.credits).where(
            Refund.redemption_id == red.id, Refund.status == "pending"))))
        if body.credits > red.credits - red.refunded - pending:
            raise InvalidRequest("more credits than are left to refund", code="refund_too_large", field="credits")
        parts = signed_parts(red.parts)
        data = REFUND.encode(unhex(red.id), red.resident, red.merchant, parts, body.credits)
        to = self.chain.addresses["Redemption"]
        try:
            await self.chain.call(to, data, sender=self.relayer.addresses[0] if self.relayer.addresses else None)
        except ChainRevert as exc:
            raise errors.from_contract_error(exc.name, exc.args_)
        row = Refund(id=new_id("rfd"), redemption_id=red.id, merchant_id=principal.merchant_id,
                     credits=body.credits, status="pending")

        def persist(s, h):
            row.tx_hash = h
            s.add(row)
        h = await self.relayer.submit(kind="refund", subject_id=row.id, to=to, data=data,
                                      gas=self.settings.redeem_gas, persist_with=persist)
        if not body.wait:
            return Pending(public(row))
        mined = await self.relayer.wait(h, self.settings.confirm_timeout_s)
        if mined is None:
            return Pending(public(row))
        row = await self.store.run(lambda s: s.scalar(select(Refund).where(Refund.id == row.id)))
        if row.status == "failed":
            raise errors.from_contract_error(*(mined.error or (None, ())))
        return Done(public(row))

    async def get(self, principal: Principal, refund_id: str) -> dict:
        f = await self.store.run(lambda s: s.scalar(select(Refund).where(
            Refund.id == refund_id, Refund.merchant_id == principal.merchant_id)))
        if f is None:
            raise NotFound("no such refund", code="refund_not_found")
        return public(f)


def public(f: Refund) -> dict:
    return {"object": "refund", "id": f.id, "redemptionId": f.redemption_id, "status": f.status,
            "credits": f.credits, "creditsDecimal": decimal(f.credits), **part_value_fields(f.parts),
            "txHash": f.tx_hash, "blockNumber": f.block_number, "failureCode": f.failure_code,
            "createdAt": iso(f.created_at)}
