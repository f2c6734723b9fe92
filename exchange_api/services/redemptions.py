"""Redemptions (docs/DESIGN.md flow 3): requests the merchant creates and the resident approves by signing, consents
the merchant collected itself, and reads. Every submission goes: validate -> EIP-712 pre-check -> admit (the
contract's checks on the indexed view when it is current, else simulated by eth_call; credits held for the
resident's pending redemptions taken off either way) -> relayer (persist, send) -> answer pending at once, or wait
for the block."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass, field

from eth_utils import to_checksum_address
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from exchange_api import errors, idempotency, metrics
from exchange_api.chain import REDEEM, ChainClient, checksum, unhex
from exchange_api.credit_holds import CreditHolds
from exchange_api.errors import ApiError, Conflict, Forbidden, InvalidRequest, NodeUnavailable, NotFound
from exchange_api.indexed_view import IndexedView
from exchange_api.indexer import Indexer
from exchange_api.relayer import PreCheck, Relayer
from exchange_api.schemas import decimal
from exchange_api.services.common import (Principal, check_signature, check_signed, cursor_seq, iso, new_id, now,
                                          order_ref, page, recorded)
from exchange_api.services.expiring import live_points
from exchange_api.services.residents import Residents
from exchange_api.services.results import Done, Pending, Result
from exchange_api.settings import Settings
from exchange_api.spent_intents import SpentIntents
from exchange_api.store.db import Store
from exchange_api.store.models import (IdempotencyRecord, IdxCursor, IdxEvent, IdxPreferredOrder, IdxRedemption,
                                       Merchant, MerchantProfile, Redemption, RedemptionRequest)
from ledger_node import domain
from ledger_node.domain import RATE_SCALE, redemption_id, value_decimal
from ledger_node.redemption_plan import Holding, NotEnoughValue, Part, plan
from ledger_node.typed_data import typed_data


log = logging.getLogger("citypoints.redemptions")
INSERT_REDEMPTION = insert(Redemption.__table__)  # compiled once; the hot path passes rows as parameters
# a consent the node cannot simulate in time (a state snapshot pauses the engine) is admitted on the indexed view
# when it lacks at most this many of the head's blocks; further behind, the answer is 503 node_unavailable
ADMIT_LAG_BLOCKS = 2


@dataclass
class Redemptions:
    store: Store
    chain: ChainClient
    relayer: Relayer
    indexer: Indexer       # the block the indexed view is at (admission from it when that is the node's head)
    view: IndexedView      # merchants' status, schemes and balances as indexed, in memory
    holds: CreditHolds     # credits of the pending redemptions this service admitted
    residents: Residents   # residents' balances in credits
    spent: SpentIntents    # intents the indexed chain shows spent: the relayer's check reads the store only past it
    kept_keys: idempotency.KeptKeys  # Idempotency-Keys the store keeps: likewise
    settings: Settings
    _paused: tuple[int, bool] | None = field(default=None, init=False, repr=False)  # (view epoch, ledger paused)

    def consent_document(self, message: dict) -> dict:
        return typed_data("RedemptionConsent", self.chain.chain_id, self.chain.addresses["Redemption"], message)

    # -- requests --------------------------------------------------------------------------------------------

    async def create_request(self, principal: Principal, body) -> Done:
        ref, label = order_ref(body.orderRef)
        row = RedemptionRequest(id=new_id("rrq"), merchant_id=principal.merchant_id,
                                resident=to_checksum_address(body.resident), credits=body.credits, order_ref=ref,
                                order_label=label, nonce="0x" + os.urandom(32).hex(),
                                deadline=now() + (body.expiresIn or self.settings.request_ttl_s), status="open")
        await self.store.write(lambda s: s.add(row))
        return Done(await self.request_public(row, principal.merchant, principal.merchant_name,
                                              names=await self.merchant_names(principal.merchant_id)))

    # -- the plan ---------------------------------------------------------------------------------------------

    async def holdings(self, resident: str, order: list[int] | None = None) -> list[Holding]:
        """The resident's holdings as indexed, less the points of the resident's pending plans, in the resident's
        order (the order the wallet sent with this read first, then the signed preferred order, then the rest by
        scheme id); schemes that cannot be spent now have rate 0; expired points are none of the resident's."""
        points, change, schemes = await self.view.holdings(self.store, resident)
        points, _ = await live_points(self.chain, resident, points, schemes)

        def preferred(s):
            signed = s.scalar(select(IdxPreferredOrder.schemes).where(IdxPreferredOrder.resident == resident.lower())
                              .order_by(IdxPreferredOrder.block_number.desc(), IdxPreferredOrder.log_index.desc())
                              .limit(1))
            return list(json.loads(signed)) if signed else []
        first = list(dict.fromkeys(sc for sc in (order or []) + await self.store.run(preferred) if sc in schemes))
        order = first + sorted(sc for sc in schemes if sc not in first)
        pending = self.holds.points_held(resident)
        return [Holding(sc, max(points.get(sc, 0) - pending.get(sc, 0), 0), change.get(sc, 0),
                        schemes[sc].rate if schemes[sc].status in domain.SPENDABLE else 0) for sc in order]

    async def merchant_names(self, merchant_id: int) -> dict[str, str] | None:
        """The merchant's name as residents read it, in both languages: its catalogue profile's, else the name it
        was registered with."""
        def load(s):
            return s.execute(select(Merchant.name, MerchantProfile.name_zh, MerchantProfile.name_en)
                             .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Merchant.id)
                             .where(Merchant.id == merchant_id)).first()
        found = await self.store.run(load)
        return names_of(*found) if found else None

    async def request_public(self, row: RedemptionRequest, merchant: str, merchant_name: str | None,
                             name_zh: str | None = None, name_en: str | None = None, *,
                             holdings: list[Holding] | None = None, names: dict | None = None,
                             order: list[int] | None = None) -> dict:
        """The request with, while it is open, the consent to sign: its plan made from the resident's points now
        (`holdings`, when the caller read them already), in `order` where the wallet sent the resident's."""
        parts, plan_error, rates = None, None, {}
        if row.status == "open" and row.deadline >= now():
            holdings = holdings if holdings is not None else await self.holdings(row.resident, order)
            rates = {h.scheme: h.rate for h in holdings}
            try:
                parts = plan(row.credits, holdings)
            except NotEnoughValue as exc:
                plan_error = {"code": "insufficient_credits", "message": f"the resident's points are worth "
                              f"{exc.available} credits, less than the {row.credits} asked"}
        return self.request_public_with(row, merchant, merchant_name, parts, plan_error, rates,
                                        names=names or names_of(merchant_name, name_zh, name_en))

    def request_public_with(self, row: RedemptionRequest, merchant: str, merchant_name: str | None,
                            parts: list[Part] | None, plan_error: dict | None = None,
                            rates: dict[int, int] | None = None, *, names: dict | None = None) -> dict:
        message = {"resident": row.resident, "merchant": merchant, "credits": row.credits,
                   "parts": [p.as_message() for p in parts or []],
                   "orderRef": row.order_ref, "nonce": row.nonce, "deadline": row.deadline}
        status = row.status
        if status == "open" and row.deadline < now():
            status = "expired"
        return {"object": "redemption_request", "id": row.id, "status": status, "merchant": merchant,
                "merchantName": merchant_name, "merchantNames": names or names_of(merchant_name, None, None),
                "resident": row.resident, "credits": row.credits, "creditsDecimal": decimal(row.credits),
                "orderRef": row.order_ref, "orderLabel": row.order_label, "nonce": row.nonce,
                "deadline": row.deadline, "redemptionId": row.redemption_id,
                # a link any phone camera opens: the wallet page, this request loaded
                "qrPayload": f"{self.settings.base_url}/wallet/?request={row.id}",
                "typedData": self.consent_document(message) if parts else None,
                # the plan's figures as the wallet shows them before signing (the points' value, change kept or used)
                "plan": totals([part_figures(p.scheme, p.points, p.credits, p.points * rates[p.scheme])
                                for p in parts]) if parts else None,
                "planError": plan_error, "createdAt": iso(row.created_at)}

    async def get_request(self, request_id: str, merchant_id: int | None = None, *,
                          order: list[int] | None = None) -> dict:
        """The request; `order`: the resident's spending order of programmes (the wallet keeps it), which the
        plan follows among the plans that burn the least value (422 `invalid_scheme_order` for a programme named
        twice or one the ledger does not have)."""
        if order is not None:
            schemes = await self.view.schemes(self.store)
            for i, scheme in enumerate(order):
                if scheme not in schemes or scheme in order[:i]:
                    raise InvalidRequest(f"the spending order names programme {scheme} twice or one that does not "
                                         "exist", code="invalid_scheme_order", field="order")
        def load(s):
            q = select(RedemptionRequest, Merchant.address, Merchant.name, MerchantProfile.name_zh,
                       MerchantProfile.name_en)\
                .join(Merchant, Merchant.id == RedemptionRequest.merchant_id)\
                .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Merchant.id)\
                .where(RedemptionRequest.id == request_id)
            if merchant_id is not None:
                q = q.where(RedemptionRequest.merchant_id == merchant_id)
            return s.execute(q).first()
        found = await self.store.run(load)
        if not found:
            raise NotFound("no such redemption request", code="request_not_found")
        return await self.request_public(*found, order=order)

    async def resident_requests(self, resident: str, limit: int, starting_after: str | None) -> dict:
        resident = to_checksum_address(resident)

        def load(s):
            seq = cursor_seq(s, RedemptionRequest, starting_after, resident=resident)
            q = select(RedemptionRequest, Merchant.address, Merchant.name, MerchantProfile.name_zh,
                       MerchantProfile.name_en)\
                .join(Merchant, Merchant.id == RedemptionRequest.merchant_id)\
                .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Merchant.id)\
                .where(RedemptionRequest.resident == resident, RedemptionRequest.status == "open",
                       RedemptionRequest.deadline >= now()).order_by(RedemptionRequest.seq.desc()).limit(limit + 1)
            if seq is not None:
                q = q.where(RedemptionRequest.seq < seq)
            return s.execute(q).all()
        rows = await self.store.run(load)
        holdings = await self.holdings(resident) if rows else []  # one read for all the resident's requests
        public = {r[0].id: await self.request_public(*r, holdings=holdings) for r in rows[:limit]}
        return page(rows, limit, lambda r: public[r[0].id])

    async def approve_request(self, request_id: str, body) -> Result:
        found = await self.store.run(lambda s: s.execute(
            select(RedemptionRequest, Merchant).join(Merchant, Merchant.id == RedemptionRequest.merchant_id)
            .where(RedemptionRequest.id == request_id)).first())
        if not found:
            raise NotFound("no such redemption request", code="request_not_found")
        req, merchant = found
        if req.status == "approved":
            raise Conflict("the request was approved already", code="consent_already_used")
        if req.status != "open":
            raise Conflict(f"the request is {req.status}", code="request_not_open")
        consent = {"resident": req.resident, "merchant": merchant.address, "credits": req.credits,
                   "parts": [p.model_dump() for p in body.parts],
                   "orderRef": req.order_ref, "nonce": req.nonce, "deadline": req.deadline,
                   "signature": body.signature}

        def mark(s, rid):
            r = s.get(RedemptionRequest, req.seq)
            r.status, r.redemption_id = "approved", rid
        return await self.submit(merchant.id, consent, wait=body.wait, request_id=req.id, also=mark)

    async def cancel_request(self, principal: Principal, request_id: str) -> Done:
        def cancel(s):
            r = s.scalar(select(RedemptionRequest).where(RedemptionRequest.id == request_id,
                                                         RedemptionRequest.merchant_id == principal.merchant_id))
            if r is None:
                raise NotFound("no such redemption request", code="request_not_found")
            if r.status != "open":
                raise Conflict(f"the request is {r.status}", code="request_not_open")
            r.status = "cancelled"
            return r
        row = await self.store.write(cancel)
        return Done(self.request_public_with(row, principal.merchant, principal.merchant_name, None,
                                             names=await self.merchant_names(principal.merchant_id)))

    async def merchant_requests(self, principal: Principal, limit: int, starting_after: str | None,
                                status: str | None) -> dict:
        """The merchant's own requests, newest first (the POS page's open requests and today's sales), without the
        consent to sign: that is the resident's to read."""
        def load(s):
            seq = cursor_seq(s, RedemptionRequest, starting_after, merchant_id=principal.merchant_id)
            q = select(RedemptionRequest).where(RedemptionRequest.merchant_id == principal.merchant_id)\
                .order_by(RedemptionRequest.seq.desc()).limit(limit + 1)
            if seq is not None:
                q = q.where(RedemptionRequest.seq < seq)
            if status == "expired":
                q = q.where(RedemptionRequest.status == "open", RedemptionRequest.deadline < now())
            elif status == "open":
                q = q.where(RedemptionRequest.status == "open", RedemptionRequest.deadline >= now())
            elif status:
                q = q.where(RedemptionRequest.status == status)
            return list(s.scalars(q))
        rows = await self.store.run(load)
        names = await self.merchant_names(principal.merchant_id)
        return page(rows, limit, lambda r: self.request_public_with(r, principal.merchant, principal.merchant_name,
                                                                    None, names=names))

    async def progress(self, principal: Principal, request_id: str) -> dict:
        """Where a payment request stands, as the POS page follows it (GET .../events): `open`, `paying` (approved,
        its redemption not mined yet), `paid`, `failed`, `cancelled` or `expired`, with the redemption once there is
        one (the points taken per programme once confirmed). One light read: no plan is made."""
        def load(s):
            return s.execute(select(RedemptionRequest, Redemption)
                             .outerjoin(Redemption, Redemption.id == RedemptionRequest.redemption_id)
                             .where(RedemptionRequest.id == request_id,
                                    RedemptionRequest.merchant_id == principal.merchant_id)).first()
        found = await self.store.run(load)
        if not found:
            raise NotFound("no such redemption request", code="request_not_found")
        req, red = found
        status = req.status
        if status == "open" and req.deadline < now():
            status = "expired"
        elif status == "approved":
            status = {"confirmed": "paid", "failed": "failed"}.get(red.status if red else "", "paying")
        return {"object": "redemption_request_progress", "id": req.id, "status": status, "credits": req.credits,
                "creditsDecimal": decimal(req.credits), "orderLabel": req.order_label, "deadline": req.deadline,
                "redemption": public(red) if red is not None else None}

    # -- consents --------------------------------------------------------------------------------------------

    async def submit_consent(self, principal: Principal, body) -> Result:
        if checksum(body.merchant) != principal.merchant:
            raise Forbidden("the consent names another merchant than this API key's", code="merchant_mismatch",
                            field="merchant")
        consent = body.model_dump(exclude={"wait"})
        return await self.submit(principal.merchant_id, consent, wait=body.wait)

    async def submit(self, merchant_id: int, c: dict, *, wait: bool, request_id: str | None = None,
                     also=None) -> Result:
        resident, merchant = checksum(c["resident"]), checksum(c["merchant"])
        nonce, ref, sig = unhex(c["nonce"]), unhex(c["orderRef"]), unhex(c["signature"])
        if c["deadline"] < now():
            raise InvalidRequest("the signed deadline has passed", code="consent_expired", field="deadline")
        parts = [(p["scheme"], p["points"], p["credits"]) for p in c["parts"]]
        check_plan(c["credits"], parts)
        message = {"resident": resident, "merchant": merchant, "credits": c["credits"],
                   "parts": [{"scheme": sc, "points": pt, "credits": cr} for sc, pt, cr in parts], "orderRef": ref,
                   "nonce": nonce, "deadline": c["deadline"]}
        started = time.perf_counter()
        verified = await check_signature(self.chain, "RedemptionConsent", "Redemption", message, sig, resident)
        checked = time.perf_counter()
        metrics.STAGE.labels("signature").observe(checked - started)
        rid = redemption_id(resident, nonce)
        signed = ((resident, merchant, c["credits"], parts, ref, nonce, c["deadline"]), sig)
        data = REDEEM.encode(*signed)
        to = self.chain.addresses["Redemption"]
        if rid in self.holds:
            raise Conflict("this consent was submitted before", code="consent_already_used")
        # the node's head as the relayer's tracker polled it (every 20 ms; asking the node here would wait while it
        # mines a block): the indexed view is current when the indexer has that block
        head = self.relayer.current_head()
        if verified and head is not None and self.indexer.block >= head:
            await self.admit(resident, merchant, c["credits"])
            metrics.STAGE.labels("admit").observe(time.perf_counter() - checked)
        else:  # a block not indexed yet, a node not heard from (its outage answers 503 here), or a contract
            # wallet's signature: the chain's own check, simulated
            await self._simulate(to, data, resident, merchant, c["credits"], verified=verified)
            metrics.STAGE.labels("simulate").observe(time.perf_counter() - checked)
        if rid in self.holds:  # the same consent, admitted while this one was checked
            raise Conflict("this consent was submitted before", code="consent_already_used")
        self.holds.reserve(resident, rid, c["credits"], tuple((sc, pt) for sc, pt, _ in parts))
        return await self._relay(merchant_id, c, rid, resident, merchant, to, data, signed, wait=wait,
                                 request_id=request_id, also=also)

    async def _simulate(self, to: str, data: bytes, resident: str, merchant: str, credits: int, *,
                        verified: bool) -> None:
        """The contract's own check, simulated on the node; what it refuses is refused with its code. A node that
        does not answer within `simulation_wait_s` (a state snapshot pauses the engine for seconds at city scale:
        3,781 consents of the district's month were refused 503 so) does not refuse the consent when the indexed view
        lacks at most ADMIT_LAG_BLOCKS of the head's blocks: it is admitted on that view (`admit`, with the holds of
        this service's pending redemptions, whose burns those blocks may hold) and the chain checks it; a spend of
        the resident's elsewhere in those blocks fails its record with the contract's code, as a batch member's.
        A node not heard from (no head), a view further behind, or a contract wallet's signature (which only the
        node can check): 503."""
        try:
            await check_signed(self.chain, self.relayer, to, data, self.settings.simulation_wait_s)
        except (NodeUnavailable, asyncio.TimeoutError) as exc:  # before ApiError: NodeUnavailable is one
            head = self.relayer.current_head()  # the view is judged as it is now, after the wait
            lag = None if head is None else head - self.indexer.block
            if not verified or lag is None or lag > ADMIT_LAG_BLOCKS:
                if isinstance(exc, NodeUnavailable):
                    raise
                raise NodeUnavailable("the ledger node did not answer in time; retry shortly") from exc
            await self.admit(resident, merchant, credits)
            metrics.UNSIMULATED.labels("redemption").inc()
            log.warning("redemption admitted on the indexed view %d block(s) behind the head (the node did not "
                        "answer its simulation: %s)", max(0, lag), type(exc).__name__)
            return
        except ApiError:  # the contract's refusal
            metrics.REDEMPTIONS.labels("refused").inc()
            raise
        if self.holds.held(resident)[1]:  # the simulation sees none of the resident's pending redemptions
            await self.admit_credits(resident, credits)

    async def admit(self, resident: str, merchant: str, credits: int) -> None:
        """The contract's checks on the indexed chain (current: no block since), from memory, with the credits this
        service holds for the resident's pending redemptions taken off; raises what the chain would refuse with.
        Nothing awaits after the credits are read, so the caller's hold is taken before another request can look.
        A consent used before is refused by its hold while pending, by the store's unique key at the persist once
        settled (the relayer fills the nonce it took), and by the relayer's pre-check of its batch when the indexed
        chain shows its nonce spent (used outside this service, or by a PreferredOrder: `_used_before`). The
        signature's form (low s, v 27/28) and the deadline were checked before (services.common.check_signature,
        submit); a paused ledger (`pauseAll`) refuses here; a paused scheme's points count for nothing
        (domain.SPENDABLE), as in the contract."""
        if not await self.view.merchant_active(self.store, merchant):
            metrics.REDEMPTIONS.labels("refused").inc()
            raise errors.from_contract_error("RedemptionMerchantNotActive")
        if await self._indexed_paused():
            metrics.REDEMPTIONS.labels("refused").inc()
            raise errors.from_contract_error("PointsLedgerPaused")
        await self.admit_credits(resident, credits)

    async def _indexed_paused(self) -> bool:
        """Whether the ledger is paused (pauseAll) as indexed: read once per indexer commit."""
        epoch = self.view.epoch
        if self._paused is not None and self._paused[0] == epoch:
            return self._paused[1]

        def load(s):
            args = s.scalar(select(IdxEvent.args).where(IdxEvent.name == "LedgerPauseChanged")
                            .order_by(IdxEvent.block_number.desc(), IdxEvent.log_index.desc()).limit(1))
            return bool(json.loads(args)["paused"]) if args else False
        paused = await self.store.run(load)
        self._paused = (epoch, paused)
        return paused

    async def admit_credits(self, resident: str, credits: int) -> None:
        """The resident's credits as indexed, less what this service holds for the resident's pending redemptions
        (their burns show in the indexed balances from the commit that releases their holds on, so none is counted
        twice); raises insufficient_credits. A plan takes exactly its credits in value (change absorbs the rest),
        so what pending redemptions hold is their credits."""
        total = (await self.residents.balances(resident))["totalCredits"]
        held, _ = self.holds.held(resident)  # from here on nothing awaits until the caller's hold is taken
        available = total - held
        if credits > available:
            metrics.REDEMPTIONS.labels("refused").inc()
            raise ApiError(f"the resident's points are worth {max(available, 0)} credits, less than the {credits} "
                           f"asked (pending redemptions included)", code="insufficient_credits", status=422,
                           field="credits")

    async def _relay(self, merchant_id: int, c: dict, rid: str, resident: str, merchant: str, to: str,
                     data: bytes, signed: tuple, *, wait: bool, request_id: str | None, also) -> Result:
        """Persist and send (the relayer: alone as `data`, or with others that reach it together, in a batch, as
        `signed`), then answer pending, or confirmed once mined. The caller's hold is dropped here when nothing was
        persisted."""
        record = dict(id=rid, merchant_id=merchant_id, merchant=merchant, resident=resident, credits=c["credits"],
                      order_ref=c["orderRef"].lower(), nonce=c["nonce"].lower(), deadline=c["deadline"],
                      signature=c["signature"], request_id=request_id, status="pending")
        slot = idempotency.current()
        pending: dict = {}

        def persist(s, h):  # the rows go in with the relayer's batch (one executemany for each statement)
            if also is not None:
                also(s, rid)
            pending["answer"] = Pending(public_from_dict({**record, "tx_hash": h, "block_number": None,
                                                          "parts": None, "refunded": 0, "failure_code": None,
                                                          "created_at": None}))
            rows = [(INSERT_REDEMPTION, {**record, "tx_hash": h})]
            if slot is not None:  # the key's row, with the answer when it is known now (not waiting for the block)
                rows.append(idempotency.row(slot, None if wait else pending["answer"]))
            return rows
        key = (slot.scope, slot.key) if slot is not None else None
        try:
            started = time.perf_counter()
            h = await self.relayer.submit(kind="redemption", subject_id=rid, to=to, data=data,
                                          gas=self.settings.redeem_gas, resident=resident,
                                          intent_nonce=c["nonce"].lower(), deadline=c["deadline"],
                                          persist_with=persist, batch_item=signed,
                                          check=PreCheck(_used_before, (resident, rid, c["nonce"].lower(), key),
                                                         self._maybe_used))
        except IntegrityError:
            self.holds.release(rid)
            if await recorded(self.store, Redemption, rid):  # the consent's own key: it was used
                raise Conflict("this consent was submitted before", code="consent_already_used")
            raise
        except BaseException:
            self.holds.release(rid)
            raise
        metrics.REDEMPTIONS.labels("pending").inc()
        metrics.STAGE.labels("persist").observe(time.perf_counter() - started)
        if slot is not None:
            slot.written, slot.kept = True, not wait
        if not wait:
            return pending["answer"]
        mined = await self.relayer.wait(h, self.settings.confirm_timeout_s)
        if mined is None:
            return pending["answer"]
        row = await self.store.run(lambda s: s.scalar(select(Redemption).where(Redemption.id == rid)))
        if row.status == "pending":  # its nonce was used, by this intent elsewhere or not: the index says
            return Pending(public(row))
        if row.status == "failed":  # its transaction failed, or its batch skipped it (the record has why)
            if mined.error:
                raise errors.from_contract_error(*mined.error)
            raise errors.from_failure_code(row.failure_code)
        return Done(public(row))

    def _maybe_used(self, item: tuple[str, str, str, tuple | None]) -> bool:
        """Whether `_used_before` may refuse the item (then the store is read, once for the batch's items): only when
        the memory of spent intents cannot clear its intent, or the memory of kept keys its Idempotency-Key."""
        key = item[3]
        return self.spent.possible(item[1]) or (key is not None and self.kept_keys.possible(idempotency.key_id(*key)))

    # -- reads -----------------------------------------------------------------------------------------------

    async def get(self, principal: Principal, rid: str) -> dict:
        found = await self.store.run(lambda s: s.execute(_with_label(select(Redemption, RedemptionRequest.order_label))
                                                         .where(Redemption.id == rid.lower(),
                                                                Redemption.merchant_id == principal.merchant_id))
                                     .first())
        if found is None:
            raise NotFound("no such redemption", code="redemption_not_found")
        return public(*found)

    async def list_(self, principal: Principal, limit: int, starting_after: str | None,
                    status: str | None, created_from: dt.datetime | None = None,
                    created_to: dt.datetime | None = None) -> dict:
        """The merchant's redemptions, newest first, with the order label its request had; `created_from`
        (inclusive) and `created_to` (exclusive) bound when they were made (the POS page's statement)."""
        def load(s):
            seq = cursor_seq(s, Redemption, starting_after, merchant_id=principal.merchant_id)
            q = _with_label(select(Redemption, RedemptionRequest.order_label))\
                .where(Redemption.merchant_id == principal.merchant_id)\
                .order_by(Redemption.seq.desc()).limit(limit + 1)
            if seq is not None:
                q = q.where(Redemption.seq < seq)
            if status:
                q = q.where(Redemption.status == status)
            if created_from is not None:
                q = q.where(Redemption.created_at >= created_from)
            if created_to is not None:
                q = q.where(Redemption.created_at < created_to)
            return s.execute(q).all()
        return page(await self.store.run(load), limit, lambda r: public(*r))


