"""``rollup_alerts.worn_wrong`` (central/store/rollups.py): of the times a mask alert was raised on
a desk-day, those raised for a mask worn wrong (the raise's ``cause`` ``worn_wrong``,
docs/EVENTS.md).

Existing rows read 0: boxes sent no ``cause`` before it was added. A database with raises that
carry it stored before this migration fills it with ``triage-central reconcile --since <first day>
--tz <zone>`` (it rebuilds the rollups of those days from the raw events, docs/CENTRAL.md); the
collector counts it after.

Revision ID: 0009_worn_wrong_rollup
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_worn_wrong_rollup"
down_revision = "0003"
branch_labels = ("worn_wrong",)
depends_on = None

_Count = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column(
        "rollup_alerts",
        sa.Column(
            "worn_wrong",
            _Count,
            nullable=False,
            server_default="0",
            comment="Of those, raised for a mask worn wrong (cause worn_wrong).",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("rollup_alerts") as batch:
        batch.drop_column("worn_wrong")
