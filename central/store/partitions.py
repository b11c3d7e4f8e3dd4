"""Day partitions of ``events`` on PostgreSQL, and the retention of raw events on both databases.

PostgreSQL: ``events`` is partitioned by range of ``ts`` (POSIX seconds), one partition per UTC
day named ``events_pYYYYMMDD``, plus ``events_default`` for any row no day partition takes (an
event replayed from before the oldest partition, a hand-made import). :func:`ensure_partitions`
creates the partitions from yesterday to :data:`AHEAD_DAYS` days ahead (the collector at its first
write and once an hour, ``triage-central maintain``); a partition created for a day that already
has rows in the default partition takes them over. :func:`apply_retention` drops whole partitions
older than the retention, deletes older rows from the default partition, prunes ``event_ids`` the
same way and records the horizon, before which the writer no longer stores events (an event older
than the retention is not stored again after its id was pruned).

SQLite (one clinic, no partitions): :func:`apply_retention` deletes old rows in batches of
:data:`DELETE_BATCH`, one transaction each, so the collector is never blocked for long.

Rollups (``rollup_days``, ``rollup_alerts``) are kept whatever the retention: they are small.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.exc import OperationalError

from central.store.records import TS_MAX, TS_MIN
from central.store.tables import central_meta, events

log = logging.getLogger(__name__)

AHEAD_DAYS = 7
"""Day partitions created ahead of today."""
RETENTION_DAYS = 90
"""Default retention of raw events (``--retention-days``)."""
DELETE_BATCH = 10_000
"""Rows deleted per transaction when pruning row by row."""
_LOCK = 0x7472696168  # pg_advisory_xact_lock key: partition upkeep, one process at a time
_NAME = re.compile(r"^events_p(\d{8})$")
DAY_S = 86400
IDS_GRACE_S = DAY_S
"""How much longer than the raw events ``event_ids`` keeps its ids."""
LOCK_TIMEOUT_S = 10
"""How long creating a partition waits for the lock on ``events`` (long reports hold it)."""


def partition_name(day: date) -> str:
    return f"events_p{day:%Y%m%d}"


def utc_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def _bounds(day: date) -> tuple[float, float]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return start, start + DAY_S


def is_partitioned(conn: Connection) -> bool:
    """``events`` is a partitioned table (PostgreSQL after migration 0003)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass('events')")
    ).scalar()
    return kind == "p"


def day_partitions(conn: Connection) -> list[date]:
    """The days that have a partition, oldest first (PostgreSQL; empty elsewhere)."""
    if not is_partitioned(conn):
        return []
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass"
        )
    ).scalars()
    out = []
    for name in names:
        m = _NAME.match(str(name))
        if m:
            out.append(datetime.strptime(m.group(1), "%Y%m%d").date())
    return sorted(out)


def create_partition(conn: Connection, day: date) -> bool:
    """Create ``day``'s partition if missing (True when created); rows of that day waiting in the
    default partition move into it."""
    name = partition_name(day)
    if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
        return False
    lo, hi = _bounds(day)
    has_default = conn.execute(text("SELECT to_regclass('events_default')")).scalar() is not None
    waiting = has_default and bool(
        conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM events_default WHERE ts >= :lo AND ts < :hi)"),
            {"lo": lo, "hi": hi},
        ).scalar()
    )
    if waiting:
        conn.execute(
            text(
                "CREATE TEMP TABLE moving_events ON COMMIT DROP AS "
                "SELECT * FROM events_default WHERE ts >= :lo AND ts < :hi"
            ),
            {"lo": lo, "hi": hi},
        )
        conn.execute(
            text("DELETE FROM events_default WHERE ts >= :lo AND ts < :hi"), {"lo": lo, "hi": hi}
        )
    conn.execute(
        text(f"CREATE TABLE {name} PARTITION OF events FOR VALUES FROM ({lo!r}) TO ({hi!r})")
    )
    if waiting:
        conn.execute(text("INSERT INTO events SELECT * FROM moving_events"))
        conn.execute(text("DROP TABLE moving_events"))
    return True


