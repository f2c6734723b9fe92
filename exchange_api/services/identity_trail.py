"""The identity-use trail (issue 23; contract IdentityTrail): every use of a resident's personal data is an entry on
chain (resident, actor, purpose, request reference, time), written BEFORE the data is opened.

- Write-ahead (`write_ahead`): the entry is appended through the relayer (signed, persisted, sent, like every send)
  and waited for until mined; only then may the caller open the data (`Onboarding.personal_data`, the one function
  that unseals it). A node that does not answer, a relayer that cannot send, an entry not mined within
  `confirm_timeout_s` or refused by the chain: 503 `trail_unavailable`, and the data stays closed. An entry whose
  send outcome was unknown may still be mined later (the relayer delivers what it persisted): the trail may then
  show a use that was refused here, never miss one that happened.
- Batched: uses that arrive within BATCH_LINGER_S of each other (a burst of lookups) share one `record`
  transaction (one event per entry, ~6k gas each instead of ~42k alone); each waits for that transaction.
- Who is the actor: the onboarding office's account (ONBOARDING_ROLE) records its own uses (actor None); a use on
  behalf of another registered account (an issuer's resident lookup) is recorded by a relayer account
  (RELAYER_ROLE) naming that account as the actor.
- The resident reads their entries (`entries`, from the indexer's events) with the actor's organisation where this
  API knows it (the office name setting), the purpose in words, the time, and whether they objected; an entry they
  do not recognise gets a signed `TrailObjection` (`objection_document`), relayed by `object` after the checks the
  contract makes (entry theirs, deadline, unused nonce, their ECDSA signature).
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field

from eth_utils import keccak
from sqlalchemy import or_, select

from exchange_api.chain import ChainClient, ChainRevert, RpcFailure, checksum, fn, unhex
from exchange_api.errors import ApiError, Conflict, InvalidRequest, NotFound, Unavailable
from exchange_api.relayer import Relayer
from exchange_api.services.common import ecdsa_refusal, relay, simulate
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import IdxEvent, IdxResident
from ledger_node.domain import TRAIL_PURPOSE_CODES, TRAIL_PURPOSES, held_account_of
from ledger_node.typed_data import digest, typed_data

RECORD = fn("record((address,address,uint16,bytes32)[])")
OBJECT = fn("object((uint256,address,bytes32,uint256),bytes)")
IDENTITY_USED = "0x" + keccak(text="IdentityUsed(uint256,address,address,uint16,bytes32,uint64)").hex()
RECORD_GAS = 80_000  # one entry: ~42k; each more ~6k (tests/contracts/value/test_identity_trail.py)
RECORD_GAS_PER_ENTRY = 12_000
MAX_BATCH = 100  # entries in one record call (the contract takes up to 256)
BATCH_LINGER_S = 0.01  # uses arriving within this time of the first share one transaction
OBJECTION_GAS = 150_000
OBJECTION_TTL_S = 3600  # the deadline of the objection document the API offers to sign
MAX_ENTRIES = 500  # entries listed for one resident, newest first
TRAIL_EVENTS = ("IdentityUsed", "UseObjected")


def request_ref(*parts: str) -> bytes:
    """A request reference for the trail from the caller's own identifiers (never personal data): keccak256 of them
    joined, so the entry can be matched with the caller's records and shows nothing itself."""
    return keccak(text="\x1f".join(parts))


@dataclass
class _Batch:
    done: asyncio.Future  # the entries' ids, in order, once mined
    entries: list[tuple] = field(default_factory=list)