def names_of(registered: str | None, zh: str | None, en: str | None) -> dict[str, str] | None:
    """{zh, en}: the profile's names, each falling back to the registered name (None without either)."""
    if registered is None and zh is None and en is None:
        return None
    return {"zh": zh or en or registered, "en": en or zh or registered}


def _used_before(s, consents: list[tuple[str, str, str, tuple | None]]) -> list[Exception | None]:
    """The relayer's pre-check of its batch's consents (resident, redemption id, nonce, (scope, Idempotency-Key) or
    None), three queries for the whole batch, before nonces: refused when the request's Idempotency-Key is held by
    another request's row (idempotency.KeyTaken: answered as a replay), or when the indexed chain shows the
    resident's nonce spent on Redemption (a redemption the merchant made on chain itself, or a preferred order signed
    with it), which the contract would refuse."""
    keys = [key for *_, key in consents if key is not None]
    held = {(scope, key) for scope, key in s.execute(select(IdempotencyRecord.scope, IdempotencyRecord.key).where(
        IdempotencyRecord.key.in_([key for _, key in keys])))} if keys else set()
    redeemed = set(s.scalars(select(IdxRedemption.redemption_id)
                             .where(IdxRedemption.redemption_id.in_([rid for _, rid, _, _ in consents]))))
    preferred = {(resident, nonce) for resident, nonce in s.execute(select(
        IdxPreferredOrder.resident, IdxPreferredOrder.nonce).where(
        IdxPreferredOrder.nonce.in_([nonce for _, _, nonce, _ in consents])))}
    out: list[Exception | None] = []
    for resident, rid, nonce, key in consents:
        if key in held:
            out.append(idempotency.KeyTaken())
        elif rid in redeemed or (resident.lower(), nonce) in preferred:
            metrics.REDEMPTIONS.labels("refused").inc()
            out.append(Conflict("this consent's nonce was used before", code="consent_already_used", field="nonce"))
        else:
            out.append(None)
    return out


