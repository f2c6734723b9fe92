"""point-of-sale sessions (issue 22): the /pos page's sign-in, an opaque token kept only as its SHA-256, tied to
the merchant's API key, with its expiry

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 21:15:00

A new table only: nothing before changes.
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pos_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_pos_sessions_key_id", "pos_sessions", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_pos_sessions_key_id", table_name="pos_sessions")
    op.drop_table("pos_sessions")
