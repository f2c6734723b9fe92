"""Vouchers (issue 22): a resident redeems an offer for a voucher the shop's till checks off.

One unit of stock is taken when the resident asks (`reserve`), before anything is signed: a conditional
`UPDATE offers SET stock = stock - 1 WHERE seq = :offer AND stock > 0` in the same database transaction that writes
the voucher and its payment request (a redemption request for the offer's price, `orderRef` derived from the
voucher). Whoever finds no unit left is answered 409 `offer_sold_out` and has signed nothing, on SQLite (one writer)
and PostgreSQL (the row lock of the UPDATE) alike. The resident then approves that request as any other
(`POST /v1/redemption_requests/{id}/approve`, one consent for the price); the voucher becomes `valid` in the very
database transaction that confirms its redemption (services/confirmations.py calls `settle_redemptions`), and only
then is its code shown to the resident.

Every unit goes back exactly once, by conditional updates on the voucher's status: a redemption that failed, a
reservation cancelled by the resident or left unpaid past its deadline (`released`), a voucher refunded in full
(`refunded`). A voucher is checked off once (`used`); a second check-off is 409 `voucher_already_used`, saying
when."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from types import SimpleNamespace

from eth_utils import keccak, to_checksum_address
from sqlalchemy import or_, select, update

from exchange_api.errors import ApiError, Conflict, InvalidRequest, NotFound
from exchange_api.services.common import Principal, cursor_seq, iso, new_id, now, page
from exchange_api.services.offers import merchant_public
from exchange_api.services.redemptions import Redemptions
from exchange_api.services.refunds import Refunds
from exchange_api.services.results import Done, Pending, Result
from exchange_api.settings import Settings
from exchange_api.store.db import Store
from exchange_api.store.models import (IdxMerchant, Merchant, MerchantProfile, Offer, RedemptionRequest, Voucher,
                                       utcnow)
from ledger_node.domain import credits_decimal
from ledger_node.redemption_plan import NotEnoughValue, plan

# A code a cashier reads aloud or types: 8 characters without the look-alikes 0/O, 1/I/L, U (31^8 ~ 8.5e11).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_RE = re.compile(r"^[A-Z0-9]{8}$")
RELEASE_GRACE_S = 60  # a reservation is given back this long after its deadline (a consent signed in time may mine)
SHOWN = frozenset({"valid", "used", "refunding", "refunded"})  # the statuses whose code the resident is shown


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def code_from(text: str) -> str:
    """The voucher code in what the till was given: the code typed ("k7qx 3mnp", "K7QX-3MNP") or the voucher's QR
    payload (a link ending `?voucher=K7QX-3MNP`); 422 `invalid_voucher_code` for anything else."""
    m = re.search(r"[?&]voucher=([A-Za-z0-9-]+)", text)
    raw = re.sub(r"[\s-]", "", m.group(1) if m else text).upper()
    if not CODE_RE.match(raw):
        raise InvalidRequest("a voucher code is 8 letters and digits, e.g. K7QX-3MNP", code="invalid_voucher_code",
                             field="code")
    return f"{raw[:4]}-{raw[4:]}"


@dataclass
class Vouchers:
    store: Store
    redemptions: Redemptions  # the payment request, the resident's plan, the consent to sign
    refunds: Refunds          # a voucher's refund is a refund of its redemption
    settings: Settings

    # --- the resident's side -----------------------------------------------------------------------------------

    async def reserve(self, resident: str, offer_id: str) -> Done:
        """Take one unit of the offer for the resident and open its payment request; 409 `offer_sold_out` when none
        is left, 409 `offer_not_available` outside its window or from a merchant not active on chain, 404
        `offer_not_found`, 422 `insufficient_credits` when the resident's points cannot pay it (nothing taken)."""
        resident = to_checksum_address(resident)
        offer = await self.store.run(lambda s: s.execute(
            select(Offer, Merchant, MerchantProfile, IdxMerchant.active)
            .join(Merchant, Merchant.id == Offer.merchant_id)
            .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Offer.merchant_id)
            .outerjoin(IdxMerchant, IdxMerchant.address == Merchant.address)
            .where(Offer.id == offer_id, Offer.deleted_at.is_(None))).first())
        if offer is None:
            raise NotFound("no such offer", code="offer_not_found")
        o, merchant, profile, active = offer
        if not active:
            raise Conflict("this shop cannot take points now", code="offer_not_available")
        holdings = await self.redemptions.holdings(resident)
        try:
            plan(o.price, holdings)
        except NotEnoughValue as exc:
            raise ApiError(f"your points are worth {exc.available} credits, less than the {o.price} this offer "
                           f"costs", code="insufficient_credits", status=422) from None
        ttl = self.settings.request_ttl_s
        title = o.title_en if o.title_en == o.title_zh else f"{o.title_zh} · {o.title_en}"

        def take(s):
            _release_expired(s)
            at = utcnow()
            within = s.execute(select(Offer.stock, Offer.price).where(
                Offer.seq == o.seq, Offer.deleted_at.is_(None), Offer.valid_from <= at,
                or_(Offer.valid_until.is_(None), Offer.valid_until > at))).first()
            if within is None:
                raise Conflict("this offer cannot be had now", code="offer_not_available")
            if within.price != o.price:  # changed since the resident's points were checked against it
                raise Conflict("this offer's price changed just now; look at it again", code="offer_changed")
            if within.stock is not None and s.execute(update(Offer).where(Offer.seq == o.seq, Offer.stock > 0)
                                                      .values(stock=Offer.stock - 1)).rowcount != 1:
                raise Conflict("this offer is sold out", code="offer_sold_out")
            vid = new_id("vch")
            req = RedemptionRequest(
                id=new_id("rrq"), merchant_id=merchant.id, resident=resident, credits=o.price,
                order_ref="0x" + keccak(text=f"citypoints-voucher:{vid}").hex(), order_label=f"Voucher · {title}"[:200],
                nonce="0x" + secrets.token_hex(32), deadline=now() + ttl, status="open")
            code = new_code()
            while s.scalar(select(Voucher.seq).where(Voucher.code == code)) is not None:  # 1 in ~10^11: again
                code = new_code()
            v = Voucher(id=vid, code=code, offer_seq=o.seq, merchant_id=merchant.id, resident=resident,
                        credits=o.price, request_id=req.id, status="reserved", expires_at=req.deadline)
            s.add_all([req, v])
            s.flush()
            return v, req
        v, req = await self.store.write(take)
        request = await self.redemptions.request_public(req, merchant.address, merchant.name,
                                                        profile.name_zh if profile else None,
                                                        profile.name_en if profile else None, holdings=holdings)
        return Done({**voucher_public(v, o, merchant, profile, self.settings.base_url, resident_view=True),
                     "request": request})

    async def resident_vouchers(self, resident: str, limit: int, starting_after: str | None) -> dict:
        resident = to_checksum_address(resident)

        def load(s):
            seq = cursor_seq(s, Voucher, starting_after, resident=resident)
            q = _joined(select(Voucher, Offer, Merchant, MerchantProfile)).where(Voucher.resident == resident)\
                .order_by(Voucher.seq.desc()).limit(limit + 1)
            if seq is not None:
                q = q.where(Voucher.seq < seq)
            return s.execute(q).all()
        base = self.settings.base_url
        return page(await self.store.run(load), limit, lambda r: voucher_public(*r, base, resident_view=True))

    async def resident_voucher(self, resident: str, voucher_id: str) -> dict:
        found = await self._load(Voucher.id == voucher_id, Voucher.resident == to_checksum_address(resident))
        return voucher_public(*found, self.settings.base_url, resident_view=True)

    async def cancel(self, resident: str, voucher_id: str) -> Done:
        """The resident gives a reservation up before paying: its request cancelled, its unit back in stock."""
        resident = to_checksum_address(resident)

        def cancel(s):
            v = s.scalar(select(Voucher).where(Voucher.id == voucher_id, Voucher.resident == resident))
            if v is None:
                raise NotFound("no such voucher", code="voucher_not_found")
            req = s.scalar(select(RedemptionRequest).where(RedemptionRequest.id == v.request_id))
            if v.status != "reserved" or req.status != "open":
                raise Conflict(f"only a voucher not paid yet can be cancelled; this one is {v.status}",
                               code="voucher_not_reserved")
            req.status = "cancelled"
            _give_back(s, [v.seq], "released")
        await self.store.write(cancel)
        return Done(await self.resident_voucher(resident, voucher_id))

    # --- the till's side ----------------------------------------------------------------------------------------

    async def merchant_vouchers(self, principal: Principal, limit: int, starting_after: str | None,
                                code: str | None, status: str | None) -> dict:
        """The merchant's vouchers, newest first; `code` finds one by its code or QR payload (the till's look-up)."""
        wanted = code_from(code) if code is not None else None

        def load(s):
            seq = cursor_seq(s, Voucher, starting_after, merchant_id=principal.merchant_id)
            q = _joined(select(Voucher, Offer, Merchant, MerchantProfile))\
                .where(Voucher.merchant_id == principal.merchant_id).order_by(Voucher.seq.desc()).limit(limit + 1)
            if seq is not None:
                q = q.where(Voucher.seq < seq)
            if wanted is not None:
                q = q.where(Voucher.code == wanted)
            if status:
                q = q.where(Voucher.status == status)
            return s.execute(q).all()
        base = self.settings.base_url
        return page(await self.store.run(load), limit, lambda r: voucher_public(*r, base))

    async def merchant_voucher(self, principal: Principal, voucher_id: str) -> dict:
        found = await self._load(Voucher.id == voucher_id, Voucher.merchant_id == principal.merchant_id)
        return voucher_public(*found, self.settings.base_url)

    async def check_off(self, principal: Principal, voucher_id: str) -> Done:
        """Mark a valid voucher used, once: one conditional update, so two tills checking it off at the same moment
        get one `used` and one 409 `voucher_already_used` (which says when it was used)."""
        def use(s):
            at = utcnow().replace(microsecond=0)
            done = s.execute(update(Voucher).where(Voucher.id == voucher_id,
                                                   Voucher.merchant_id == principal.merchant_id,
                                                   Voucher.status == "valid")
                             .values(status="used", used_at=at)).rowcount
            if done:
                return
            v = s.scalar(select(Voucher).where(Voucher.id == voucher_id,
                                               Voucher.merchant_id == principal.merchant_id))
            _refuse_unless_valid(v)
        await self.store.write(use)
        return Done(await self.merchant_voucher(principal, voucher_id))

    async def refund(self, principal: Principal, voucher_id: str, wait: bool) -> Result:
        """Refund an unused voucher in full through the redemption's refund (the contract's refund window decides,
        simulated before anything is sent): the voucher is `refunding` until mined, then `refunded` with its unit
        back in stock (services/confirmations.py calls `settle_refund`); a refund the chain refused leaves it
        valid."""
        def mark(s):
            done = s.execute(update(Voucher).where(Voucher.id == voucher_id,
                                                   Voucher.merchant_id == principal.merchant_id,
                                                   Voucher.status == "valid")
                             .values(status="refunding")).rowcount
            v = s.scalar(select(Voucher).where(Voucher.id == voucher_id,
                                               Voucher.merchant_id == principal.merchant_id))
            if not done:
                _refuse_unless_valid(v)
            return v.redemption_id, v.credits
        redemption_id, credits = await self.store.write(mark)
        try:
            result = await self.refunds.create(principal, redemption_id, SimpleNamespace(credits=credits, wait=wait))
        except BaseException:
            await self.store.write(lambda s: s.execute(update(Voucher).where(
                Voucher.id == voucher_id, Voucher.status == "refunding", Voucher.refund_id.is_(None))
                .values(status="valid")))
            raise
        refund_id = result.body["id"]
        await self.store.write(lambda s: s.execute(update(Voucher).where(Voucher.id == voucher_id)
                                                   .values(refund_id=refund_id)))
        body = {**await self.merchant_voucher(principal, voucher_id), "refund": result.body}
        return Done(body) if isinstance(result, Done) else Pending(body)

    async def release_expired(self) -> None:
        """Give back the units of reservations left unpaid past their deadline (the runtime's sweep; the next
        reservation does it too). One light read when there are none."""
        stale = await self.store.run(lambda s: s.execute(_stale().limit(1)).first())
        if stale is not None:
            await self.store.write(_release_expired, background="vouchers")

    async def _load(self, *where) -> tuple:
        found = await self.store.run(lambda s: s.execute(
            _joined(select(Voucher, Offer, Merchant, MerchantProfile)).where(*where)).first())
        if found is None:
            raise NotFound("no such voucher", code="voucher_not_found")
        return tuple(found)