def check_plan(credits: int, parts: list[tuple[int, int, int]]) -> None:
    """The plan's shape as Redemption checks it (before anything is signed, stored or sent): distinct schemes, each
    part paying credits, the parts adding up to the price."""
    seen = set()
    for i, (scheme, _points, part_credits) in enumerate(parts):
        if scheme in seen:
            raise InvalidRequest(f"part {i} names scheme {scheme} again", code="invalid_plan", field="parts")
        seen.add(scheme)
    total = sum(cr for _, _, cr in parts)
    if total != credits:
        raise InvalidRequest(f"the parts pay {total} credit cents, not the {credits} of the consent",
                             code="invalid_plan", field="parts")


def part_figures(scheme: int, points: int, credits: int, value: int, change: int | None = None) -> dict:
    """One part as the API writes it: `change` kept (> 0) or used (< 0), by default value - credits."""
    change = value - credits * RATE_SCALE if change is None else change
    return {"scheme": scheme, "points": points, "credits": credits, "creditsDecimal": decimal(credits),
            "value": value, "valueDecimal": value_decimal(value), "change": change,
            "changeDecimal": value_decimal(change)}


def totals(parts: list[dict]) -> dict:
    value, change = sum(p["value"] for p in parts), sum(p["change"] for p in parts)
    return {"parts": parts, "value": value, "valueDecimal": value_decimal(value), "change": change,
            "changeDecimal": value_decimal(change)}


