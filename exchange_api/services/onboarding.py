"""Onboarding: the onboarding authority registers a resident with personal data. The data is stored only
encrypted (AES-GCM); the chain gets the account and a keyed hash of the identity number (HMAC-SHA256), sent by
the onboarding account (ONBOARDING_ROLE). One person, one account: a second account for the same identity is
refused here (unique keyed hash) and on chain (MembershipIdentityTaken). No personal data in logs or errors.
A registration the chain refused (or the node never took) is kept as `failed` and may be sent again; the same
registration sent again while pending or done answers its state, not a duplicate error. A registration is itself a
use of the person's data: its trail entry (purpose onboarding, the office's) is mined before anything is sent.

`personal_data` is the one function that opens the sealed data (tests/exchange_api/test_identity_trail_api.py walks
exchange_api and fails on any other `unseal(` caller): it first appends the use to the identity-use trail on chain
(services/identity_trail.py, write-ahead) and opens nothing unless the entry is mined."""
from __future__ import annotations

import json
from dataclasses import dataclass

from eth_utils import to_checksum_address
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from exchange_api import crypto, errors
from exchange_api.chain import REGISTER_RESIDENT, ChainClient, ChainRevert, RpcFailure, hex0x
from exchange_api.errors import Conflict, Unavailable
from exchange_api.relayer import Relayer
from exchange_api.services.identity_trail import IdentityTrail, request_ref
from exchange_api.services.results import Done, Pending, Result
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import ResidentRecord


def _answer(address: str, identity_hash: str, status: str, tx_hash: str | None) -> Result:
    """A registration's state: Done once registered, else Pending (sent, or sent again after a failure)."""
    body = {"object": "resident", "address": address, "identityHash": identity_hash, "status": status,
            "txHash": tx_hash}
    return Done(body) if status == "registered" else Pending(body)


@dataclass
class Onboarding:
    store: Store
    chain: ChainClient
    relayer: Relayer
    settings: Settings
    identity_key: bytes  # HMAC key of identity numbers and of registrations' idempotency fingerprints
    pii_key: bytes       # AES-GCM key of the personal data kept
    trail: IdentityTrail  # every opening of personal data is on it first

    def fingerprint(self, body) -> str:
        """The idempotency fingerprint of a registration: HMAC-SHA256 with the identity key over the normalised
        request, so the store never holds a plain hash of personal data (guessable from the data)."""
        return crypto.fingerprint(self.identity_key, json.dumps(body.model_dump(), sort_keys=True).encode())

    async def register(self, body) -> Result:
        relayer = self.relayer
        if relayer.onboarding is None:
            raise Unavailable("no onboarding account is configured (CITYPOINTS_ONBOARDING_KEY)",
                              code="onboarding_not_configured")
        address = to_checksum_address(body.address)
        ih = crypto.identity_hash(self.identity_key, body.identityNumber)
        mine = (ResidentRecord.identity_hash == hex0x(ih)) | (ResidentRecord.address == address)
        existing = await self.store.run(lambda s: list(s.scalars(select(ResidentRecord).where(mine))))
        for row in existing:
            if row.status == "failed":
                continue  # the chain refused it (or the node never took it): this registration may try again
            if row.address == address and row.identity_hash == hex0x(ih):
                # the same registration again (its first answer was lost, or it was pending)
                return _answer(row.address, row.identity_hash, row.status, row.tx_hash)
            if row.identity_hash == hex0x(ih):
                raise Conflict("this person already has an account", code="identity_already_registered")
            raise Conflict("the account is already registered", code="already_resident", field="address")
        data = REGISTER_RESIDENT.encode(address, ih)
        to = self.chain.addresses["Membership"]
        try:
            await self.chain.call(to, data, sender=relayer.onboarding.address)
        except ChainRevert as exc:
            raise errors.from_contract_error(exc.name, exc.args_)
        # registering uses the person's identity data (the office checked it; its keyed hash goes on chain): on the
        # trail first, the office's own use, as every use is; no entry, no registration (503 trail_unavailable)
        await self.trail.write_ahead(address, "onboarding", request_ref("onboarding", address))
        sealed = crypto.seal(self.pii_key, address, {"name": body.name, "identityNumber": body.identityNumber,
                                                     "phone": body.phone})
        row = ResidentRecord(address=address, identity_hash=hex0x(ih), pii=sealed, status="pending")

        def persist(s, h):
            # a failed attempt of this account or person gives way (only failed ones: a live one is a duplicate)
            s.execute(delete(ResidentRecord).where(mine, ResidentRecord.status == "failed"))
            row.tx_hash = h
            s.add(row)
            s.flush()
        try:
            h = await relayer.submit(kind="onboarding", subject_id=address, to=to, data=data, gas=500_000,
                                     resident=address, persist_with=persist, account=relayer.onboarding)
        except IntegrityError:
            raise Conflict("this person or account is already registered", code="identity_already_registered")
        except (ChainRevert, RpcFailure) as exc:
            raise errors.from_contract_error(getattr(exc, "name", None), getattr(exc, "args_", ()))
        mined = await relayer.wait(h, self.settings.confirm_timeout_s)
        status = "pending" if mined is None else ("registered" if mined.ok else "failed")
        if mined is not None and not mined.ok:
            raise errors.from_contract_error(*(mined.error or (None, ())))
        return _answer(address, hex0x(ih), status, h)

    async def personal_data(self, address: str, *, purpose: str, ref: bytes, actor: str | None = None) -> dict | None:
        """Decrypt a resident's personal data (never served over HTTP), for `purpose` (ledger_node.domain
        TRAIL_PURPOSES) under the caller's request reference `ref`, by `actor` (None: the onboarding office).
        The use is appended to the identity-use trail and mined first; without that, 503 and nothing is opened.
        None when this API keeps no data of the resident (nothing opened, nothing recorded)."""
        row = await self.store.run(lambda s: s.get(ResidentRecord, to_checksum_address(address)))
        if row is None:
            return None
        await self.trail.write_ahead(row.address, purpose, ref, actor)
        return crypto.unseal(self.pii_key, row.address, row.pii)
