"""Onboarding: the onboarding authority registers a resident with personal data. The data is stored only
encrypted (AES-GCM); the chain gets the account and a keyed hash of the identity number (HMAC-SHA256), sent by
the onboarding account (ONBOARDING_ROLE). One person, one account: a second account for the same identity is
refused here (unique keyed hash) and on chain (MembershipIdentityTaken). No personal data in logs or errors.
A registration the chain refused (or the node never took) is kept as `failed` and may be sent again; the same
registration sent again while pending or done answers its state, not a duplicate error."""
from __future__ import annotations

import json

from eth_utils import to_checksum_address
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from exchange_api import crypto, errors
from exchange_api.chain import REGISTER_RESIDENT, ChainRevert, RpcFailure, hex0x
from exchange_api.errors import Conflict, Unavailable
from exchange_api.store.models import ResidentRecord


def fingerprint(rt, body) -> str:
    """The idempotency fingerprint of a registration: HMAC-SHA256 with the identity key over the normalised
    request, so the store never holds a plain hash of personal data (guessable from the data)."""
    return crypto.fingerprint(rt.identity_key, json.dumps(body.model_dump(), sort_keys=True).encode())


def _answer(row: ResidentRecord) -> tuple[int, dict]:
    return (201 if row.status == "registered" else 202), {
        "object": "resident", "address": row.address, "identityHash": row.identity_hash, "status": row.status,
        "txHash": row.tx_hash}


async def register(rt, body) -> tuple[int, dict]:
    if rt.relayer.onboarding is None:
        raise Unavailable("no onboarding account is configured (CITYPOINTS_ONBOARDING_KEY)",
                          code="onboarding_not_configured")
    address = to_checksum_address(body.address)
    ih = crypto.identity_hash(rt.identity_key, body.identityNumber)
    mine = (ResidentRecord.identity_hash == hex0x(ih)) | (ResidentRecord.address == address)
    existing = await rt.store.run(lambda s: list(s.scalars(select(ResidentRecord).where(mine))))
    for row in existing:
        if row.status == "failed":
            continue  # the chain refused it (or the node never took it): this registration may try again
        if row.address == address and row.identity_hash == hex0x(ih):
            return _answer(row)  # the same registration again (its first answer was lost, or it was pending)
        if row.identity_hash == hex0x(ih):
            raise Conflict("this person already has an account", code="identity_already_registered")
        raise Conflict("the account is already registered", code="already_resident", field="address")
    data = REGISTER_RESIDENT.encode(address, ih)
    to = rt.chain.addresses["Membership"]
    try:
        await rt.chain.call(to, data, sender=rt.relayer.onboarding.address)
    except ChainRevert as exc:
        raise errors.from_contract_error(exc.name, exc.args_)
    sealed = crypto.seal(rt.pii_key, address, {"name": body.name, "identityNumber": body.identityNumber,
                                               "phone": body.phone})
    row = ResidentRecord(address=address, identity_hash=hex0x(ih), pii=sealed, status="pending")

    def persist(s, h):
        # a failed attempt of this account or person gives way (only failed ones: a live one is a duplicate)
        s.execute(delete(ResidentRecord).where(mine, ResidentRecord.status == "failed"))
        row.tx_hash = h
        s.add(row)
        s.flush()
    try:
        h = await rt.relayer.submit(kind="onboarding", subject_id=address, to=to, data=data, gas=500_000,
                                    resident=address, persist_with=persist, account=rt.relayer.onboarding)
    except IntegrityError:
        raise Conflict("this person or account is already registered", code="identity_already_registered")
    except (ChainRevert, RpcFailure) as exc:
        raise errors.from_contract_error(getattr(exc, "name", None), getattr(exc, "args_", ()))
    mined = await rt.relayer.wait(h, rt.settings.confirm_timeout_s)
    status = "pending" if mined is None else ("registered" if mined.ok else "failed")
    if mined is not None and not mined.ok:
        raise errors.from_contract_error(*(mined.error or (None, ())))
    return (201 if status == "registered" else 202), {"object": "resident", "address": address,
                                                      "identityHash": hex0x(ih), "status": status, "txHash": h}


async def personal_data(rt, address: str) -> dict | None:
    """Decrypt a resident's personal data (operator tooling; never served over HTTP)."""
    row = await rt.store.run(lambda s: s.get(ResidentRecord, to_checksum_address(address)))
    return crypto.unseal(rt.pii_key, row.address, row.pii) if row else None
