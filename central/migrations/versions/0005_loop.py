"""The supervisors' loop (central/loop/tables.py): notice drafts, issued notices and their problems
(immutable: triggers refuse UPDATE and DELETE), cases and closure orders.

Revision ID: 0005_loop
Revises: 0005_registry
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_loop"
down_revision = "0005_registry"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.Float(precision=53)
IMMUTABLE = ("notices", "notice_problems")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION loop_issued_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'issued notices are immutable (%)', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "notice_drafts",
        sa.Column("pk", _Id, primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("drafted_at", _Time, nullable=False),
        sa.Column("problems", sa.Text, nullable=False),
        sa.Column("dropped", sa.Text, nullable=False),
        sa.Column("issued_number", sa.String(16), nullable=True),
        sa.UniqueConstraint("site", "day", name="uq_notice_drafts_site_day"),
    )
    op.create_table(
        "notices",
        sa.Column("pk", _Id, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(16), nullable=False, unique=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("clinic_name", sa.String(200), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("written_report", sa.Boolean, nullable=False),
        sa.Column("summoned", sa.Boolean, nullable=False),
        sa.Column("in_window", sa.Integer, nullable=False),
        sa.Column("window_days", sa.Integer, nullable=False),
        sa.Column("issued_at", _Time, nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("dropped", sa.Text, nullable=False),
        sa.UniqueConstraint("site", "day", name="uq_notices_site_day"),
    )
    op.create_index("ix_notices_issued_at", "notices", ["issued_at"])
    op.create_index("ix_notices_site_day", "notices", ["site", "day"])
    op.create_table(
        "notice_problems",
        sa.Column("notice_pk", _Id, sa.ForeignKey("notices.pk"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("alert", sa.String(48), nullable=False),
        sa.Column("desk", sa.String(64), nullable=False),
        sa.Column("raised", _Time, nullable=True),
        sa.Column("cleared", _Time, nullable=True),
        sa.Column("duration_s", _Time, nullable=True),
        sa.Column("value", _Time, nullable=True),
    )
    op.create_table(
        "cases",
        sa.Column("pk", _Id, primary_key=True, autoincrement=True),
        sa.Column("notice_pk", _Id, sa.ForeignKey("notices.pk"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("desk", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("opened_at", _Time, nullable=False),
        sa.Column("notified_at", _Time, nullable=True),
        sa.Column("reported_text", sa.Text, nullable=True),
        sa.Column("reported_by", sa.String(64), nullable=True),
        sa.Column("reported_at", _Time, nullable=True),
        sa.Column("verified_by", sa.String(64), nullable=True),
        sa.Column("verified_at", _Time, nullable=True),
        sa.Column("verified_how", sa.String(16), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("closed_at", _Time, nullable=True),
        sa.UniqueConstraint("notice_pk", "position", name="uq_cases_notice_position"),
    )
    op.create_index("ix_cases_site_state", "cases", ["site", "state"])
    op.create_table(
        "closure_orders",
        sa.Column("pk", _Id, primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("starts", sa.Date, nullable=False),
        sa.Column("until", sa.Date, nullable=True),
        sa.Column("lifted", sa.Date, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ordered_by", sa.String(64), nullable=False),
        sa.Column("ordered_at", _Time, nullable=False),
        sa.Column("lifted_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_closure_orders_site", "closure_orders", ["site"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table in IMMUTABLE:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION loop_issued_immutable()"
            )
    else:
        for table in IMMUTABLE:
            for what in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'issued notices are immutable ({table})'); END"
                )


def downgrade() -> None:
    for table in ("closure_orders", "cases", "notice_problems", "notices", "notice_drafts"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS loop_issued_immutable()")