# --- in the confirmations' database transaction ----------------------------------------------------------------

def settle_redemptions(s, settled: list[dict]) -> None:
    """Vouchers whose redemption the chain just settled: confirmed -> `valid` (its code is the resident's now);
    failed -> `released`, the unit back in stock."""
    by_request = {r["request_id"]: r for r in settled if r.get("request_id")}
    if not by_request:
        return
    rows = s.execute(select(Voucher.seq, Voucher.request_id).where(Voucher.request_id.in_(list(by_request)),
                                                                   Voucher.status == "reserved")).all()
    at = utcnow().replace(microsecond=0)
    failed = []
    for seq, request_id in rows:
        r = by_request[request_id]
        if r["status"] == "confirmed":
            s.execute(update(Voucher).where(Voucher.seq == seq, Voucher.status == "reserved")
                      .values(status="valid", redemption_id=r["id"], issued_at=at))
        elif r["status"] == "failed":
            failed.append(seq)
    if failed:
        _give_back(s, failed, "released")


def settle_refund(s, redemption_id: str, confirmed: bool, fully_refunded: bool) -> None:
    """A refund of a voucher's redemption was mined: refunded in full -> `refunded`, the unit back in stock
    (whether the till's voucher refund or the sales list's); refused -> a voucher being refunded is valid again."""
    if confirmed and fully_refunded:
        seqs = list(s.scalars(select(Voucher.seq).where(Voucher.redemption_id == redemption_id,
                                                        Voucher.status.in_(("valid", "refunding")))))
        if seqs:
            _give_back(s, seqs, "refunded", ("valid", "refunding"))
    elif not confirmed:
        s.execute(update(Voucher).where(Voucher.redemption_id == redemption_id, Voucher.status == "refunding")
                  .values(status="valid", refund_id=None))