def ensure_partitions(
    engine: Engine,
    ahead: int = AHEAD_DAYS,
    now: float | None = None,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> list[date]:
    """Partitions from yesterday to ``ahead`` days after today (UTC days); returns the days created.
    A no-op on SQLite. Safe to run from several processes at once."""
    if engine.dialect.name != "postgresql":
        return []
    today = utc_day(time.time() if now is None else now)
    wanted = [today + timedelta(days=d) for d in range(-1, ahead + 1)]
    with engine.connect() as conn:
        if not is_partitioned(conn):
            return []
        missing = [d for d in wanted if d not in set(day_partitions(conn))]
    if not missing:
        return []
    created = []
    for d in missing:
        try:
            with engine.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
                # Creating a partition locks ``events``: never queue every reader and writer
                # behind a long report; the days ahead leave time to try again.
                conn.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout_s * 1000)}ms'"))
                if create_partition(conn, d):
                    created.append(d)
        except OperationalError as exc:
            log.warning("could not create the partition of %s now (%s); will retry", d, exc.orig)
            break
    return created


@dataclass(frozen=True, slots=True)
class Pruned:
    """What :func:`apply_retention` did."""

    horizon: float
    """Raw events dated before this (a UTC midnight) are gone, and no longer stored."""
    partitions_dropped: tuple[date, ...]
    rows_deleted: int
    """Rows deleted one by one (SQLite; on PostgreSQL the default partition's)."""
    ids_pruned: int


def horizon_for(days: int, now: float) -> float:
    """The UTC midnight ``days`` days before ``now``'s UTC day."""
    return _bounds(utc_day(now) - timedelta(days=days))[0]


def apply_retention(engine: Engine, days: int = RETENTION_DAYS, now: float | None = None) -> Pruned:
    """Remove raw events (and their ids) dated before the UTC day ``days`` days ago."""
    if days < 1:
        raise ValueError("retention must be at least 1 day")
    horizon = horizon_for(days, time.time() if now is None else now)
    dropped: list[date] = []
    deleted = 0
    with engine.begin() as conn:
        set_meta(conn, "retention_days", str(days))
        _raise_horizon(conn, horizon)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            if is_partitioned(conn):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
                for d in day_partitions(conn):
                    if _bounds(d)[1] <= horizon:
                        conn.execute(text(f"DROP TABLE {partition_name(d)}"))
                        dropped.append(d)
                table = "events_default"
            else:
                table = "events"
        deleted = _delete_batches(engine, table, "pk", horizon)
    else:
        deleted = _delete_batches(engine, "events", "pk", horizon)
    # Ids are kept a day longer than their events: a running writer reads the new horizon within
    # the hour, and meanwhile a redelivered event of the removed day is still a duplicate.
    pruned = _delete_batches(engine, "event_ids", "event_id", horizon - IDS_GRACE_S)
    return Pruned(horizon, tuple(dropped), deleted, pruned)


def _delete_batches(engine: Engine, table: str, key: str, horizon: float) -> int:
    """Delete rows of ``table`` with ``ts < horizon``, :data:`DELETE_BATCH` per transaction."""
    total = 0
    stmt = text(  # table and key are this module's constants, never input
        f"DELETE FROM {table} WHERE {key} IN "  # noqa: S608
        f"(SELECT {key} FROM {table} WHERE ts < :h LIMIT {DELETE_BATCH})"
    )
    if table == "events_default":
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('events_default')")).scalar() is None:
                return 0
    while True:
        with engine.begin() as conn:
            n = conn.execute(stmt, {"h": horizon}).rowcount
        total += max(n, 0)
        if n < DELETE_BATCH:
            return total


def get_meta(conn: Connection, key: str) -> str | None:
    v = conn.execute(select(central_meta.c.value).where(central_meta.c.key == key)).scalar()
    return None if v is None else str(v)


def set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(central_meta).where(central_meta.c.key == key))
    conn.execute(central_meta.insert().values(key=key, value=value))


def _raise_horizon(conn: Connection, horizon: float) -> None:
    old = get_meta(conn, "horizon")
    if old is None or float(old) < horizon:
        set_meta(conn, "horizon", repr(horizon))


def horizon(engine: Engine) -> float:
    """Events dated before this are not stored (the retention's horizon; TS_MIN when unset)."""
    with engine.connect() as conn:
        v = get_meta(conn, "horizon")
    return TS_MIN if v is None else float(v)


def stored_days(engine: Engine) -> tuple[float, float] | None:
    """The oldest and newest sane ``ts`` among the raw events, or None when there are none."""
    with engine.connect() as conn:
        row = conn.execute(
            select(text("min(ts)"), text("max(ts)"))
            .select_from(events)
            .where(events.c.ts.between(TS_MIN, TS_MAX))
        ).one()
    return None if row[0] is None else (float(row[0]), float(row[1]))
