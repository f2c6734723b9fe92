"""Tables of the API (merchants, keys, idempotency, redemptions, relayed transactions, residents' encrypted
personal data, webhooks, merchants' profiles, offers and vouchers, point-of-sale sessions) and of the indexer (idx_*: raw events and projections, droppable and rebuilt from chain).

Amounts are integers (points; credit cents). Addresses are checksummed 0x-hex; hashes 0x-hex lower case.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from exchange_api.store.types import ChainInt, OrderedUInt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


# ---------------------------------------------------------------------------------------------------------
# API-owned state (not rebuildable from chain)
# ---------------------------------------------------------------------------------------------------------

class Merchant(Base):
    __tablename__ = "merchants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), nullable=True)
    role: Mapped[str] = mapped_column(String(20))  # merchant | onboarding | auditor | issuer
    account: Mapped[str | None] = mapped_column(String(42), nullable=True)  # an issuer key's chain account
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # a merchant key's staff scope (merchant_keys.SCOPES: cashier | manager); None for the other roles
    scope: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # a rotated-out key works until then (the grace its merchant chose); None: no end
    expires_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the key its rotation made
    last_used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # to the minute (deps.py)


class MerchantApplication(Base):
    """A shop's application to accept points (POST /v1/merchant_applications): what the consortium needs to
    register it (names, category, district, the settlement account it registers) and the contact, kept only
    encrypted; the claim link's secret only as its SHA-256. Once the chain has the account as a merchant, the
    link yields the first manager key, once (`key_id`)."""
    __tablename__ = "merchant_applications"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    district: Mapped[str] = mapped_column(String(40))
    account: Mapped[str] = mapped_column(String(42), index=True)
    contact: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted with the PII key
    claim_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)


class PosSession(Base):
    """A point-of-sale page's sign-in (POST /v1/pos/session): an opaque random token in an HttpOnly cookie, kept
    here only as its SHA-256; it acts for its API key (revoking the key ends it) until `expires_at` or sign-out."""
    __tablename__ = "pos_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None while in progress
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RedemptionRequest(Base):
    __tablename__ = "redemption_requests"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    resident: Mapped[str] = mapped_column(String(42), index=True)
    credits: Mapped[int] = mapped_column(ChainInt)
    order_ref: Mapped[str] = mapped_column(String(66))
    order_label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    nonce: Mapped[str] = mapped_column(String(66))
    deadline: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | approved | cancelled
    redemption_id: Mapped[str | None] = mapped_column(String(66), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def awaiting_index(table: str) -> Index:
    """The records whose nonce the chain found used, pending until the index has their block (pending with a
    block number: services/confirmations.py settle_used): a partial index, so it holds only those few."""
    where = text("status = 'pending' AND block_number IS NOT NULL")
    return Index(f"ix_{table}_awaiting", "block_number", sqlite_where=where, postgresql_where=where)


class Redemption(Base):
    __tablename__ = "redemptions"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(66), unique=True)  # the chain's redemptionId
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    merchant: Mapped[str] = mapped_column(String(42))
    resident: Mapped[str] = mapped_column(String(42), index=True)
    credits: Mapped[int] = mapped_column(ChainInt)
    order_ref: Mapped[str] = mapped_column(String(66))
    nonce: Mapped[str] = mapped_column(String(66))
    deadline: Mapped[int] = mapped_column(ChainInt)
    signature: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # pending | confirmed | failed
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True, index=True)  # a batch settles by it
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    parts: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON [[scheme, points, credits], ...]
    refunded: Mapped[int] = mapped_column(ChainInt, default=0)
    failure_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (awaiting_index("redemptions"),)


class Refund(Base):
    __tablename__ = "refunds"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    redemption_id: Mapped[str] = mapped_column(String(66), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    credits: Mapped[int] = mapped_column(ChainInt)
    status: Mapped[str] = mapped_column(String(20))
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    parts: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON of the Refunded event's PartValue list
    failure_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExchangeSubmission(Base):
    __tablename__ = "exchanges"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    resident: Mapped[str] = mapped_column(String(42), index=True)
    from_scheme: Mapped[int] = mapped_column(ChainInt)
    to_scheme: Mapped[int] = mapped_column(ChainInt)
    points: Mapped[int] = mapped_column(ChainInt)
    min_received: Mapped[int] = mapped_column(ChainInt)
    nonce: Mapped[str] = mapped_column(String(66))
    deadline: Mapped[int] = mapped_column(ChainInt)
    status: Mapped[str] = mapped_column(String(20))
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True, index=True)  # a batch settles by it
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    received: Mapped[int | None] = mapped_column(ChainInt, nullable=True)
    credits: Mapped[int | None] = mapped_column(ChainInt, nullable=True)
    sides: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON [taken, given] (IExchange.SideValue)
    failure_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("resident", "nonce"), awaiting_index("exchanges"))


class ExchangeNonce(Base):
    """The next exchange nonce this API hands a resident's quote (IExchange: numbered nonces, used in any order
    within 64 of the highest used): each quote its own, so two open quotes never share one."""
    __tablename__ = "exchange_nonces"
    resident: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(ChainInt)


class RelayedTransaction(Base):
    """Every transaction the relayer signs, persisted before it is sent (crash recovery reads these)."""
    __tablename__ = "relayed_transactions"
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # redemption(_batch) | refund | exchange(_batch) | filler | ...
    subject_id: Mapped[str] = mapped_column(String(66), index=True)
    resident: Mapped[str | None] = mapped_column(String(42), nullable=True)
    intent_nonce: Mapped[str | None] = mapped_column(String(66), nullable=True)
    deadline: Mapped[int | None] = mapped_column(ChainInt, nullable=True)
    to: Mapped[str] = mapped_column(String(42))
    data: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    gas: Mapped[int] = mapped_column(BigInteger)
    relayer: Mapped[str] = mapped_column(String(42))
    relayer_nonce: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), index=True)  # signed | sent | mined | failed | replaced
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ResidentRecord(Base):
    """A resident registered through the API: personal data only encrypted (AES-GCM), identity by keyed hash."""
    __tablename__ = "residents"
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    identity_hash: Mapped[str] = mapped_column(String(66), unique=True)
    pii: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20))  # pending | registered | failed
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted with the PII key
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)  # the event id
    endpoint_id: Mapped[str] = mapped_column(String(40), index=True)
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the receiver's last answer
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    attempt_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: settings.webhook_max_attempts
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_webhook_due", "status", "next_attempt_at"),)


class MerchantProfile(Base):
    """What residents see of a merchant in the catalogue: its name in both languages, category and district
    (codes of exchange_api/catalogue_vocabulary.py)."""
    __tablename__ = "merchant_profiles"
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    district: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Offer(Base):
    """A merchant's offer in the public catalogue: what points buy, at a price in credit cents (uint96)."""
    __tablename__ = "offers"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    title_zh: Mapped[str] = mapped_column(String(120))
    title_en: Mapped[str] = mapped_column(String(120))
    description_zh: Mapped[str] = mapped_column(String(2000), default="")
    description_en: Mapped[str] = mapped_column(String(2000), default="")
    price: Mapped[int] = mapped_column(OrderedUInt(29))  # credit cents
    stock: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: unlimited
    valid_from: Mapped[dt.datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    category: Mapped[str] = mapped_column(String(20))
    district: Mapped[str] = mapped_column(String(20))
    has_image: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    __table_args__ = (Index("ix_offers_merchant", "merchant_id", "deleted_at"),
                      Index("ix_offers_catalogue", "deleted_at", "seq"))


class Voucher(Base):
    """One unit of an offer a resident redeems (issue 22): `reserved` (the unit taken from stock, its payment request
    open), `valid` (paid on chain: its code is the resident's), `used` (checked off at the till), `refunding` and
    `refunded` (the unit back in stock), or `released` (the payment failed, expired or was cancelled: the unit back
    in stock). The state moves only by conditional updates, so each unit is given back once."""
    __tablename__ = "vouchers"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # what the till takes: "K7QX-3MNP"
    offer_seq: Mapped[int] = mapped_column(ForeignKey("offers.seq"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    resident: Mapped[str] = mapped_column(String(42), index=True)
    credits: Mapped[int] = mapped_column(ChainInt)  # the offer's price when it was reserved
    request_id: Mapped[str] = mapped_column(String(40), unique=True)  # its payment request (rrq_)
    redemption_id: Mapped[str | None] = mapped_column(String(66), nullable=True, index=True)
    refund_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[int] = mapped_column(BigInteger)  # the reservation's end: its request's deadline
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # refunded or released
    __table_args__ = (Index("ix_vouchers_merchant", "merchant_id", "status"),)


class OfferImage(Base):
    """An offer's picture (PNG, JPEG or WebP by its magic bytes, at most 512 KiB), served publicly."""
    __tablename__ = "offer_images"
    offer_seq: Mapped[int] = mapped_column(ForeignKey("offers.seq", ondelete="CASCADE"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(20))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------------------------------------------------
# Indexer (rebuildable from the chain)
# ---------------------------------------------------------------------------------------------------------

class IdxCursor(Base):
    __tablename__ = "idx_cursor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    start_block: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)  # last block fully processed
    block_hash: Mapped[str] = mapped_column(String(66))
    head: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # the last block whose commit changed what every balance reads (a rate, a scheme's status or expiry, a
    # merchant, a recovery), and how many times the tables were wiped: a process that keeps balances in memory
    # updates only the rows written since its last look unless one of these moved (read_replica.IndexFollower)
    view_reset_block: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rebuilds: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class IdxEvent(Base):
    __tablename__ = "idx_events"
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    contract: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60), index=True)
    args: Mapped[str] = mapped_column(Text)


class IdxBalance(Base):
    __tablename__ = "idx_balances"
    account: Mapped[str] = mapped_column(String(42), primary_key=True)
    scheme: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    balance: Mapped[int] = mapped_column(ChainInt)
    change: Mapped[int] = mapped_column(ChainInt, default=0, server_default="0")  # value units (PointsLedger.changeOf)
    block_number: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)  # last written


class IdxScheme(Base):
    __tablename__ = "idx_schemes"
    scheme: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    status: Mapped[int] = mapped_column(Integer, default=1)
    issuer_daily_quota: Mapped[int] = mapped_column(ChainInt, default=0)
    resident_daily_cap: Mapped[int] = mapped_column(ChainInt, default=0)
    rate: Mapped[int] = mapped_column(ChainInt, default=0)
    total_supply: Mapped[int] = mapped_column(ChainInt, default=0)
    expiry_months: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0: points never expire


class IdxActivity(Base):
    __tablename__ = "idx_activity"
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    item: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    account: Mapped[str] = mapped_column(String(42))
    # issued | revoked | minted | burned | expired | moved_in | moved_out | claimed
    kind: Mapped[str] = mapped_column(String(20))
    scheme: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(ChainInt)
    balance_after: Mapped[int] = mapped_column(ChainInt)
    by: Mapped[str] = mapped_column(String(42))  # issuer account or operating contract
    reason_code: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ref: Mapped[str | None] = mapped_column(String(66), nullable=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger)  # the block's, unix seconds
    # an issued entry of a batch citing its scheme's published rules: the version and its document's sha256 (0x)
    rules_version: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rules_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    __table_args__ = (Index("ix_idx_activity_account", "account", "block_number", "log_index"),)


class IdxRedemption(Base):
    __tablename__ = "idx_redemptions"
    redemption_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    resident: Mapped[str] = mapped_column(String(42), index=True)
    merchant: Mapped[str] = mapped_column(String(42), index=True)
    order_ref: Mapped[str] = mapped_column(String(66))
    nonce: Mapped[str] = mapped_column(String(66))
    credits: Mapped[int] = mapped_column(ChainInt)
    refunded: Mapped[int] = mapped_column(ChainInt, default=0)
    parts: Mapped[str] = mapped_column(Text)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))


