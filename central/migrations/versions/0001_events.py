"""The events table: one row per distinct event id.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("pk", _BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("desk", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("device", sa.String(64), nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("ts", sa.Float(precision=53), nullable=False),
        sa.Column("received", sa.Float(precision=53), nullable=False),
        sa.Column("alert", sa.String(48), nullable=True),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("alert_id", sa.String(32), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    )
    op.create_index("ix_events_site_desk_ts", "events", ["site", "desk", "ts"])
    op.create_index("ix_events_kind_ts", "events", ["kind", "ts"])
    op.create_index("ix_events_alert_id", "events", ["alert_id"])


def downgrade() -> None:
    op.drop_table("events")
