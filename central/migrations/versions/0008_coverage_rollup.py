"""The screening coverage rollup ``rollup_coverage`` (central/store/rollups.py): per desk, local
date, period and start, the coverage figures of the boxes' ``summary`` events.

Created empty: ``triage-central reconcile --since <first day> --tz <zone>`` fills it from the stored
summaries of the days it reconciles (docs/CENTRAL.md); the collector keeps it up to date after.

Revision ID: 0008_coverage_rollup
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_coverage_rollup"
down_revision = "0003"
branch_labels = ("coverage",)
depends_on = None

_Count = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rollup_coverage",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("desk", sa.String(64), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True, comment="The summary's own local date field."),
        sa.Column("period", sa.String(16), primary_key=True, comment="day, 15min, ..."),
        sa.Column(
            "start", sa.String(16), primary_key=True, comment="The summary's start (local HH:MM)."
        ),
        sa.Column(
            "seq", sa.BigInteger, nullable=False, comment="seq of the summary kept (the highest)."
        ),
        sa.Column(
            "screened", _Count, nullable=True, comment="arrivals_screened; NULL: not reported."
        ),
        sa.Column("unscreened", _Count, nullable=True, comment="arrivals_unscreened."),
        sa.Column("scans", _Count, nullable=True, comment="Registration scans."),
    )
    op.create_index("ix_rollup_coverage_date", "rollup_coverage", ["date", "site"])


def downgrade() -> None:
    op.drop_index("ix_rollup_coverage_date", table_name="rollup_coverage")
    op.drop_table("rollup_coverage")
