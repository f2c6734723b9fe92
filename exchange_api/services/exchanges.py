"""Cross-recognition: quotes (with the ExchangeIntent to sign) and submission of signed intents."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from exchange_api import errors, metrics
from exchange_api.chain import EXCHANGE, NEXT_EXCHANGE_NONCE, QUOTE, ChainClient, ChainRevert, unhex
from exchange_api.errors import Conflict, InvalidRequest, NodeUnavailable
from exchange_api.relayer import Relayer
from exchange_api.schemas import decimal
from exchange_api.services.common import check_signature, check_signed, iso, now, recorded
from exchange_api.services.results import Done, Pending, Result
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import ExchangeNonce, ExchangeSubmission
from ledger_node.domain import value_decimal
from ledger_node.typed_data import typed_data

log = logging.getLogger("citypoints.exchanges")


@dataclass
class Exchanges:
    store: Store
    chain: ChainClient
    relayer: Relayer
    settings: Settings

    def intent_document(self, message: dict) -> dict:
        return typed_data("ExchangeIntent", self.chain.chain_id, self.chain.addresses["Exchange"], message)

    async def quote(self, body) -> dict:
        if body.fromScheme == body.toScheme:
            raise InvalidRequest("fromScheme and toScheme must differ", code="pair_not_allowed", field="toScheme")
        try:
            out = await self.chain.call(self.chain.addresses["Exchange"],
                                        QUOTE.encode(body.fromScheme, body.toScheme, body.points))
        except ChainRevert as exc:
            raise errors.from_contract_error(exc.name, exc.args_)
        received, credits = int.from_bytes(out[:32], "big"), int.from_bytes(out[32:64], "big")
        min_received = received * (10_000 - body.slippage) // 10_000
        message = {"resident": to_checksum_address(body.resident), "fromScheme": body.fromScheme,
                   "toScheme": body.toScheme, "points": body.points, "minReceived": min_received,
                   "nonce": "0x" + (await self.next_nonce(body.resident)).to_bytes(32, "big").hex(),
                   "deadline": now() + self.settings.request_ttl_s}
        return {"object": "exchange_quote", "fromScheme": body.fromScheme, "toScheme": body.toScheme,
                "points": body.points, "received": received, "credits": credits, "creditsDecimal": decimal(credits),
                "minReceived": min_received, "typedData": self.intent_document(message)}

    async def next_nonce(self, resident: str) -> int:
        """The nonce this quote is handed: the next above both the chain's highest used (IExchange.nextNonce) and
        every one handed out before (counted in the store), so two open quotes never share one."""
        resident = to_checksum_address(resident)
        out = await self.chain.call(self.chain.addresses["Exchange"], NEXT_EXCHANGE_NONCE.encode(resident))
        on_chain = int.from_bytes(out[:32], "big")

        def take(s) -> int:
            row = s.get(ExchangeNonce, resident, with_for_update=True)
            if row is None:
                row = ExchangeNonce(resident=resident, next_nonce=on_chain)
                s.add(row)
            n = max(row.next_nonce, on_chain)
            row.next_nonce = n + 1
            s.flush()
            return n
        try:
            n = await self.store.write(take)
        except IntegrityError:  # another process counted this resident's first quote meanwhile
            n = await self.store.write(take)
        if n >= 2**64:
            raise Conflict("this resident has used every exchange nonce", code="nonces_exhausted")
        return n

    async def _check(self, to: str, data: bytes) -> None:
        """The contract's own check, simulated: what it refuses is refused here with its code. A node that does not
        answer within `simulation_wait_s` (the engine paused by a state snapshot for seconds at city scale, or away)
        leaves the check to the chain itself: the intent is relayed unchecked (the resident signed it; its deadline
        and signature were checked), the caller answered pending, and the record says how it ended (a refusal:
        failed with the contract's code, as in a batch)."""
        try:
            await check_signed(self.chain, self.relayer, to, data, self.settings.simulation_wait_s)
        except (NodeUnavailable, asyncio.TimeoutError) as exc:
            metrics.UNSIMULATED.labels("exchange").inc()
            log.warning("exchange relayed without its simulation (the node did not answer: %s)", type(exc).__name__)

    async def submit(self, body) -> Result:
        """Checked (deadline, signature, the contract's own check simulated: `_check`), then relayed; Done once
        mined, Pending when not waited for or not mined within the confirmation timeout."""
        resident = to_checksum_address(body.resident)
        nonce, sig = unhex(body.nonce), unhex(body.signature)
        if body.deadline < now():
            raise InvalidRequest("the signed deadline has passed", code="consent_expired", field="deadline")
        message = {"resident": resident, "fromScheme": body.fromScheme, "toScheme": body.toScheme,
                   "points": body.points, "minReceived": body.minReceived, "nonce": nonce, "deadline": body.deadline}
        await check_signature(self.chain, "ExchangeIntent", "Exchange", message, sig, resident)
        args = (resident, body.fromScheme, body.toScheme, body.points, body.minReceived, nonce, body.deadline, sig)
        data = EXCHANGE.encode(*args)  # and as one of an exchangeMany batch: `args` itself
        to = self.chain.addresses["Exchange"]
        await self._check(to, data)
        xid = exchange_id(resident, nonce)
        row = ExchangeSubmission(id=xid, resident=resident, from_scheme=body.fromScheme, to_scheme=body.toScheme,
                                 points=body.points, min_received=body.minReceived, nonce=body.nonce.lower(),
                                 deadline=body.deadline, status="pending")

        def persist(s, h):
            row.tx_hash = h
            s.add(row)
            s.flush()
        try:
            h = await self.relayer.submit(kind="exchange", subject_id=xid, to=to, data=data,
                                          gas=self.settings.redeem_gas, resident=resident,
                                          intent_nonce=body.nonce.lower(), deadline=body.deadline,
                                          persist_with=persist, batch_item=args)
        except IntegrityError:
            if await recorded(self.store, ExchangeSubmission, xid):  # the intent's own key: submitted before
                raise Conflict("this intent was submitted before", code="consent_already_used")
            raise
        if not body.wait:
            return Pending(public(row))
        mined = await self.relayer.wait(h, self.settings.confirm_timeout_s)
        if mined is None:
            return Pending(public(row))
        row = await self.store.run(lambda s: s.scalar(select(ExchangeSubmission).where(ExchangeSubmission.id == xid)))
        if row.status == "pending":  # its nonce was used, by this intent elsewhere or not: the index says
            return Pending(public(row))
        if row.status == "failed":  # its transaction failed, or its batch skipped it (the record has why)
            if mined.error:
                raise errors.from_contract_error(*mined.error)
            raise errors.from_failure_code(row.failure_code)
        return Done(public(row))


def exchange_id(resident: str, nonce: bytes) -> str:
    """An exchange's id: its intent's (resident, nonce), which the chain takes once."""
    return "exc_" + keccak(resident.encode() + nonce).hex()[:24]


def public(x: ExchangeSubmission) -> dict:
    return {"object": "exchange", "id": x.id, "status": x.status, "resident": x.resident,
            "fromScheme": x.from_scheme, "toScheme": x.to_scheme, "points": x.points, "minReceived": x.min_received,
            "received": x.received, "credits": x.credits, **sides(x.sides), "txHash": x.tx_hash,
            "blockNumber": x.block_number, "failureCode": x.failure_code, "createdAt": iso(x.created_at)}


def sides(sides_json: str | None) -> dict:
    """An exchange in value (IExchange.SideValue: points, value, changeBefore, changeAfter; value units): the points
    given are worth `valueIn`, the points received `valueOut`, and the change the resident kept (> 0) or used (< 0)
    on each side; valueIn + change used = credits = valueOut + change kept, exactly."""
    if not sides_json:
        return {}
    (_, value_in, in_before, in_after), (_, value_out, out_before, out_after) = json.loads(sides_json)
    change = (in_after - in_before) + (out_after - out_before)
    return {"valueIn": value_in, "valueInDecimal": value_decimal(value_in), "valueOut": value_out,
            "valueOutDecimal": value_decimal(value_out), "change": change, "changeDecimal": value_decimal(change)}
