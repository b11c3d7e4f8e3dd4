"""The database tables (SQLAlchemy Core), the single source the migrations are written against.

``events`` holds every distinct event ever received: the identity from the topic (site, desk, kind),
the envelope (event id, seq, ts, device), a few indexed columns lifted from the payload (alert name,
state, alert id) and the full payload JSON, so fields added to the contract later are kept even
before a column exists for them. ``event_id`` is unique: a redelivered message is ignored.
Times are POSIX seconds (UTC) as double precision numbers, the same on SQLite and PostgreSQL.

``quarantine`` keeps what was refused (central/store/records.py says why a message is refused): the
reason, a one-line detail, the topic and the first bytes of the payload made printable, so a
technician can see what a box sent. It is bounded: the collector keeps the newest rows only.

Storage for a district (docs/CENTRAL.md, "Storage: partitions, retention, rollups"):

- On PostgreSQL ``events`` is partitioned by range of ``ts``, one partition per UTC day
  (``events_pYYYYMMDD``) plus ``events_default`` for rows no day partition takes; its primary key
  is ``(pk, ts)`` and ``event_id`` is not unique there (a unique constraint on a partitioned table
  must include the partition key). On SQLite it is one table and keeps ``uq_events_event_id``.
- ``event_ids`` is what makes each event stored once on both: one row per event id ever stored
  (with its ``ts``, pruned with the raw events by the retention). The writer inserts the batch's
  ids there first (insert-or-ignore) and stores only the events whose id was new.
- ``rollup_days`` and ``rollup_alerts``: per desk and local day (the district time zone recorded in
  ``central_meta`` as ``rollup_tz``), the day's counts and the alerts raised by name (and of those,
  how many for a mask worn wrong), written by the collector in the same transaction as the new
  events (central/store/rollups.py).
- ``rollup_coverage``: per desk, local date (the summary's own ``date``), period and start, the
  screening coverage figures of the ``summary`` kept for it (the highest ``seq``), written by the
  collector in the same transaction too (central/store/rollups.py, central/report/coverage.py).
- ``central_meta``: small settings the database must keep consistent across processes
  (``rollup_tz``, ``retention_days``, ``horizon``: events dated before it are no longer kept).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql

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

EventId = String(32).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
"""32 hex digits; a ``uuid`` on PostgreSQL (16 bytes instead of 33: ~80 bytes less per event with
its index). PostgreSQL reads it back with hyphens: compare ``str(v).replace("-", "")``."""

event_ids = Table(
    "event_ids",
    metadata,
    Column("event_id", EventId, primary_key=True, comment="Envelope id of a stored event."),
    Column("ts", Float(precision=53), nullable=False, comment="Its ts (pruned with retention)."),
)

Index("ix_event_ids_ts", event_ids.c.ts)

_Count = BigInteger().with_variant(Integer(), "sqlite")

rollup_days = Table(
    "rollup_days",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("desk", String(64), primary_key=True),
    Column("day", Date, primary_key=True, comment="Local date in central_meta.rollup_tz."),
    Column("events", _Count, nullable=False, comment="Events stored, every kind."),
    Column("screened", _Count, nullable=False, comment="Valid results: normal + fever."),
    Column("fevers", _Count, nullable=False),
    Column("invalid", _Count, nullable=False, comment="Invalid readings (re-measure asked)."),
    Column("arrivals", _Count, nullable=False, comment="Sum of people in periodic occupancy."),
    Column("peak", _Count, nullable=False, comment="Highest occupancy count/max."),
    Column("last_status", String(16), nullable=True, comment="State of the day's last status."),
    Column("last_status_at", Float(precision=53), nullable=True, comment="When it took effect."),
    Column("last_health", Float(precision=53), nullable=True, comment="ts of the last health."),
)

Index("ix_rollup_days_day", rollup_days.c.day)

rollup_alerts = Table(
    "rollup_alerts",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("desk", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("alert", String(48), primary_key=True, comment="Alert name."),
    Column("raised", _Count, nullable=False, comment="Times raised that day."),
    Column(
        "worn_wrong",
        _Count,
        nullable=False,
        server_default="0",
        comment="Of those, raised for a mask worn wrong (cause worn_wrong).",
    ),
)

Index("ix_rollup_alerts_day", rollup_alerts.c.day)

rollup_coverage = Table(
    "rollup_coverage",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("desk", String(64), primary_key=True),
    Column("date", Date, primary_key=True, comment="The summary's own local date field."),
    Column("period", String(16), primary_key=True, comment="day, 15min, ..."),
    Column("start", String(16), primary_key=True, comment="The summary's start (local HH:MM)."),
    Column("seq", BigInteger, nullable=False, comment="seq of the summary kept (the highest)."),
    Column("screened", _Count, nullable=True, comment="arrivals_screened; NULL: not reported."),
    Column("unscreened", _Count, nullable=True, comment="arrivals_unscreened."),
    Column("scans", _Count, nullable=True, comment="Registration scans."),
)

Index("ix_rollup_coverage_date", rollup_coverage.c.date, rollup_coverage.c.site)

central_meta = Table(
    "central_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(200), nullable=False),
)
