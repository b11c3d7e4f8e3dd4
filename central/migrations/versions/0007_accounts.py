"""Accounts, sessions, API tokens, the sign-in throttle and spot checks (central/accounts/tables.py).

Revision ID: 0007_accounts
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_accounts"
down_revision = "0003"
branch_labels = ("accounts",)
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("party", sa.String(32), nullable=True),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created", _Time, nullable=False),
        sa.Column("changed", _Time, nullable=False),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column(
            "username",
            sa.String(64),
            sa.ForeignKey("users.username", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created", _Time, nullable=False),
        sa.Column("last_seen", _Time, nullable=False),
        sa.Column("expires", _Time, nullable=False),
    )
    op.create_index("ix_user_sessions_username", "user_sessions", ["username"])
    op.create_table(
        "api_tokens",
        sa.Column("pk", _BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "username",
            sa.String(64),
            sa.ForeignKey("users.username", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created", _Time, nullable=False),
        sa.Column("last_used", _Time, nullable=True),
        sa.Column("revoked", _Time, nullable=True),
    )
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_failure", _Time, nullable=False),
        sa.Column("locked_until", _Time, nullable=True),
    )
    op.create_table(
        "spot_checks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("drawn_at", _Time, nullable=False),
        sa.Column("drawn_by", sa.String(64), nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("inputs_digest", sa.String(64), nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_table(
        "spot_check_clinics",
        sa.Column(
            "check_id",
            sa.String(32),
            sa.ForeignKey("spot_checks.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rectification", sa.String(16), nullable=False),
        sa.Column("finding", sa.Text, nullable=False),
        sa.Column("recorded_at", _Time, nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    for name in ("spot_check_clinics", "spot_checks", "sign_in_throttle", "api_tokens"):
        op.drop_table(name)
    op.drop_index("ix_user_sessions_username", "user_sessions")
    op.drop_table("user_sessions")
    op.drop_table("users")
