"""Cross-recognition: quotes (with the ExchangeIntent to sign) and submission of signed intents."""
from __future__ import annotations

import os

from eth_utils import keccak, to_checksum_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from exchange_api import errors
from exchange_api.chain import EXCHANGE, QUOTE, ChainRevert, unhex
from exchange_api.errors import Conflict, InvalidRequest
from exchange_api.schemas import decimal
from exchange_api.services.common import check_signature, iso, now, recorded
from exchange_api.store.models import ExchangeSubmission
from ledger_node.typed_data import typed_data


def intent_document(rt, message: dict) -> dict:
    return typed_data("ExchangeIntent", rt.chain.chain_id, rt.chain.addresses["Exchange"], message)


async def quote(rt, body) -> dict:
    if body.fromScheme == body.toScheme:
        raise InvalidRequest("fromScheme and toScheme must differ", code="pair_not_allowed", field="toScheme")
    try:
        out = await rt.chain.call(rt.chain.addresses["Exchange"], QUOTE.encode(body.fromScheme, body.toScheme,
                                                                               body.points))
    except ChainRevert as exc:
        raise errors.from_contract_error(exc.name, exc.args_)
    received, credits = int.from_bytes(out[:32], "big"), int.from_bytes(out[32:64], "big")
    min_received = received * (10_000 - body.slippage) // 10_000
    message = {"resident": to_checksum_address(body.resident), "fromScheme": body.fromScheme,
               "toScheme": body.toScheme, "points": body.points, "minReceived": min_received,
               "nonce": "0x" + os.urandom(32).hex(), "deadline": now() + rt.settings.request_ttl_s}
    return {"object": "exchange_quote", "fromScheme": body.fromScheme, "toScheme": body.toScheme,
            "points": body.points, "received": received, "credits": credits, "creditsDecimal": decimal(credits),
            "minReceived": min_received, "typedData": intent_document(rt, message)}


async def submit(rt, body) -> tuple[int, dict]:
    resident = to_checksum_address(body.resident)
    nonce, sig = unhex(body.nonce), unhex(body.signature)
    if body.deadline < now():
        raise InvalidRequest("the signed deadline has passed", code="consent_expired", field="deadline")
    message = {"resident": resident, "fromScheme": body.fromScheme, "toScheme": body.toScheme,
               "points": body.points, "minReceived": body.minReceived, "nonce": nonce, "deadline": body.deadline}
    await check_signature(rt, "ExchangeIntent", "Exchange", message, sig, resident)
    data = EXCHANGE.encode(resident, body.fromScheme, body.toScheme, body.points, body.minReceived, nonce,
                           body.deadline, sig)
    to = rt.chain.addresses["Exchange"]
    try:
        await rt.chain.call(to, data, sender=rt.relayer.addresses[0] if rt.relayer.addresses else None)
    except ChainRevert as exc:
        raise errors.from_contract_error(exc.name, exc.args_)
    xid = "exc_" + keccak(resident.encode() + nonce).hex()[:24]
    row = ExchangeSubmission(id=xid, resident=resident, from_scheme=body.fromScheme, to_scheme=body.toScheme,
                             points=body.points, min_received=body.minReceived, nonce=body.nonce.lower(),
                             deadline=body.deadline, status="pending")

    def persist(s, h):
        row.tx_hash = h
        s.add(row)
        s.flush()
    try:
        h = await rt.relayer.submit(kind="exchange", subject_id=xid, to=to, data=data, gas=rt.settings.redeem_gas,
                                    resident=resident, intent_nonce=body.nonce.lower(), deadline=body.deadline,
                                    persist_with=persist)
    except IntegrityError:
        if await recorded(rt, ExchangeSubmission, xid):  # the intent's own key: it was submitted before
            raise Conflict("this intent was submitted before", code="consent_already_used")
        raise
    if not body.wait:
        return 202, public(row)
    mined = await rt.relayer.wait(h, rt.settings.confirm_timeout_s)
    if mined is None:
        return 202, public(row)
    row = await rt.store.run(lambda s: s.scalar(select(ExchangeSubmission).where(ExchangeSubmission.id == xid)))
    if row.status == "failed":
        raise errors.from_contract_error(*(mined.error or (None, ())))
    return 201, public(row)


def public(x: ExchangeSubmission) -> dict:
    return {"object": "exchange", "id": x.id, "status": x.status, "resident": x.resident,
            "fromScheme": x.from_scheme, "toScheme": x.to_scheme, "points": x.points, "minReceived": x.min_received,
            "received": x.received, "credits": x.credits, "txHash": x.tx_hash, "blockNumber": x.block_number,
            "failureCode": x.failure_code, "createdAt": iso(x.created_at)}
