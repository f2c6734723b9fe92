"""vouchers: a resident redeems an offer for a voucher the till checks off (issue 22)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 00:00:00

One new table; nothing else changes. A row per unit of stock taken (reserved, valid, used, refunding, refunded,
released).
"""
from alembic import op
import sqlalchemy as sa

from exchange_api.store.types import ChainInt

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vouchers",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
        sa.Column("offer_seq", sa.Integer(), sa.ForeignKey("offers.seq"), nullable=False),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("resident", sa.String(42), nullable=False),
        sa.Column("credits", ChainInt(), nullable=False),
        sa.Column("request_id", sa.String(40), nullable=False, unique=True),
        sa.Column("redemption_id", sa.String(66), nullable=True),
        sa.Column("refund_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=True),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_vouchers_offer_seq", "vouchers", ["offer_seq"])
    op.create_index("ix_vouchers_resident", "vouchers", ["resident"])
    op.create_index("ix_vouchers_redemption_id", "vouchers", ["redemption_id"])
    op.create_index("ix_vouchers_merchant", "vouchers", ["merchant_id", "status"])


def downgrade() -> None:
    op.drop_table("vouchers")
