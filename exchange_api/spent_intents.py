"""The intents the indexed chain shows spent on Redemption, in memory: what the relayer's check of a batch of
consents reads instead of the store for nearly every consent.

A consent whose nonce the chain shows spent (the merchant redeemed it on chain itself, or the resident signed a
preferred order with that nonce) would revert, so the relayer refuses it before any nonce is taken
(`services/redemptions._used_before`). That check read the store once a batch through the store's read
threads; at 200 redemptions a second the read waited for the GIL behind the event loop and the writer (12 ms
median, 97 ms p99 of each batch's persist, `citypoints bench api`). Nearly every consent is fresh, so the question
"might this intent be spent?" is answered here first, on the event loop, and the store is read only for a "maybe".

The ids: `keccak256(abi.encode(resident, nonce))`, a redemption's id, and the id a consent with a preferred
order's nonce would have; the indexer adds each id it commits, and clears the filter when it wipes its tables. A
service whose indexer runs elsewhere (`indexer_enabled` off) never loads it (every intent is then a "maybe").
"""
from __future__ import annotations

from sqlalchemy import select

from exchange_api.id_filter import MIN_CAPACITY, IdFilter
from exchange_api.store.models import IdxPreferredOrder, IdxRedemption
from ledger_node.domain import redemption_id


def preferred_order_intent(resident: str, nonce: str) -> str:
    """The intent id a preferred order's nonce spends (the redemption id a consent with that nonce would have)."""
    return redemption_id(resident, bytes.fromhex(nonce[2:]))


def spent_intent_ids(s) -> list[str]:
    """Every intent id the indexer's tables show spent on Redemption: redemptions and preferred orders."""
    ids = list(s.scalars(select(IdxRedemption.redemption_id)))
    ids += [preferred_order_intent(resident, nonce)
            for resident, nonce in s.execute(select(IdxPreferredOrder.resident, IdxPreferredOrder.nonce))]
    return ids


class SpentIntents(IdFilter):
    """The spent intent ids, as `id_filter.IdFilter` (its docstring has how it answers and grows)."""

    def __init__(self, capacity: int = MIN_CAPACITY):
        super().__init__(spent_intent_ids, "spent intents", capacity)
