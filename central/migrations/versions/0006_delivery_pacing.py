"""The delivery queue's (dest_key, sent_at) index: a destination's latest sends, read before each
send to keep a chat robot within its service's limit (central/delivery/pacing.py).

Revision ID: 0006_delivery_pacing
Revises: 0006_delivery
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0006_delivery_pacing"
down_revision = "0006_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_dest_sent", "deliveries", ["dest_key", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_dest_sent", table_name="deliveries")
