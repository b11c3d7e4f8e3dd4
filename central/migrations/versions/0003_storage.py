"""Storage for a district: event ids, daily rollups, settings; on PostgreSQL events partitioned by day.

- ``event_ids`` (event_id primary key, ts): each event stored once, on a partitioned table too;
  filled from the stored events.
- ``rollup_days``, ``rollup_alerts``: per desk and local day (empty here: the migration does not know
  the district's time zone; ``triage-central reconcile --since <first day> --tz <zone>`` builds
  them from the raw events, docs/CENTRAL.md).
- ``central_meta``: the rollups' time zone, the retention and its horizon.
- PostgreSQL: ``events`` becomes a table partitioned by range of ``ts``, a partition per UTC day
  (every day that has events, and yesterday to a week ahead) and a default partition; primary key
  ``(pk, ts)``; the old rows are copied into it (same ``pk``, same sequence) in this transaction.
  SQLite keeps its one ``events`` table (and its unique ``event_id``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import time
from datetime import timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from central.store.partitions import AHEAD_DAYS, create_partition, utc_day
from central.store.records import TS_MAX, TS_MIN

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_EventId = sa.String(32).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
_Count = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COLUMNS = (
    "pk, event_id, site, desk, kind, device, seq, ts, received, alert, state, alert_id, payload"
)


def _partitioned_events(bind: sa.Connection) -> None:
    x = bind.exec_driver_sql
    x("ALTER TABLE events RENAME TO events_0002")
    x("ALTER TABLE events_0002 DROP CONSTRAINT uq_events_event_id")
    for ix in ("ix_events_site_desk_ts", "ix_events_kind_ts", "ix_events_alert_id"):
        x(f"DROP INDEX {ix}")
    x("ALTER INDEX events_pkey RENAME TO events_0002_pkey")
    seq = bind.execute(sa.text("SELECT pg_get_serial_sequence('events_0002', 'pk')")).scalar()
    if seq is None:
        raise RuntimeError("events.pk has no sequence: not a schema this migration knows")
    x("ALTER TABLE events_0002 ALTER COLUMN pk DROP DEFAULT")
    x(f"ALTER SEQUENCE {seq} OWNED BY NONE")
    x(
        f"""CREATE TABLE events (
            pk BIGINT NOT NULL DEFAULT nextval('{seq}'::regclass),
            event_id VARCHAR(32) NOT NULL,
            site VARCHAR(64) NOT NULL,
            desk VARCHAR(64) NOT NULL,
            kind VARCHAR(32) NOT NULL,
            device VARCHAR(64),
            seq BIGINT,
            ts DOUBLE PRECISION NOT NULL,
            received DOUBLE PRECISION NOT NULL,
            alert VARCHAR(48),
            state VARCHAR(16),
            alert_id VARCHAR(32),
            payload TEXT NOT NULL,
            CONSTRAINT events_pkey PRIMARY KEY (pk, ts)
        ) PARTITION BY RANGE (ts)"""
    )
    x(f"ALTER SEQUENCE {seq} OWNED BY events.pk")
    x("CREATE TABLE events_default PARTITION OF events DEFAULT")
    x("CREATE INDEX ix_events_site_desk_ts ON events (site, desk, ts)")
    x("CREATE INDEX ix_events_kind_ts ON events (kind, ts)")
    x("CREATE INDEX ix_events_alert_id ON events (alert_id)")
    days = {
        utc_day(float(r[0]) * 86400)
        for r in bind.execute(
            sa.text(
                "SELECT DISTINCT floor(ts / 86400) FROM events_0002 WHERE ts >= :lo AND ts < :hi"
            ),
            {"lo": TS_MIN, "hi": TS_MAX},
        )
    }
    today = utc_day(time.time())
    days |= {today + timedelta(days=d) for d in range(-1, AHEAD_DAYS + 1)}
    for d in sorted(days):
        create_partition(bind, d)
    x(f"INSERT INTO events ({_COLUMNS}) SELECT {_COLUMNS} FROM events_0002")  # noqa: S608 (constants)
    x("DROP TABLE events_0002")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "event_ids",
        sa.Column("event_id", _EventId, primary_key=True),
        sa.Column("ts", sa.Float(precision=53), nullable=False),
    )
    op.create_index("ix_event_ids_ts", "event_ids", ["ts"])
    op.create_table(
        "rollup_days",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("desk", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("events", _Count, nullable=False),
        sa.Column("screened", _Count, nullable=False),
        sa.Column("fevers", _Count, nullable=False),
        sa.Column("invalid", _Count, nullable=False),
        sa.Column("arrivals", _Count, nullable=False),
        sa.Column("peak", _Count, nullable=False),
        sa.Column("last_status", sa.String(16), nullable=True),
        sa.Column("last_status_at", sa.Float(precision=53), nullable=True),
        sa.Column("last_health", sa.Float(precision=53), nullable=True),
    )
    op.create_index("ix_rollup_days_day", "rollup_days", ["day"])
    op.create_table(
        "rollup_alerts",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("desk", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("alert", sa.String(48), primary_key=True),
        sa.Column("raised", _Count, nullable=False),
    )
    op.create_index("ix_rollup_alerts_day", "rollup_alerts", ["day"])
    op.create_table(
        "central_meta",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    if bind.dialect.name == "postgresql":
        _partitioned_events(bind)
        # Ids that are not 32 hex digits (rows stored before they were checked) are not kept.
        bind.exec_driver_sql(
            "INSERT INTO event_ids (event_id, ts) SELECT DISTINCT ON (event_id) "
            "event_id::uuid, ts FROM events WHERE event_id ~ '^[0-9a-f]{32}$' ORDER BY event_id, ts"
        )
    else:
        bind.exec_driver_sql("INSERT INTO event_ids (event_id, ts) SELECT event_id, ts FROM events")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        x = bind.exec_driver_sql
        x("ALTER TABLE events RENAME TO events_0003")
        for ix in ("ix_events_site_desk_ts", "ix_events_kind_ts", "ix_events_alert_id"):
            x(f"DROP INDEX {ix}")
        x("ALTER TABLE events_0003 RENAME CONSTRAINT events_pkey TO events_0003_pkey")
        x(
            """CREATE TABLE events (
                pk BIGSERIAL PRIMARY KEY,
                event_id VARCHAR(32) NOT NULL CONSTRAINT uq_events_event_id UNIQUE,
                site VARCHAR(64) NOT NULL, desk VARCHAR(64) NOT NULL, kind VARCHAR(32) NOT NULL,
                device VARCHAR(64), seq BIGINT, ts DOUBLE PRECISION NOT NULL,
                received DOUBLE PRECISION NOT NULL, alert VARCHAR(48), state VARCHAR(16),
                alert_id VARCHAR(32), payload TEXT NOT NULL
            )"""
        )
        x(
            f"INSERT INTO events ({_COLUMNS}) SELECT DISTINCT ON (event_id) {_COLUMNS} "  # noqa: S608
            "FROM events_0003 ORDER BY event_id, pk"
        )
        x("SELECT setval(pg_get_serial_sequence('events', 'pk'), coalesce(max(pk), 1)) FROM events")
        x("DROP TABLE events_0003")
        x("CREATE INDEX ix_events_site_desk_ts ON events (site, desk, ts)")
        x("CREATE INDEX ix_events_kind_ts ON events (kind, ts)")
        x("CREATE INDEX ix_events_alert_id ON events (alert_id)")
    op.drop_table("central_meta")
    op.drop_table("rollup_alerts")
    op.drop_table("rollup_days")
    op.drop_table("event_ids")
