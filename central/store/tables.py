"""The database tables (SQLAlchemy Core), the single source the migrations are written against.

``events`` holds every distinct event ever received: the identity from the topic (site, desk, kind),
the envelope (event id, seq, ts, device), a few indexed columns lifted from the payload (alert name,
state, alert id) and the full payload JSON, so fields added to the contract later are kept even
before a column exists for them. ``event_id`` is unique: a redelivered message is ignored.
Times are POSIX seconds (UTC) as double precision numbers, the same on SQLite and PostgreSQL.

``quarantine`` keeps what was refused (central/store/records.py says why a message is refused): the
reason, a one-line detail, the topic and the first bytes of the payload made printable, so a
technician can see what a box sent. It is bounded: the collector keeps the newest rows only.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

_BigId = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("pk", _BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(32), nullable=False, comment="Envelope id (32 hex)."),
    Column("site", String(64), nullable=False, comment="Topic level after the prefix."),
    Column("desk", String(64), nullable=False, comment="Topic level after the site."),
    Column("kind", String(32), nullable=False, comment="Message kind (topic's last level)."),
    Column("device", String(64), nullable=True, comment="Envelope device id."),
    Column("seq", BigInteger, nullable=True, comment="Per-device sequence number."),
    Column("ts", Float(precision=53), nullable=False, comment="Time of the fact, POSIX s UTC."),
    Column("received", Float(precision=53), nullable=False, comment="Stored at, POSIX s UTC."),
    Column("alert", String(48), nullable=True, comment="Alert name (alert events)."),
    Column("state", String(16), nullable=True, comment="state field (alert, status, mask)."),
    Column("alert_id", String(32), nullable=True, comment="Ties an alert's raise and clear."),
    Column("payload", Text, nullable=False, comment="The message JSON as received."),
    UniqueConstraint("event_id", name="uq_events_event_id"),
)

Index("ix_events_site_desk_ts", events.c.site, events.c.desk, events.c.ts)
Index("ix_events_kind_ts", events.c.kind, events.c.ts)
Index("ix_events_alert_id", events.c.alert_id)

quarantine = Table(
    "quarantine",
    metadata,
    Column("pk", _BigId, primary_key=True, autoincrement=True),
    Column("received", Float(precision=53), nullable=False, comment="Received at, POSIX s UTC."),
    Column("reason", String(16), nullable=False, comment="records.Reason value."),
    Column("detail", String(200), nullable=False, comment="Why, in one line."),
    Column("topic", String(200), nullable=False, comment="The topic, printable, cut."),
    Column("size", BigInteger, nullable=False, comment="Payload size in bytes."),
    Column("head", Text, nullable=False, comment="First bytes of the payload, printable."),
)

Index("ix_quarantine_received", quarantine.c.received)
