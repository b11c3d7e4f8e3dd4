"""Writing rows: one transaction per batch, insert-or-ignore on the unique event id, the rollups
of the new events and refused messages into the bounded quarantine in the same transaction.

:func:`store` returns how many rows were new, so the collector can count duplicates. Each event is
stored once on SQLite and on a partitioned PostgreSQL alike: the batch's ids go into ``event_ids``
first (``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING``, in id order), and only the rows
whose id was new go into ``events`` and into the rollups (central/store/rollups.py: the day's
counts, the alerts raised and the summaries' screening coverage). Events dated
before the retention's horizon are not stored (central/store/partitions.py). Once an hour (and at
the first write) the writer creates the day partitions ahead and reads the horizon and the
rollups' time zone again. :func:`store_isolating` is what the collector calls: when the database refuses a
batch for its data (a value it cannot hold), the rows are written one by one and the ones it
refuses go to the quarantine with reason ``database``, so one bad row never blocks the others. A
lost connection is not the data's fault: it is raised for the caller to retry.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Insert, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from central.config import zone
from central.store import bulk, partitions, rollups
from central.store.reader import PLAUSIBLE, from_row
from central.store.reader import Stored as ReadBack
from central.store.records import ROW_FIELDS, NotAnEventError, Reason, Refused, Row
from central.store.tables import event_ids, events, quarantine

QUARANTINE_KEEP = 10_000
"""Rows the quarantine keeps (the newest); older ones are deleted as new ones arrive."""
UPKEEP_S = 3600.0
"""How often the writer creates partitions ahead and reads the horizon again."""


_ID_COLUMNS = ("event_id", "ts")
_EVENT_COLUMNS = ROW_FIELDS
_PG_IDS = (
    postgresql.insert(event_ids)
    .from_select(_ID_COLUMNS, bulk.unnest_select(event_ids, _ID_COLUMNS))
    .on_conflict_do_nothing(index_elements=["event_id"])
    .returning(event_ids.c.event_id)
)


def _insert_ids(engine: Engine) -> Insert:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(event_ids).on_conflict_do_nothing(index_elements=["event_id"])
    if engine.dialect.name == "sqlite":
        return sqlite.insert(event_ids).on_conflict_do_nothing(index_elements=["event_id"])
    raise ValueError(f"unsupported database {engine.dialect.name!r} (use SQLite or PostgreSQL)")


def _new_ids(conn: Connection, ids: list[dict[str, object]]) -> set[str]:
    """Insert ``ids`` (in their order) into ``event_ids``; the ones that were not there yet."""
    if conn.dialect.name == "postgresql":  # one statement for the batch (central/store/bulk.py)
        result = conn.execute(_PG_IDS, bulk.arrays(ids, _ID_COLUMNS))
    else:
        stmt = _insert_ids(conn.engine).returning(event_ids.c.event_id)
        result = conn.execute(stmt, ids)
    return {str(r[0]).replace("-", "") for r in result}


def _insert_events(conn: Connection, rows: list[Row]) -> None:
    if conn.dialect.name == "postgresql":  # COPY: central/store/bulk.py
        bulk.copy_rows(conn, events, _EVENT_COLUMNS, [r.values() for r in rows])
    else:
        conn.execute(events.insert(), [r.as_dict() for r in rows])


@dataclass(frozen=True, slots=True)
class _Upkept:
    due: float
    """time.monotonic() of the next upkeep."""
    tz: str
    zone: ZoneInfo
    horizon: float


_upkept: weakref.WeakKeyDictionary[Engine, _Upkept] = weakref.WeakKeyDictionary()
_upkeep_lock = threading.Lock()


def upkeep(engine: Engine, tz: str | None = None, force: bool = False) -> _Upkept:
    """At most once an hour per engine (or when ``force``): create the day partitions ahead, read
    the retention's horizon, check ``tz`` against the rollups' time zone (None: the recorded one,
    UTC when none is)."""
    with _upkeep_lock:
        done = _upkept.get(engine)
        if done is not None and not force and time.monotonic() < done.due and tz in (None, done.tz):
            return done
        partitions.ensure_partitions(engine)
        if tz is None:
            tz = rollups.kept_tz(engine) or "UTC"
        rollups.ensure_tz(engine, tz)
        done = _Upkept(time.monotonic() + UPKEEP_S, tz, zone(tz), partitions.horizon(engine))
        _upkept[engine] = done
        return done


def store(
    engine: Engine,
    rows: Sequence[Row],
    refused: Sequence[Refused] = (),
    keep: int = QUARANTINE_KEEP,
    tz: str | None = None,
) -> int:
    """Insert ``rows`` and ``refused`` in one committed transaction; return how many rows were new
    (not duplicates). ``tz``: the district time zone of the rollups (None: the one the database
    records)."""
    return len(_write(engine, rows, refused, keep, tz))


Docs = Mapping[str, dict[str, Any]]
"""The checked payload of each row, by event id (records.checked), when the caller has it."""


def _stored(row: Row, docs: Docs | None) -> ReadBack:
    """``row`` as it will read back (reader.from_row), without parsing its payload again when its
    checked document is in ``docs``."""
    doc = None if docs is None else docs.get(row.event_id)
    if doc is None:
        return from_row(row)
    seq = row.seq if row.seq is not None and 0 < row.seq <= PLAUSIBLE else None
    return ReadBack(row.site, row.desk, row.kind, seq, row.ts, row.received, row.alert,
                    row.state, row.alert_id, doc)  # fmt: skip


def _write(
    engine: Engine,
    rows: Sequence[Row],
    refused: Sequence[Refused],
    keep: int,
    tz: str | None = None,
    docs: Docs | None = None,
) -> set[str]:
    """:func:`store`, returning the ids of the new rows."""
    if not rows and not refused:
        return set()
    new: set[str] = set()
    state = upkeep(engine, tz) if rows else None
    with engine.begin() as conn:
        if rows and state is not None:
            # Duplicates inside one batch (the same message twice in flight) are dropped here too.
            unique = {r.event_id: r for r in rows if r.ts >= state.horizon}
            ids = [{"event_id": i, "ts": unique[i].ts} for i in sorted(unique)]
            if ids:
                new = _new_ids(conn, ids)
            fresh = [r for r in unique.values() if r.event_id in new]
            if fresh:
                _insert_events(conn, fresh)
                stored = [_stored(r, docs) for r in fresh]
                day_rollups = rollups.compute(stored, state.zone)
                rollups.add(conn, list(day_rollups.values()))
                coverage = rollups.compute_coverage(s for s in stored if s.kind == "summary")
                rollups.add_coverage(conn, list(coverage.values()))
        if refused:
            conn.execute(quarantine.insert(), [q.as_dict() for q in refused])
            newest = conn.execute(select(func.max(quarantine.c.pk))).scalar_one()
            conn.execute(delete(quarantine).where(quarantine.c.pk <= int(newest) - keep))
    return new


def is_data_error(exc: BaseException) -> bool:
    """The database refused a value (too long, out of range, a character it cannot hold), as
    opposed to a lost connection or a broken schema."""
    if isinstance(exc, DataError | IntegrityError):
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        return isinstance(exc.orig, ValueError | OverflowError)  # e.g. UnicodeEncodeError
    return isinstance(exc, ValueError | OverflowError)


@dataclass(frozen=True, slots=True)
class Stored:
    """What :func:`store_isolating` did."""

    new: frozenset[str]
    """Ids of the rows that were new (not stored before)."""
    refused: tuple[Refused, ...]
    """Rows the database refused, quarantined with reason ``database``."""


def store_isolating(
    engine: Engine,
    rows: Sequence[Row],
    refused: Sequence[Refused] = (),
    keep: int = QUARANTINE_KEEP,
    tz: str | None = None,
    docs: Docs | None = None,
) -> Stored:
    """:func:`store`, and when the database refuses the batch's data, row by row (see module).
    ``docs``: the rows' checked payloads by event id, when the caller has them (no second parse
    for the rollups)."""
    try:
        return Stored(frozenset(_write(engine, rows, refused, keep, tz, docs)), ())
    except Exception as exc:
        if not is_data_error(exc):
            raise
    new: set[str] = set()
    bad: list[Refused] = []
    for row in rows:
        try:
            new |= _write(engine, [row], (), keep, tz, docs)
        except Exception as exc:
            if not is_data_error(exc):
                raise
            error = NotAnEventError(Reason.DATABASE, f"the database refused it: {exc}")
            topic = f"{row.site}/{row.desk}/{row.kind}"
            payload = row.payload.encode("utf-8", "backslashreplace")
            bad.append(Refused.of(topic, payload, len(payload), error, row.received))
    _write(engine, [], [*refused, *bad], keep)
    return Stored(frozenset(new), tuple(bad))
