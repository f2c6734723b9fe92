"""Issuers' resident lookup (issue 23): an issuer knows its members by identity number, the chain by address. With
an issuer key (its chain account named on the key), `lookup` turns an identity number into the resident's address:
the keyed identity hash (HMAC, as onboarding computes it) names the account on chain (Membership.accountOf). Each
answer is on the identity-use trail first (purpose issuance-lookup, actor the issuer's account, the issuer's request
reference), written ahead like every use of personal data (services/identity_trail.py): no entry, no address (503).
An identity number of no resident is 404 and leaves no entry (there is no resident whose trail it would be), unless
the issuer asks to credit a person who has not joined (`holdIfNotJoined`): then the answer is the keyed identity hash
(PointsLedger.issueToIdentities holds the points under it until the person joins) and the entry is under the held
account, the person's trail until they join. The key's account must be an issuer of some programme on chain at the
time of the lookup (Membership.isIssuer): a key made for an issuer governance has since removed is refused (403
`not_an_issuer`) before anything is looked up or written.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from eth_abi import decode as abi_decode

from exchange_api import crypto
from exchange_api.chain import ACCOUNT_OF, ChainClient, checksum, fn, unhex
from exchange_api.errors import Forbidden, NotFound, Unavailable
from ledger_node.domain import held_account_of
from exchange_api.services.identity_trail import IdentityTrail

ZERO = "0x" + "00" * 20
SCHEME_IDS = fn("schemeIds()")
IS_ISSUER = fn("isIssuer(uint256,address)")


@dataclass
class ResidentLookup:
    chain: ChainClient
    trail: IdentityTrail
    identity_key: bytes  # onboarding's HMAC key of identity numbers

    async def lookup(self, issuer_account: str | None, body) -> dict:
        if not issuer_account:
            raise Unavailable("this issuer key names no chain account; make it again with the issuer's account",
                              code="issuer_account_missing")
        if not await self._issues_on_chain(issuer_account):
            raise Forbidden(f"{issuer_account} is not an issuer account of any programme on chain (governance never "
                            "made it one, or has removed it): its key may not look residents up",
                            code="not_an_issuer")
        ih = crypto.identity_hash(self.identity_key, body.identityNumber)
        out = await self.chain.call(self.chain.addresses["Membership"], ACCOUNT_OF.encode(ih))
        address = checksum("0x" + out[-20:].hex())
        held = None
        if address == ZERO:
            if not body.holdIfNotJoined:
                raise NotFound("no registered resident has this identity number", code="resident_not_found",
                               field="identityNumber")
            held = held_account_of(ih)  # the person's trail until they join, as their points are
        entry = await self.trail.write_ahead(held or address, body.purpose, unhex(body.requestRef),
                                             actor=issuer_account)
        return {"object": "resident_lookup", "registered": held is None, "address": None if held else address,
                "identityHash": "0x" + ih.hex(), "heldAccount": held, "purpose": body.purpose,
                "requestRef": body.requestRef.lower(), "trailEntry": entry}

    async def _issues_on_chain(self, account: str) -> bool:
        """Whether `account` is an issuer account of any programme now (no cache: a removal counts at once). The
        calls of one turn travel in one batch (ChainClient.request)."""
        ledger, membership = self.chain.addresses["PointsLedger"], self.chain.addresses["Membership"]
        (schemes,) = abi_decode(["uint256[]"], await self.chain.call(ledger, SCHEME_IDS.encode()))
        answers = await asyncio.gather(*(self.chain.call(membership, IS_ISSUER.encode(scheme, account))
                                         for scheme in schemes))
        return any(int.from_bytes(answer[-32:], "big") for answer in answers)
