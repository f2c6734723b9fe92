"""What happens when the relayer sees its transactions mined (or given up): records updated, webhooks queued.
Idempotent: the relayer hands each transaction over once, and every update sets the final state."""
from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from exchange_api import metrics
from exchange_api.chain import decode_log, unhex
from exchange_api.errors import CONTRACT_ERRORS
from exchange_api.store.models import (ExchangeSubmission, Redemption, Refund, RelayedTransaction, ResidentRecord,
                                       utcnow)


def failure_code(error: tuple | None) -> str:
    name = error[0] if error else None
    return CONTRACT_ERRORS[name][1] if name in CONTRACT_ERRORS else "transaction_reverted"


OUTCOME_EVENTS = ("Redeemed", "Refunded", "Exchanged")


def outcome_events(rt, receipt: dict | None) -> dict[str, list[dict]]:
    """The events that settle a record (Redeemed, Refunded, Exchanged) in a receipt, decoded, by name."""
    out: dict[str, list[dict]] = {}
    for lg in (receipt or {}).get("logs", []):
        spec = rt.events.get((lg["address"].lower(), unhex(lg["topics"][0]) if lg["topics"] else b""))
        if spec is not None and spec.name in OUTCOME_EVENTS:
            out.setdefault(spec.name, []).append(decode_log(spec, lg["topics"], lg["data"]))
    return out


async def on_mined(rt, items: list[tuple[RelayedTransaction, dict | None, tuple | None]]) -> None:
    from exchange_api.services import redemptions, refunds
    from exchange_api.webhooks import enqueue

    decoded = await asyncio.to_thread(lambda: [outcome_events(rt, receipt) for _, receipt, _ in items])

    def apply(s):
        events = []
        ids = [row.subject_id for row, _, _ in items if row.kind == "redemption"]
        redemptions_ = {r.id: r for r in s.scalars(select(Redemption).where(Redemption.id.in_(ids)))} if ids else {}
        for (row, receipt, error), logs in zip(items, decoded):
            if receipt is not None and "replacedBy" in receipt:  # re-signed after a restart
                _retarget(s, row, receipt["replacedBy"])
                continue
            ok = receipt is not None and int(receipt["status"], 16) == 1
            block = int(receipt["blockNumber"], 16) if receipt else None
            if row.kind == "redemption":
                r = redemptions_.get(row.subject_id)
                if r is None or r.status in ("confirmed", "failed") and r.tx_hash != row.tx_hash:
                    continue
                r.block_number, r.updated_at = block, utcnow()
                if ok:
                    ev = logs.get("Redeemed", [])
                    r.status = "confirmed"
                    r.parts = json.dumps(ev[0]["parts"]) if ev else None
                else:
                    r.status, r.failure_code = "failed", failure_code(error)
                metrics.REDEMPTIONS.labels(r.status).inc()
                events.append((r.merchant_id, f"redemption.{r.status}", redemptions.public(r)))
            elif row.kind == "refund":
                f = s.scalar(select(Refund).where(Refund.id == row.subject_id))
                if f is None:
                    continue
                f.block_number, f.updated_at = block, utcnow()
                if ok:
                    f.status = "confirmed"
                    r = s.scalar(select(Redemption).where(Redemption.id == f.redemption_id))
                    ev = logs.get("Refunded", [])
                    if r is not None:
                        r.refunded = ev[0]["refundedTotal"] if ev else r.refunded + f.credits
                else:
                    f.status, f.failure_code = "failed", failure_code(error)
                events.append((f.merchant_id, f"refund.{f.status}", refunds.public(f)))
            elif row.kind == "exchange":
                x = s.scalar(select(ExchangeSubmission).where(ExchangeSubmission.id == row.subject_id))
                if x is None:
                    continue
                x.block_number = block
                if ok:
                    ev = logs.get("Exchanged", [])
                    x.status = "confirmed"
                    if ev:
                        x.received, x.credits = ev[0]["received"], ev[0]["credits"]
                else:
                    x.status, x.failure_code = "failed", failure_code(error)
            elif row.kind == "onboarding":
                p = s.get(ResidentRecord, row.subject_id)
                if p is not None:
                    p.status = "registered" if ok else "failed"
        if events:
            enqueue(s, events)
        return bool(events)
    if await rt.store.write(apply, isolated=False):
        rt.webhooks.wake()


def _retarget(s, row: RelayedTransaction, new_hash: str) -> None:
    model = {"redemption": Redemption, "refund": Refund, "exchange": ExchangeSubmission}.get(row.kind)
    if model is None:
        return
    rec = s.scalar(select(model).where(model.id == row.subject_id))
    if rec is not None:
        rec.tx_hash = new_hash
