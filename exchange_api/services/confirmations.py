"""What happens when the relayer sees its transactions mined (or given up): records updated, webhooks queued.
Idempotent: the relayer hands each transaction over once, and every update sets the final state.

A redemption or an exchange the chain refused because its nonce was used (`ResidentNonceUsed`: skipped in a batch,
reverted alone, or found used by reconcile() before it was sent again) is not failed at once: the same signed
intent may have been carried out by another transaction (the merchant or anyone else submitting the consent, this
relayer's earlier transaction of a batch re-signed after a restart), and then the record must say confirmed, as the
chain does. The record stays `pending` with the block where the chain said so (a pending record with a block number
awaits the index), and once the indexer has that block `settle_used` settles it from what the chain recorded:
confirmed, naming the transaction that carried it out, when the chain's redemption (or exchange) under that nonce
is this very intent; failed `consent_already_used` when another intent of the resident used the nonce (or, for an
exchange, the nonce fell below the window). Without an indexer such records fail at once, as before."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from exchange_api import metrics
from exchange_api.chain import checksum, unhex
from exchange_api.credit_holds import CreditHolds
from exchange_api.relayer import USED, Settled
from exchange_api.services import redemptions, refunds, vouchers
from exchange_api.services.webhooks import enqueue, webhook_merchants
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import (ExchangeSubmission, IdxActivity, IdxEvent, IdxRedemption, Redemption,
                                       Refund, RelayedTransaction, ResidentRecord, utcnow)
from exchange_api.webhooks import Dispatcher
from ledger_node.contract_errors import CONTRACT_ERRORS, UNNAMED
from ledger_node.domain import redemption_id
from ledger_node.event_codec import EventCodec
from ledger_node.revert import decode_revert


def failure_code(error: tuple | None) -> str:
    name = error[0] if error else None
    return (CONTRACT_ERRORS.get(name) or UNNAMED).code


OUTCOME_EVENTS = ("Redeemed", "RedemptionSkipped", "Refunded", "Exchanged", "ExchangeSkipped")


def _used(why: tuple | None) -> bool:
    return bool(why) and why[0] == USED


def _awaiting(columns) -> tuple:
    """The records awaiting the index, as their partial index says (models.awaiting_index)."""
    return columns.status == "pending", columns.block_number.is_not(None)


@dataclass
class Confirmations:
    """The relayer's `on_mined` and `outcome_logs` (wired in runtime.py): the services' side of a mined block."""
    store: Store
    events: EventCodec     # the deployment's events, to decode the outcome events of receipts
    holds: CreditHolds     # a failed redemption's hold goes at once
    webhooks: Dispatcher   # woken when events were queued
    settings: Settings
    awaiting: bool = True  # records may await the index (settle_used); at start, a crash may have left some
    deferrals: int = 0  # records left to await the index so far (settle_used sees whether one was meanwhile)
    on_deferred: Callable[[], None] | None = None  # a record was left to await the index (runtime.py settles them)

    def outcome_events(self, receipt: dict | None) -> dict[str, list[dict]]:
        """The events that settle a record (OUTCOME_EVENTS) in a receipt, decoded, by name."""
        out: dict[str, list[dict]] = {}
        for lg in (receipt or {}).get("logs", []):
            event = self.events.event_of(lg)
            if event is not None and event.name in OUTCOME_EVENTS:
                out.setdefault(event.name, []).append(event.decode(lg["topics"], lg["data"]))
        return out

    def outcome_filter(self) -> dict:
        """The eth_getLogs filter of the outcome events (the relayer settles a transaction that emitted one from
        it)."""
        specs = [(address, event.topic0) for (address, _), event in self.events.items()
                 if event.name in OUTCOME_EVENTS]
        return {"address": sorted({checksum(a) for a, _ in specs}), "topics": [sorted({t for _, t in specs})]}

    async def on_mined(self, mark: Callable[[Session], Settled], receipts: list[dict | None] = ()) -> Settled:
        """Settle the records the relayer's transactions serve, in the very transaction where `mark(session)` marks
        those transactions (mined, failed, replaced) and says which they are, with their receipts and errors: were
        the two apart, a crash between them would leave a record pending whose transaction reconcile() no longer
        looks at. `receipts`: the receipts `mark` may name, decoded beforehand outside the writer. What `mark`
        returned."""
        by_hash = await asyncio.to_thread(lambda: {r["transactionHash"]: self.outcome_events(r) for r in receipts
                                                   if r and "transactionHash" in r})
        failed: list[str] = []  # redemptions whose credit holds go now (see exchange_api.credit_holds)
        indexer_enabled = self.settings.indexer_enabled

        def apply(s):  # may run twice: what it leaves for after the commit is collected anew each time
            items = mark(s)
            decoded = [by_hash.get((receipt or {}).get("transactionHash"), {}) for _, receipt, _ in items]
            failed.clear()
            events, deferred = _settle(s, items, decoded, failed, indexer_enabled)
            if events:
                enqueue(s, events)
            return items, bool(events), deferred
        items, wake, deferred = await self.store.write(apply, isolated=False, background="settlement")
        if deferred:
            self.awaiting = True
            self.deferrals += 1
            if self.on_deferred is not None:
                self.on_deferred()
        self._after(failed, wake)
        return items

    def _after(self, failed: list[str], wake: bool) -> None:
        for rid in failed:  # spent nothing (a confirmed one's hold goes when the indexer commits its event)
            self.holds.release(rid)
        if wake:
            self.webhooks.wake()

    async def settle_used(self, indexed_block: int) -> int:
        """Settle the records awaiting the index (see the module docstring) whose block the index now has; how
        many. Leaves `awaiting` set while some may wait for a later block."""
        deferrals = self.deferrals
        failed: list[str] = []

        def apply(s):
            failed.clear()
            hooked = webhook_merchants(s)
            later = s.scalar(select(REDEMPTIONS.c.id).where(
                *_awaiting(REDEMPTIONS.c), REDEMPTIONS.c.block_number > indexed_block).limit(1)) is not None
            later = later or s.scalar(select(ExchangeSubmission.id).where(
                *_awaiting(ExchangeSubmission), ExchangeSubmission.block_number > indexed_block).limit(1)) \
                is not None
            settled = _settle_used_redemptions(s, indexed_block)
            events = _after_redemptions(s, settled, failed, hooked, True)
            count = len(settled) + _settle_used_exchanges(s, indexed_block)
            if events:
                enqueue(s, events)
            return count, bool(events), later
        count, wake, later = await self.store.write(apply, isolated=False, background="settlement")
        self.awaiting = later or self.deferrals != deferrals  # one deferred meanwhile may be at a later block
        self._after(failed, wake)
        return count


def _after_redemptions(s, settled: list[dict], failed: list[str], hooked: set[int], indexer_enabled: bool) -> list:
    """What settling redemptions brings with it: their vouchers, metrics, holds that go (added to `failed`) and the
    webhook events to queue."""
    events = []
    vouchers.settle_redemptions(s, settled)  # a voucher paid for is valid; one whose payment failed gives its unit back
    for r in settled:
        metrics.REDEMPTIONS.labels(r["status"]).inc()
        if r["status"] == "failed" or not indexer_enabled:
            failed.append(r["id"])
        if r["merchant_id"] in hooked:
            events.append((r["merchant_id"], f"redemption.{r['status']}", redemptions.public_from_dict(r)))
    return events


def _settle(s, items: Settled, decoded: list[dict], failed: list[str], indexer_enabled: bool) -> tuple[list, bool]:
    """Settle the records of `items` (with their decoded outcome events) in session `s`; the webhook events to
    queue, and whether a record was left to await the index. The redemptions whose holds go are added to
    `failed`."""
    hooked = webhook_merchants(s)
    redeemed = [(row, receipt, error, logs) for (row, receipt, error), logs in zip(items, decoded)
                if row.kind in ("redemption", "redemption_batch")
                and not (receipt is not None and "replacedBy" in receipt)]
    settled, deferred = _settle_redemptions(s, redeemed, indexer_enabled)  # the bulk of them: in one statement
    events = _after_redemptions(s, settled, failed, hooked, indexer_enabled)
    for (row, receipt, error), logs in zip(items, decoded):
        if receipt is not None and "replacedBy" in receipt:  # re-signed after a restart
            _retarget(s, row, receipt["replacedBy"])
            continue
        ok = receipt is not None and int(receipt["status"], 16) == 1
        block = int(receipt["blockNumber"], 16) if receipt else None
        if row.kind == "refund":
            f = s.scalar(select(Refund).where(Refund.id == row.subject_id))
            if f is None:
                continue
            f.block_number, f.updated_at = block, utcnow()
            if ok:
                f.status = "confirmed"
                r = s.scalar(select(Redemption).where(Redemption.id == f.redemption_id))
                ev = logs.get("Refunded", [])
                if ev:
                    f.parts = json.dumps(ev[0]["parts"])
                if r is not None:
                    r.refunded = ev[0]["refundedTotal"] if ev else r.refunded + f.credits
                    vouchers.settle_refund(s, r.id, True, r.refunded >= r.credits)
            else:
                f.status, f.failure_code = "failed", failure_code(error)
                vouchers.settle_refund(s, f.redemption_id, False, False)
            events.append((f.merchant_id, f"refund.{f.status}", refunds.public(f)))
        elif row.kind in ("exchange", "exchange_batch"):
            deferred = _settle_exchanges(s, row, ok, block, error, logs, indexer_enabled) or deferred
        elif row.kind == "onboarding":
            p = s.get(ResidentRecord, row.subject_id)
            if p is not None:
                p.status = "registered" if ok else "failed"
    return events, deferred


REDEMPTIONS = Redemption.__table__
SETTLE_REDEMPTION = REDEMPTIONS.update().where(REDEMPTIONS.c.id == bindparam("_id")).values(
    status=bindparam("_status"), block_number=bindparam("_block"), parts=bindparam("_parts"),
    failure_code=bindparam("_failure"), updated_at=bindparam("_at"), tx_hash=bindparam("_tx"))


def _settle_redemptions(s, items: list, indexer_enabled: bool) -> tuple[list[dict], bool]:
    """Confirm or fail the redemptions of mined transactions (Core statements: one select, one executemany
    update); the settled records as dicts, and whether one was left to await the index (its nonce used: see the
    module docstring). A record already settled by another transaction is left alone. A batch (redeemMany) settles
    each of its redemptions from its own event: Redeemed, or RedemptionSkipped with the error the contract gave it;
    a batch that failed whole fails them all."""
    if not items:
        return [], False
    singles = [row.subject_id for row, *_ in items if row.kind == "redemption"]
    batches = [row.tx_hash for row, *_ in items if row.kind == "redemption_batch"]
    where = REDEMPTIONS.c.id.in_(singles)
    if batches:
        where = where | REDEMPTIONS.c.tx_hash.in_(batches)
    current = {r.id: r._asdict() for r in s.execute(select(REDEMPTIONS).where(where))}
    members: dict[str, list[dict]] = {}
    for r in current.values():
        members.setdefault(r["tx_hash"], []).append(r)
    at, settled, params, deferred = utcnow(), [], [], False
    for row, receipt, error, logs in items:
        ok = receipt is not None and int(receipt["status"], 16) == 1
        if row.kind == "redemption":
            r = current.get(row.subject_id)
            records = [] if r is None else [r]
            redeemed = {r["id"]: logs["Redeemed"][0]} if r is not None and logs.get("Redeemed") else {}
        else:
            records = members.get(row.tx_hash, [])
            redeemed = {e["redemptionId"]: e for e in logs.get("Redeemed", [])}
        skipped = {e["redemptionId"]: e["reason"] for e in logs.get("RedemptionSkipped", [])}
        for r in records:
            if r["status"] in ("confirmed", "failed") and r["tx_hash"] != row.tx_hash:
                continue
            r["block_number"] = int(receipt["blockNumber"], 16) if receipt else None
            r["updated_at"] = at
            if ok and r["id"] not in skipped:
                ev = redeemed.get(r["id"])
                r["status"], r["parts"] = "confirmed", json.dumps(ev["parts"]) if ev else None
            else:
                why = (decode_revert(skipped[r["id"]]) or ("", ())) if ok else error
                r["status"], r["failure_code"] = "failed", failure_code(why)
                if _used(why) and indexer_enabled and r["block_number"] is not None:
                    r["status"], r["failure_code"], deferred = "pending", None, True  # settle_used says
            params.append(_settle_params(r, at))
            if r["status"] != "pending":
                settled.append(r)
    if params:
        s.execute(SETTLE_REDEMPTION, params)
    return settled, deferred


def _settle_params(r: dict, at) -> dict:
    return {"_id": r["id"], "_status": r["status"], "_block": r["block_number"], "_parts": r["parts"],
            "_failure": r["failure_code"], "_at": at, "_tx": r["tx_hash"]}


def _settle_used_redemptions(s, indexed_block: int) -> list[dict]:
    """The redemptions awaiting the index whose block it has, settled from the chain's redemption under their id
    (keccak of resident and nonce): confirmed when it is this very consent (merchant, credits, order), naming its
    transaction; failed `consent_already_used` otherwise."""
    due = [r._asdict() for r in s.execute(select(REDEMPTIONS).where(
        *_awaiting(REDEMPTIONS.c), REDEMPTIONS.c.block_number <= indexed_block))]
    if not due:
        return []
    done = {i.redemption_id: i for i in s.scalars(select(IdxRedemption).where(
        IdxRedemption.redemption_id.in_([r["id"] for r in due])))}
    at = utcnow()
    for r in due:
        i = done.get(r["id"])
        if i is not None and (i.merchant.lower(), i.credits, i.order_ref.lower()) == \
                (r["merchant"].lower(), r["credits"], r["order_ref"].lower()):
            r.update(status="confirmed", tx_hash=i.tx_hash, block_number=i.block_number, parts=i.parts, updated_at=at)
        else:
            r.update(status="failed", failure_code=failure_code((USED, ())), updated_at=at)
    s.execute(SETTLE_REDEMPTION, [_settle_params(r, at) for r in due])
    return due


def _settle_exchanges(s, row: RelayedTransaction, ok: bool, block: int | None, error, logs: dict,
                      indexer_enabled: bool) -> bool:
    """Confirm or fail the exchange (or each exchange of a batch, exchangeMany) of a mined transaction, from its
    own event: Exchanged, or ExchangeSkipped with the error the contract gave it; a transaction that failed whole
    fails them all. One already settled by another transaction is left alone. Whether one was left to await the
    index (its nonce used)."""
    deferred = False
    if row.kind == "exchange":
        one = s.scalar(select(ExchangeSubmission).where(ExchangeSubmission.id == row.subject_id))
        records = [one] if one is not None else []
    else:
        records = list(s.scalars(select(ExchangeSubmission).where(ExchangeSubmission.tx_hash == row.tx_hash)))
    exchanged = {(e["resident"].lower(), e["nonce"]): e for e in logs.get("Exchanged", [])}
    skipped = {(e["resident"].lower(), e["nonce"]): e["reason"] for e in logs.get("ExchangeSkipped", [])}
    for x in records:
        if x.status in ("confirmed", "failed") and x.tx_hash != row.tx_hash:
            continue
        key = (x.resident.lower(), x.nonce.lower())
        x.block_number = block
        if ok and key not in skipped:
            x.status = "confirmed"
            _exchanged(x, exchanged.get(key))
            continue
        why = (decode_revert(skipped[key]) or ("", ())) if ok else error
        if _used(why) and indexer_enabled and block is not None:
            deferred = True  # pending with its block: settle_used says
        else:
            x.status, x.failure_code = "failed", failure_code(why)
    return deferred


def _exchanged(x: ExchangeSubmission, ev: dict | None) -> None:
    if ev:
        x.received, x.credits = ev["received"], ev["credits"]
        x.sides = json.dumps([ev["taken"], ev["given"]])


def _settle_used_exchanges(s, indexed_block: int) -> int:
    """The exchanges awaiting the index whose block it has, settled from the chain's Exchanged event of their
    resident and nonce: confirmed when it is this very intent (the same pair and points, at least the minimum
    received), naming its transaction; failed `consent_already_used` otherwise. How many."""
    due = list(s.scalars(select(ExchangeSubmission).where(*_awaiting(ExchangeSubmission),
                                                          ExchangeSubmission.block_number <= indexed_block)))
    for x in due:
        found = None
        # its burn names the intent (Exchange's ref: keccak of resident and nonce), found by the resident's activity
        burn = s.execute(select(IdxActivity.block_number, IdxActivity.tx_hash).where(
            IdxActivity.account == x.resident, IdxActivity.ref == redemption_id(x.resident, unhex(x.nonce)),
            IdxActivity.kind == "burned")).first()
        events = [] if burn is None else s.scalars(select(IdxEvent).where(
            IdxEvent.block_number == burn.block_number, IdxEvent.tx_hash == burn.tx_hash, IdxEvent.name == "Exchanged"))
        for e in events:
            a = json.loads(e.args)
            if a["resident"].lower() == x.resident.lower() and a["nonce"].lower() == x.nonce.lower():
                found = (e, a)
        if found is not None and (found[1]["fromScheme"], found[1]["toScheme"], found[1]["points"]) == \
                (x.from_scheme, x.to_scheme, x.points) and found[1]["received"] >= x.min_received:
            x.status, x.tx_hash, x.block_number = "confirmed", found[0].tx_hash, found[0].block_number
            _exchanged(x, found[1])
        else:
            x.status, x.failure_code = "failed", failure_code((USED, ()))
    return len(due)


def _retarget(s, row: RelayedTransaction, new_hash: str) -> None:
    if row.kind == "redemption_batch":  # each of its redemptions
        s.execute(REDEMPTIONS.update().where(REDEMPTIONS.c.tx_hash == row.tx_hash).values(tx_hash=new_hash))
        return
    if row.kind == "exchange_batch":  # each of its exchanges
        table = ExchangeSubmission.__table__
        s.execute(table.update().where(table.c.tx_hash == row.tx_hash).values(tx_hash=new_hash))
        return
    model = {"redemption": Redemption, "refund": Refund, "exchange": ExchangeSubmission}.get(row.kind)
    if model is None:
        return
    rec = s.scalar(select(model).where(model.id == row.subject_id))
    if rec is not None:
        rec.tx_hash = new_hash