class IdxMerchantPosition(Base):
    __tablename__ = "idx_merchant_positions"
    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scheme: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant: Mapped[str] = mapped_column(String(42), primary_key=True)
    amount: Mapped[int] = mapped_column(ChainInt)


class IdxIssuerPosition(Base):
    __tablename__ = "idx_issuer_positions"
    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lo: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hi: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    amount: Mapped[int] = mapped_column(ChainInt)  # positive: lo owes hi


class IdxNet(Base):
    __tablename__ = "idx_nets"
    party: Mapped[str] = mapped_column(String(60), primary_key=True)  # "scheme:1" | "merchant:0x..."
    net: Mapped[int] = mapped_column(ChainInt)


class IdxPeriod(Base):
    __tablename__ = "idx_periods"
    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    closed_at: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)


class IdxSettlement(Base):
    __tablename__ = "idx_settlements"
    statement_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))  # paid | confirmed | disputed
    amount: Mapped[int] = mapped_column(ChainInt, default=0)
    bank_ref_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)


class IdxProposal(Base):
    __tablename__ = "idx_proposals"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    calls: Mapped[str] = mapped_column(Text)  # JSON [[target, data-hex], ...]
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))  # pending | queued | executed | cancelled
    ready_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class IdxProposalApproval(Base):
    """One member's approval of a proposal (ProposalApproved), and whether it came as the member's signature
    relayed by someone else (ProposalApprovedBySig just before it in the same transaction)."""
    __tablename__ = "idx_proposal_approvals"
    proposal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member: Mapped[str] = mapped_column(String(42), primary_key=True)
    by_signature: Mapped[bool] = mapped_column(Boolean)
    submitter: Mapped[str] = mapped_column(String(42))  # the member itself unless by signature
    block_number: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))


class IdxMerchant(Base):
    __tablename__ = "idx_merchants"
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class IdxResident(Base):
    __tablename__ = "idx_residents"
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    identity_hash: Mapped[str] = mapped_column(String(66))


class IdxPreferredOrder(Base):
    """Every preferred order a resident signed (Redemption.PreferredOrderSet), resident and nonce in lower case:
    its nonce is spent (the relayer's pre-check looks it up by nonce), and the latest is the order a resident's
    plan follows (by resident). Read by key, never by searching the events' text."""
    __tablename__ = "idx_preferred_orders"
    nonce: Mapped[str] = mapped_column(String(66), primary_key=True)
    resident: Mapped[str] = mapped_column(String(42), primary_key=True)
    schemes: Mapped[str] = mapped_column(Text)  # JSON list of scheme ids, most preferred first
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_idx_preferred_orders_latest", "resident", "block_number", "log_index"),)


INDEXER_TABLES = [IdxEvent, IdxBalance, IdxScheme, IdxActivity, IdxRedemption, IdxMerchantPosition,
                  IdxIssuerPosition, IdxNet, IdxPeriod, IdxSettlement, IdxProposal, IdxMerchant, IdxResident,
                  IdxCursor, IdxProposalApproval, IdxPreferredOrder]