def held_after_restart(s) -> list[tuple]:
    """The holds to take again at start: redemptions pending, or mined after the indexer's cursor."""
    cursor = s.get(IdxCursor, 1)
    indexed = cursor.block_number if cursor is not None else -1
    return [tuple(r) for r in s.execute(select(Redemption.resident, Redemption.id, Redemption.credits).where(
        (Redemption.status == "pending") | ((Redemption.status == "confirmed") & (Redemption.block_number > indexed))))]


def _with_label(q):
    """A query of redemptions joined to the request each came from (if any), for its order label."""
    return q.outerjoin(RedemptionRequest, RedemptionRequest.id == Redemption.request_id)


def public(row: Redemption, order_label: str | None = None) -> dict:
    return public_from_dict({**{c: getattr(row, c) for c in ("id", "merchant", "resident", "credits", "order_ref",
                                                             "nonce", "deadline", "request_id", "status", "tx_hash",
                                                             "block_number", "parts", "refunded", "failure_code",
                                                             "created_at")}, "order_label": order_label})


def part_value_fields(parts_json: str | None) -> dict:
    """A record's fields from the chain's PartValue list (Redeemed, Refunded): per part the points, their value,
    the credits (to the merchant, or refunded) and the change kept (> 0) or used (< 0: spent, or turned back into
    points by a refund), and the totals; `parts` None while the chain has not reported them."""
    if not parts_json:
        return {"parts": None}
    return totals([part_figures(p[0], p[1], p[3], p[2], p[5] - p[4]) for p in json.loads(parts_json)])


def signed_parts(parts_json: str) -> list[tuple[int, int, int]]:
    """The parts as the resident signed them (scheme, points, credits), from the chain's PartValue list: what a
    refund names."""
    return [(p[0], p[1], p[3]) for p in json.loads(parts_json)]


def public_from_dict(r: dict) -> dict:
    return {"object": "redemption", "id": r["id"], "status": r["status"], "resident": r["resident"],
            "merchant": r["merchant"], "credits": r["credits"], "creditsDecimal": decimal(r["credits"]),
            "orderRef": r["order_ref"], "orderLabel": r.get("order_label"), "nonce": r["nonce"],
            "deadline": r["deadline"], "requestId": r.get("request_id"), "txHash": r.get("tx_hash"),
            "blockNumber": r.get("block_number"),
            **part_value_fields(r.get("parts")),
            "refundedCredits": r.get("refunded") or 0, "failureCode": r.get("failure_code"),
            "createdAt": iso(r.get("created_at"))}
