"""Key recovery: a resident who lost their key visits the registration office with their identity papers and a
NEW key (made in their wallet); the office starts a recovery that moves their registration and balances to the new
key after the notice period (Membership.recoveryNotice), unless the old key objects meanwhile.

- Start (onboarding-office keys): the keyed identity hash of the identity number (HMAC, as onboarding computes it)
  names the account on chain (Membership.accountOf); when the store holds the resident's sealed personal data, the
  name and phone given must be theirs. Every refusal of the chain (a recovery already pending, a new address that
  is not fresh) is found by a simulation as the onboarding account before anything is signed or opened; then the
  kept data is opened for the comparison (Onboarding.personal_data: on the identity-use trail first, purpose
  recovery-verification) and `requestRecovery` goes through the relayer (signed, persisted, sent: durable like
  every send).
- Read (anyone): the chain's pending recovery (Membership.pendingRecovery) with who started it and its state from
  the indexer's events (RecoveryRequested, RecoveryObjected, RecoveryCancelled, ResidentRecovered). The wallet of
  the old key shows a banner from it; the new key's wallet finds the recovery toward it (`toward`).
- Object (anyone relays; the old key's EIP-712 RecoveryObjection is the authority): checked here as the contract
  checks it (the pending request, its new account and nonce, the deadline, an ECDSA signature by the account),
  so a bad objection is refused with nothing sent; one for a request already objected to is a replay (409).
- Complete after the notice, or cancel (onboarding-office keys), each simulated first, then relayed.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import time
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from sqlalchemy import select

from exchange_api import crypto
from exchange_api.chain import ACCOUNT_OF, ChainClient, checksum, fn, unhex
from exchange_api.errors import Conflict, InvalidRequest, NotFound, Unavailable
from exchange_api.indexer import Indexer
from exchange_api.relayer import Relayer
from exchange_api.services.common import ecdsa_refusal, relay, simulate
from exchange_api.services.identity_trail import request_ref
from exchange_api.services.onboarding import Onboarding
from exchange_api.services.results import Done, Pending, Result
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import IdxEvent
from ledger_node.typed_data import digest, typed_data

REQUEST_RECOVERY = fn("requestRecovery(address,address)")
COMPLETE_RECOVERY = fn("completeRecovery(address)")
CANCEL_RECOVERY = fn("cancelRecovery(address)")
OBJECT_BY_SIG = fn("objectToRecoveryBySig(address,address,uint256,uint256,bytes)")
PENDING_RECOVERY = fn("pendingRecovery(address)")
RECOVERY_NOTICE = fn("recoveryNotice()")
REQUEST_GAS = 300_000
OBJECTION_GAS = 200_000
COMPLETE_GAS = 2_000_000  # moves every scheme the resident holds (PointsLedger.moveAccount)
CANCEL_GAS = 200_000
OBJECTION_TTL_S = 3600  # the deadline of the objection document the API offers to sign
ZERO = "0x" + "00" * 20
# the events of one recovery, in the order they can happen; the last one after the request decides its state
ENDINGS = {"RecoveryObjected": "objected", "RecoveryCancelled": "cancelled", "ResidentRecovered": "completed"}
RECOVERY_EVENTS = ("RecoveryRequested", *ENDINGS)
MAX_TOWARD = 5  # recoveries listed toward one new address


@dataclass
class Recoveries:
    store: Store
    chain: ChainClient
    relayer: Relayer
    indexer: Indexer
    onboarding: Onboarding  # the keyed identity hash and the sealed personal data of registered residents
    settings: Settings

    @property
    def membership(self) -> str:
        return self.chain.addresses["Membership"]

    # -- reads -------------------------------------------------------------------------------------------------

    async def policy(self) -> dict:
        """The notice period residents are told about before they visit the office, and the office's name."""
        notice = _uint(await self.chain.call(self.membership, RECOVERY_NOTICE.encode()))
        return {"object": "recovery_policy", "noticeSeconds": notice, "office": self.settings.onboarding_office_name}

    async def recovery(self, account: str) -> dict:
        """The latest recovery of `account` (the old key): pending, objected, cancelled or completed."""
        account = checksum(account)
        pending = await self._pending(account)
        events = await self._events(account)
        found = _latest(events, account)
        if pending is None and found is None:
            raise NotFound("no recovery of this account was ever started", code="recovery_not_found")
        return await self._answer(account, pending, found)

    async def toward(self, new_account: str) -> dict:
        """The recoveries whose new key is `new_account`, latest first (the new key's wallet shows the countdown)."""
        new_account = checksum(new_account)
        events = await self._events(new_account)
        olds = []
        for e in reversed(events):
            if e["name"] == "RecoveryRequested" and e["args"]["newAccount"] == new_account \
                    and e["args"]["account"] not in olds:
                olds.append(e["args"]["account"])
        out = [await self.recovery(old) for old in olds[:MAX_TOWARD]]
        return {"object": "list", "data": [r for r in out if r["newAccount"] == new_account], "has_more": False}

    async def _pending(self, account: str) -> dict | None:
        out = await self.chain.call(self.membership, PENDING_RECOVERY.encode(account))
        new_account, executable_at, nonce = abi_decode(["address", "uint64", "uint32"], out)
        if checksum(new_account) == ZERO:
            return None
        return {"newAccount": checksum(new_account), "executableAt": executable_at, "nonce": nonce}

    async def _events(self, address: str) -> list[dict]:
        """The indexed recovery events naming `address`, oldest first (args decoded)."""
        def load(s):
            rows = s.execute(select(IdxEvent.name, IdxEvent.args, IdxEvent.tx_hash, IdxEvent.block_number)
                             .where(IdxEvent.name.in_(RECOVERY_EVENTS), IdxEvent.args.contains(address))
                             .order_by(IdxEvent.block_number, IdxEvent.log_index)).all()
            return [{"name": n, "args": json.loads(a), "txHash": h, "block": b} for n, a, h, b in rows]
        return await self.store.run(load)

    async def _answer(self, account: str, pending: dict | None, found: dict | None) -> dict:
        """One recovery as the API shows it. The chain's pending request decides whether it is pending; the
        indexer's events say who started it and how it ended."""
        request = found["request"] if found else None
        if pending is not None:
            if request is not None and request["args"]["nonce"] != pending["nonce"]:
                request = None  # the indexer has not seen this request yet: the chain's own fields only
            state, ended = "pending", None
        else:
            state, ended = found["state"], found["ended"]
        a = request["args"] if request else {}
        by = a.get("authority")
        answer = {
            "object": "recovery", "account": account,
            "newAccount": pending["newAccount"] if pending else a["newAccount"],
            "state": state,
            "nonce": pending["nonce"] if pending else a["nonce"],
            "executableAt": pending["executableAt"] if pending else a["executableAt"],
            "startedBy": {"address": by, "name": self._name_of(by)} if by else None,
            "requestTxHash": request["txHash"] if request else None,
            "endTxHash": ended["txHash"] if ended else None,
            "objection": None,
        }
        if pending is not None:  # the objection only while the chain holds the request (not an ending unindexed yet)
            answer["executable"] = await self._chain_time() >= answer["executableAt"]
            answer["objection"] = self.objection_document(account, answer["newAccount"], answer["nonce"],
                                                          int(time.time()) + OBJECTION_TTL_S)
        else:
            answer["executable"] = False
        return answer

    async def _chain_time(self) -> int:
        """The latest block's time: what completeRecovery compares executableAt with (not this machine's clock)."""
        block = await self.chain.request("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def _name_of(self, by: str) -> str | None:
        onboarding = self.relayer.onboarding
        if onboarding is not None and by == onboarding.address:
            return self.settings.onboarding_office_name
        return None

    def objection_document(self, account: str, new_account: str, nonce: int, deadline: int) -> dict:
        """The EIP-712 RecoveryObjection the old key signs (verifying contract: Membership)."""
        return typed_data("RecoveryObjection", self.chain.chain_id, self.membership,
                          {"account": account, "newAccount": new_account, "nonce": nonce, "deadline": deadline})

    # -- the office's acts ----------------------------------------------------------------------------------------

    def fingerprint(self, body) -> str:
        """The idempotency fingerprint of a start: keyed like onboarding's (never a plain hash of personal data)."""
        return self.onboarding.fingerprint(body)

    async def start(self, body) -> Result:
        office = self._office()
        ih = crypto.identity_hash(self.onboarding.identity_key, body.identityNumber)
        account = checksum("0x" + (await self.chain.call(self.membership, ACCOUNT_OF.encode(ih)))[-20:].hex())
        if account == ZERO:
            raise NotFound("no registered resident has this identity number", code="resident_not_found",
                           field="identityNumber")
        new_account = checksum(body.newAccount)
        data = REQUEST_RECOVERY.encode(account, new_account)
        await simulate(self.chain, self.membership, data, office.address)  # pending already, not fresh: refused
        # the kept data is opened (on the identity-use trail) only for a start the chain would take
        await self._check_identity(account, new_account, body)
        return await self._after(account, await self._send("recovery_request", account, data, REQUEST_GAS, office))

    async def complete(self, account: str) -> Result:
        account = checksum(account)
        office = self._office()
        data = COMPLETE_RECOVERY.encode(account)
        await simulate(self.chain, self.membership, data, office.address)  # none pending, notice not over, ...
        return await self._after(account, await self._send("recovery_complete", account, data, COMPLETE_GAS, office))

    async def cancel(self, account: str) -> Result:
        account = checksum(account)
        office = self._office()
        data = CANCEL_RECOVERY.encode(account)
        await simulate(self.chain, self.membership, data, office.address)
        return await self._after(account, await self._send("recovery_cancel", account, data, CANCEL_GAS, office))

    async def _check_identity(self, account: str, new_account: str, body) -> None:
        """When this API registered the resident, the name and phone given at the office must be the ones kept
        (compared in constant time); a resident registered elsewhere is known by the identity number alone.
        Opening the kept data is on the identity-use trail first (recovery-verification)."""
        kept = await self.onboarding.personal_data(account, purpose="recovery-verification",
                                                   ref=request_ref("recovery", account, new_account))
        if kept is None:
            return
        same = [hmac.compare_digest(str(kept.get(k, "")).strip().encode(), str(v).strip().encode())
                for k, v in (("name", body.name), ("phone", body.phone))]
        if not all(same):
            raise InvalidRequest("the name or phone does not match the resident's registration",
                                 code="identity_mismatch")

    def _office(self):
        if self.relayer.onboarding is None:
            raise Unavailable("no onboarding account is configured (CITYPOINTS_ONBOARDING_KEY)",
                              code="onboarding_not_configured")
        return self.relayer.onboarding

    # -- the old key's objection ----------------------------------------------------------------------------------

    async def object(self, account: str, body) -> Result:
        """Relay the old key's signed RecoveryObjection, after every check the contract makes."""
        account = checksum(account)
        if not self.relayer.accounts:
            raise Unavailable("no relayer account is configured (CITYPOINTS_RELAYER_KEYS)",
                              code="relayer_not_configured")
        new_account = checksum(body.newAccount)
        signature = unhex(body.signature)
        message = {"account": account, "newAccount": new_account, "nonce": body.nonce, "deadline": body.deadline}
        # the contract takes the account's own ECDSA signature only (no EIP-1271)
        refusal = ecdsa_refusal(account, digest("RecoveryObjection", self.chain.chain_id, self.membership, message),
                                signature)
        if refusal is not None:
            raise InvalidRequest(f"the objection is not signed by the account's key: {refusal}",
                                 code="invalid_signature", field="signature")
        if body.deadline < time.time():
            raise InvalidRequest("the objection's deadline has passed; sign it again", code="signature_expired",
                                 field="deadline")
        pending = await self._pending(account)
        if pending is None or pending["nonce"] != body.nonce:
            found = _ended(await self._events(account), account, body.nonce)
            if found is not None:
                raise Conflict(f"this recovery was already {found}; the objection is not sent again",
                               code="objection_replayed", field="nonce")
            if pending is None:
                raise NotFound("no recovery of this account is pending", code="recovery_not_found")
            raise InvalidRequest("the objection names another recovery request (its nonce)",
                                 code="recovery_mismatch", field="nonce")
        if pending["newAccount"] != new_account:
            raise InvalidRequest("the objection names another new account than the pending recovery's",
                                 code="recovery_mismatch", field="newAccount")
        data = OBJECT_BY_SIG.encode(account, new_account, body.nonce, body.deadline, signature)
        relayer = self.relayer.accounts[0]
        await simulate(self.chain, self.membership, data, relayer.address)
        return await self._after(account, await self._send("recovery_objection", account, data, OBJECTION_GAS, None))

    # -- sending ----------------------------------------------------------------------------------------------

    async def _send(self, kind: str, account: str, data: bytes, gas: int, sender) -> tuple[str, object]:
        return await relay(self.relayer, self.settings.confirm_timeout_s, kind=kind, subject_id=account,
                           to=self.membership, data=data, gas=gas, account=sender)

    async def _after(self, account: str, sent: tuple[str, object]) -> Result:
        """The recovery once the transaction is mined and indexed (Done; a refusal in the block is its contract
        error), or as it stands (Pending) when it is not mined within the confirmation time."""
        h, mined = sent
        if mined is not None:
            block = int(mined.receipt["blockNumber"], 16)
            deadline = time.monotonic() + 5
            while self.indexer.block < block and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        answer = {**await self.recovery(account), "txHash": h}
        return Done(answer) if mined is not None else Pending(answer)


def _uint(out: bytes) -> int:
    return int.from_bytes(out[-32:], "big")


def _latest(events: list[dict], account: str) -> dict | None:
    """The last request of `account` and how it ended (None while open)."""
    found = None
    for e in events:
        if e["args"].get("account") != account:
            continue
        if e["name"] == "RecoveryRequested":
            found = {"request": e, "state": "pending", "ended": None}
        elif found is not None and found["ended"] is None and e["name"] in ENDINGS:
            found.update(state=ENDINGS[e["name"]], ended=e)
    return found


def _ended(events: list[dict], account: str, nonce: int) -> str | None:
    """How request `nonce` of `account` ended ("objected", "cancelled", "completed"), or None."""
    open_nonce = None
    for e in events:
        if e["args"].get("account") != account:
            continue
        if e["name"] == "RecoveryRequested":
            open_nonce = e["args"]["nonce"]
        elif e["name"] in ENDINGS and open_nonce is not None:
            if open_nonce == nonce:
                return ENDINGS[e["name"]]
            open_nonce = None
    return None