# --- helpers -------------------------------------------------------------------------------------------------

def _stale():
    """Reservations to end: left unpaid past their deadline (and a grace for a consent signed in time, still
    mining), or whose request the merchant cancelled."""
    return select(Voucher.seq, Voucher.request_id).join(
        RedemptionRequest, RedemptionRequest.id == Voucher.request_id).where(
        Voucher.status == "reserved",
        or_(RedemptionRequest.status == "cancelled",
            (RedemptionRequest.status == "open") & (Voucher.expires_at < now() - RELEASE_GRACE_S)))


def _release_expired(s) -> None:
    """The stale reservations (`_stale`): their requests cancelled, their units back in stock. Run before a unit is
    taken, and by the runtime's sweep."""
    stale = s.execute(_stale()).all()
    if stale:
        s.execute(update(RedemptionRequest).where(RedemptionRequest.id.in_([r for _, r in stale]),
                                                  RedemptionRequest.status == "open").values(status="cancelled"))
        _give_back(s, [seq for seq, _ in stale], "released")


def _give_back(s, seqs: list[int], status: str, was: tuple[str, ...] = ("reserved",)) -> None:
    """Vouchers `seqs` end as `status`; each that was still `was` returns its unit to its offer's stock (unlimited
    stock stays unlimited). Conditional per voucher: a unit goes back once, whoever else ends it at the same time."""
    at = utcnow().replace(microsecond=0)
    for seq in seqs:
        if s.execute(update(Voucher).where(Voucher.seq == seq, Voucher.status.in_(was))
                     .values(status=status, ended_at=at)).rowcount:
            offer = s.scalar(select(Voucher.offer_seq).where(Voucher.seq == seq))
            s.execute(update(Offer).where(Offer.seq == offer, Offer.stock.is_not(None))
                      .values(stock=Offer.stock + 1, updated_at=at))


