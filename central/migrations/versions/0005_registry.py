"""The clinic registry (central/registry/tables.py): clinics, their four responsible persons and
their notice recipients.

Revision ID: 0005_registry
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_registry"
down_revision = "0003"
branch_labels = ("registry",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), nullable=False, server_default=""),
        sa.Column("sub_district", sa.String(100), nullable=False, server_default=""),
        sa.Column("community", sa.String(100), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
    )
    op.create_table(
        "clinic_parties",
        sa.Column(
            "site",
            sa.String(64),
            sa.ForeignKey("clinics.site", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("party", sa.String(32), primary_key=True),
        sa.Column("person", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False, server_default=""),
        sa.Column("email", sa.String(200), nullable=False, server_default=""),
        sa.Column("webhook", sa.Text, nullable=False, server_default=""),
        sa.Column("username", sa.String(64), nullable=True),
    )
    op.create_index("ix_clinic_parties_username", "clinic_parties", ["party", "username"])
    op.create_table(
        "clinic_recipients",
        sa.Column(
            "site",
            sa.String(64),
            sa.ForeignKey("clinics.site", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("clinic_recipients")
    op.drop_table("clinic_parties")
    op.drop_table("clinics")
