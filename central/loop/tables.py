"""The loop's tables on the shared metadata (migration branch ``0005_loop``, after
``0005_registry``).

- ``notice_drafts``: one draft per clinic and day, mutable until issued (problems as JSON, with
  the ones the officer dropped and why).
- ``notices`` and ``notice_problems``: issued notices, **immutable**: the migration installs
  triggers refusing UPDATE and DELETE on SQLite and PostgreSQL, and no code offers either.
- ``cases``: one per issued problem, moving open -> notified -> reported -> verified -> closed.
- ``closure_orders``: "ordered to close for rectification", with its dates.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from central.store.tables import metadata

_Id = BigInteger().with_variant(Integer(), "sqlite")
_Time = Float(precision=53)

notice_drafts = Table(
    "notice_drafts",
    metadata,
    Column("pk", _Id, primary_key=True, autoincrement=True),
    Column("site", String(64), nullable=False),
    Column("day", Date, nullable=False, comment="The local day the problems were found."),
    Column("drafted_at", _Time, nullable=False),
    Column("problems", Text, nullable=False, comment="JSON list of problems."),
    Column("dropped", Text, nullable=False, comment="JSON {position: [reason, by, at]}."),
    Column("issued_number", String(16), nullable=True, comment="Set once issued."),
    UniqueConstraint("site", "day", name="uq_notice_drafts_site_day"),
)

notices = Table(
    "notices",
    metadata,
    Column("pk", _Id, primary_key=True, autoincrement=True),
    Column("number", String(16), nullable=False, unique=True, comment="YYYY-NNNN per year."),
    Column("site", String(64), nullable=False),
    Column("clinic_name", String(200), nullable=False, comment="As registered when issued."),
    Column("day", Date, nullable=False),
    Column("deadline", Date, nullable=False, comment="Rectify by this local date."),
    Column("written_report", Boolean, nullable=False),
    Column("summoned", Boolean, nullable=False),
    Column("in_window", Integer, nullable=False, comment="Notices of the clinic in the window."),
    Column("window_days", Integer, nullable=False, comment="The window's length then."),
    Column("issued_at", _Time, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("dropped", Text, nullable=False, comment="JSON list of dropped problems, reasons."),
    UniqueConstraint("site", "day", name="uq_notices_site_day"),
)

Index("ix_notices_issued_at", notices.c.issued_at)
Index("ix_notices_site_day", notices.c.site, notices.c.day)

notice_problems = Table(
    "notice_problems",
    metadata,
    Column("notice_pk", _Id, ForeignKey("notices.pk"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("alert", String(48), nullable=False),
    Column("desk", String(64), nullable=False),
    Column("raised", _Time, nullable=True),
    Column("cleared", _Time, nullable=True),
    Column("duration_s", _Time, nullable=True),
    Column("value", _Time, nullable=True),
)

cases = Table(
    "cases",
    metadata,
    Column("pk", _Id, primary_key=True, autoincrement=True),
    Column("notice_pk", _Id, ForeignKey("notices.pk"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("site", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("desk", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("deadline", Date, nullable=False),
    Column("opened_at", _Time, nullable=False),
    Column("notified_at", _Time, nullable=True),
    Column("reported_text", Text, nullable=True),
    Column("reported_by", String(64), nullable=True),
    Column("reported_at", _Time, nullable=True),
    Column("verified_by", String(64), nullable=True),
    Column("verified_at", _Time, nullable=True),
    Column("verified_how", String(16), nullable=True, comment="person or automatic."),
    Column("closed_by", String(64), nullable=True),
    Column("closed_at", _Time, nullable=True),
    UniqueConstraint("notice_pk", "position", name="uq_cases_notice_position"),
)

Index("ix_cases_site_state", cases.c.site, cases.c.state)

closure_orders = Table(
    "closure_orders",
    metadata,
    Column("pk", _Id, primary_key=True, autoincrement=True),
    Column("site", String(64), nullable=False),
    Column("starts", Date, nullable=False, comment="First local day closed."),
    Column("until", Date, nullable=True, comment="Planned last day, if set."),
    Column("lifted", Date, nullable=True, comment="Day the order was lifted."),
    Column("reason", Text, nullable=False),
    Column("ordered_by", String(64), nullable=False),
    Column("ordered_at", _Time, nullable=False),
    Column("lifted_by", String(64), nullable=True),
)

Index("ix_closure_orders_site", closure_orders.c.site)