def _refuse_unless_valid(v: Voucher | None) -> None:
    if v is None:
        raise NotFound("no such voucher", code="voucher_not_found")
    if v.status == "used":
        raise Conflict(f"this voucher was used already, at {iso(v.used_at)}", code="voucher_already_used")
    if v.status in ("refunded", "refunding"):
        raise Conflict("this voucher was refunded", code="voucher_refunded")
    if v.status != "valid":
        raise Conflict(f"this voucher is not paid for ({v.status})", code="voucher_not_valid")


def _joined(q):
    return (q.join(Offer, Offer.seq == Voucher.offer_seq).join(Merchant, Merchant.id == Voucher.merchant_id)
            .outerjoin(MerchantProfile, MerchantProfile.merchant_id == Voucher.merchant_id))


def voucher_public(v: Voucher, o: Offer, m: Merchant, p: MerchantProfile | None, base_url: str, *,
                   resident_view: bool = False) -> dict:
    """A voucher as its resident or its merchant reads it. Its code (and the QR payload naming it) only once paid for
    when the resident reads it: a reservation's code is nobody's yet. A reservation past its deadline reads
    `expired` until it is released."""
    status = v.status
    if status == "reserved" and v.expires_at < now():
        status = "expired"
    shown = not resident_view or v.status in SHOWN
    return {"object": "voucher", "id": v.id, "status": status, "code": v.code if shown else None,
            # a link any camera opens: the till's Vouchers view with this code filled in
            "qrPayload": f"{base_url}/pos/?voucher={v.code}" if shown else None,
            "offer": {"id": o.id, "title": {"zh": o.title_zh, "en": o.title_en}},
            "merchant": merchant_public(m, p), "resident": v.resident, "credits": v.credits,
            "creditsDecimal": credits_decimal(v.credits), "requestId": v.request_id, "redemptionId": v.redemption_id,
            "refundId": v.refund_id, "expiresAt": v.expires_at, "createdAt": iso(v.created_at),
            "issuedAt": iso(v.issued_at) if v.issued_at else None, "usedAt": iso(v.used_at) if v.used_at else None,
            "endedAt": iso(v.ended_at) if v.ended_at else None}