@dataclass
class IdentityTrail:
    store: Store
    chain: ChainClient
    relayer: Relayer
    settings: Settings
    _batches: dict[str, _Batch] = field(default_factory=dict, init=False, repr=False)  # sending account -> open batch

    @property
    def address(self) -> str | None:
        return self.chain.addresses.get("IdentityTrail")

    # -- write-ahead -------------------------------------------------------------------------------------------

    async def write_ahead(self, resident: str, purpose: str, ref: bytes, actor: str | None = None) -> int:
        """Append (resident, actor, purpose, ref) to the trail and wait until it is mined; the entry's id.
        `actor` None: the onboarding office's own use. Raises Unavailable (503) when the entry is not on chain."""
        code = TRAIL_PURPOSE_CODES[purpose]  # a caller's purpose is code, not input: unknown is a bug
        trail = self.address
        if trail is None:
            raise Unavailable("this deployment has no identity-use trail, so personal data stays closed",
                              code="trail_not_deployed")
        if actor is None:
            account = self.relayer.onboarding
            if account is None:
                raise Unavailable("no onboarding account is configured (CITYPOINTS_ONBOARDING_KEY)",
                                  code="onboarding_not_configured")
            actor = account.address
        else:
            account = None  # a relayer account records on the actor's behalf
            if not self.relayer.accounts:
                raise Unavailable("no relayer account is configured (CITYPOINTS_RELAYER_KEYS)",
                                  code="relayer_not_configured")
        entry = (checksum(resident), checksum(actor), code, ref)
        key = account.address if account is not None else "relayer"
        batch = self._batches.get(key)
        if batch is None or len(batch.entries) >= MAX_BATCH:
            batch = self._batches[key] = _Batch(asyncio.get_running_loop().create_future())
            asyncio.create_task(self._send_batch(key, batch, trail, account))
        index = len(batch.entries)
        batch.entries.append(entry)
        return (await asyncio.shield(batch.done))[index]

    async def _send_batch(self, key: str, batch: "_Batch", trail: str, account) -> None:
        """After BATCH_LINGER_S, one `record` of every entry that joined the batch; each waiter gets its id (the
        batch's events are in entry order) or the same 503."""
        await asyncio.sleep(BATCH_LINGER_S)
        if self._batches.get(key) is batch:
            del self._batches[key]
        try:
            batch.done.set_result(await self._record(trail, batch.entries, account))
        except Exception as exc:  # noqa: BLE001 - every waiter of the batch gets it
            batch.done.set_exception(exc)

    async def _record(self, trail: str, entries: list[tuple], account) -> list[int]:
        data = RECORD.encode(entries)
        subject = entries[0][0] if len(entries) == 1 else f"batch of {len(entries)}"
        try:
            h = await self.relayer.submit(kind="identity_trail", subject_id=subject, to=trail, data=data,
                                          gas=RECORD_GAS + RECORD_GAS_PER_ENTRY * len(entries), account=account)
            mined = await self.relayer.wait(h, self.settings.confirm_timeout_s)
        except (ChainRevert, RpcFailure, ApiError, OSError) as exc:
            raise _closed(f"the trail entry could not be sent ({type(exc).__name__})") from exc
        if mined is None:
            raise _closed("the trail entry was not confirmed in time")
        if not mined.ok:
            raise _closed(f"the chain refused the trail entry ({(mined.error or ('?',))[0]})")
        ids = [int(log["topics"][1], 16) for log in mined.receipt.get("logs", ())
               if log["address"].lower() == trail.lower() and log["topics"][0] == IDENTITY_USED]
        if len(ids) != len(entries):
            raise _closed("the trail's receipt does not hold an IdentityUsed event per entry")
        return ids

    # -- the resident's reads --------------------------------------------------------------------------------------

    async def entries(self, resident: str) -> dict:
        """The trail entries of `resident` (indexed), newest first, each with its objection if any; and the uses of
        their identity before they joined (an issuer's lookup to credit them), recorded under the account that held
        their points then (`beforeJoining`: no key of that account signs an objection)."""
        resident = checksum(resident)

        def load(s):
            known = s.get(IdxResident, resident)
            held = held_account_of(known.identity_hash) if known else None
            where = IdxEvent.args.contains(resident)
            if held:
                where = or_(where, IdxEvent.args.contains(held))
            rows = s.execute(select(IdxEvent.name, IdxEvent.args, IdxEvent.tx_hash, IdxEvent.block_number)
                             .where(IdxEvent.name.in_(TRAIL_EVENTS), where)
                             .order_by(IdxEvent.block_number.desc(), IdxEvent.log_index.desc())).all()
            return held, [(n, json.loads(a), h, b) for n, a, h, b in rows]
        held, rows = await self.store.run(load)
        objected = {int(a["entryId"]): h for n, a, h, _ in rows if n == "UseObjected" and a["resident"] == resident}
        data = []
        for name, a, h, block in rows:
            if name != "IdentityUsed" or a["resident"] not in (resident, held):
                continue
            entry_id, purpose, before = int(a["id"]), int(a["purpose"]), a["resident"] == held
            data.append({"object": "identity_use", "id": entry_id, "resident": resident, "actor": a["actor"],
                         "actorName": self.actor_name(a["actor"]), "purpose": TRAIL_PURPOSES.get(purpose, "unknown"),
                         "purposeCode": purpose, "requestRef": a["requestRef"], "at": int(a["at"]), "txHash": h,
                         "block": block, "beforeJoining": before, "objected": entry_id in objected,
                         "objectionTxHash": objected.get(entry_id),
                         "objection": None if entry_id in objected or before
                         else self.objection_document(entry_id, resident)})
            if len(data) >= MAX_ENTRIES:
                break
        return {"object": "list", "data": data, "has_more": len(data) >= MAX_ENTRIES}

    async def objections(self, limit: int) -> dict:
        """Residents' objections (UseObjected, indexed), newest first, each with the entry it names (actor,
        purpose, time) and whether the objector is that entry's resident: what the consortium console shows."""
        def load(s):
            rows = s.execute(select(IdxEvent.args, IdxEvent.tx_hash, IdxEvent.block_number)
                             .where(IdxEvent.name == "UseObjected")
                             .order_by(IdxEvent.block_number.desc(), IdxEvent.log_index.desc())
                             .limit(limit + 1)).all()
            found = [(json.loads(a), h, b) for a, h, b in rows]
            residents = {a["resident"] for a, _, _ in found[:limit]}
            used = {}
            for resident in residents:
                for (a,) in s.execute(select(IdxEvent.args).where(IdxEvent.name == "IdentityUsed",
                                                                  IdxEvent.args.contains(resident))).all():
                    entry = json.loads(a)
                    used[int(entry["id"])] = entry
            return found, used
        found, used = await self.store.run(load)
        data = []
        for a, h, block in found[:limit]:
            entry = used.get(int(a["entryId"]))
            data.append({"object": "trail_objection_record", "entryId": int(a["entryId"]), "resident": a["resident"],
                         "txHash": h, "block": block,
                         "byTheEntrysResident": bool(entry) and entry["resident"] == a["resident"],
                         "actor": entry["actor"] if entry else None,
                         "actorName": self.actor_name(entry["actor"]) if entry else None,
                         "purpose": TRAIL_PURPOSES.get(int(entry["purpose"]), "unknown") if entry else None,
                         "usedAt": int(entry["at"]) if entry else None})
        return {"object": "list", "data": data, "has_more": len(found) > limit}

    def actor_name(self, actor: str) -> str | None:
        """The organisation this API knows the actor as: its onboarding office (CITYPOINTS_ONBOARDING_OFFICE_NAME)."""
        onboarding = self.relayer.onboarding
        if onboarding is not None and actor == onboarding.address:
            return self.settings.onboarding_office_name
        return None

    def objection_document(self, entry_id: int, resident: str) -> dict:
        """The EIP-712 TrailObjection the resident signs (verifying contract: IdentityTrail), fresh nonce."""
        if self.address is None:
            raise Unavailable("this deployment has no identity-use trail", code="trail_not_deployed")
        return typed_data("TrailObjection", self.chain.chain_id, self.address,
                          {"entryId": entry_id, "resident": checksum(resident), "nonce": "0x" + os.urandom(32).hex(),
                           "deadline": int(time.time()) + OBJECTION_TTL_S})

    # -- the resident's objection ----------------------------------------------------------------------------------

    async def object(self, entry_id: int, body) -> dict:
        """Relay the resident's signed objection to entry `entry_id`, after every check the contract makes and one
        it cannot (the entry is the resident's)."""
        trail = self.address
        if trail is None:
            raise Unavailable("this deployment has no identity-use trail", code="trail_not_deployed")
        if not self.relayer.accounts:
            raise Unavailable("no relayer account is configured (CITYPOINTS_RELAYER_KEYS)",
                              code="relayer_not_configured")
        resident = checksum(body.resident)
        mine = [e for e in (await self.entries(resident))["data"] if e["id"] == entry_id]
        if not mine:
            raise NotFound("this resident's trail has no such entry", code="trail_entry_not_found")
        if mine[0]["objected"]:
            raise Conflict("you objected to this entry already", code="objection_already_used")
        message = {"entryId": entry_id, "resident": resident, "nonce": body.nonce.lower(), "deadline": body.deadline}
        signature = unhex(body.signature)
        refusal = ecdsa_refusal(resident, digest("TrailObjection", self.chain.chain_id, trail, message), signature)
        if refusal is not None:
            raise InvalidRequest(f"the objection is not signed by the resident's key: {refusal}",
                                 code="invalid_signature", field="signature")
        if body.deadline < time.time():
            raise InvalidRequest("the objection's deadline has passed; sign it again", code="signature_expired",
                                 field="deadline")
        data = OBJECT.encode((entry_id, resident, unhex(body.nonce), body.deadline), signature)
        # a used nonce, an unknown entry: refused before anything is signed
        await simulate(self.chain, trail, data, self.relayer.accounts[0].address)
        h, mined = await relay(self.relayer, self.settings.confirm_timeout_s, kind="trail_objection",
                               subject_id=f"{entry_id}:{resident}", to=trail, data=data, gas=OBJECTION_GAS)
        answer = {"object": "trail_objection", "entryId": entry_id, "resident": resident, "txHash": h}
        if mined is None:
            return {**answer, "status": "pending", "block": None}
        return {**answer, "status": "objected", "block": int(mined.receipt["blockNumber"], 16)}


def _closed(why: str) -> Unavailable:
    return Unavailable(f"the use of personal data could not be recorded on the identity-use trail, so the data stays "
                       f"closed: {why}; retry later", code="trail_unavailable")
