"""The delivery queue (central/delivery/tables.py): one row per message per destination.

Revision ID: 0006_delivery
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_delivery"
down_revision = "0003"
branch_labels = ("delivery",)
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("pk", _Id, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(96), nullable=False),
        sa.Column("dest_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("day", sa.String(10), nullable=True),
        sa.Column("notices", sa.Text, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("shown", sa.String(200), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", _Time, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", _Time, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", _Time, nullable=False),
        sa.Column("sent_at", _Time, nullable=True),
        sa.UniqueConstraint("subject", "dest_key", name="uq_deliveries_subject_dest"),
    )
    op.create_index("ix_deliveries_state_next", "deliveries", ["state", "next_at"])
    op.create_index("ix_deliveries_site", "deliveries", ["site", "created_at"])
    op.create_index("ix_deliveries_day", "deliveries", ["day", "kind"])


def downgrade() -> None:
    op.drop_table("deliveries")
