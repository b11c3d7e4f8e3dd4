"""Writing rows: one transaction per batch, insert-or-ignore on the unique event id, refused
messages into the bounded quarantine in the same transaction.

:func:`store` returns how many rows were new, so the collector can count duplicates. Works on
SQLite and PostgreSQL with the same statement (``INSERT ... ON CONFLICT (event_id) DO NOTHING
RETURNING``). :func:`store_isolating` is what the collector calls: when the database refuses a
batch for its data (a value it cannot hold), the rows are written one by one and the ones it
refuses go to the quarantine with reason ``database``, so one bad row never blocks the others. A
lost connection is not the data's fault: it is raised for the caller to retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, Insert, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from central.store.records import NotAnEventError, Reason, Refused, Row
from central.store.tables import events, quarantine

QUARANTINE_KEEP = 10_000
"""Rows the quarantine keeps (the newest); older ones are deleted as new ones arrive."""


def _insert(engine: Engine) -> Insert:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(events).on_conflict_do_nothing(index_elements=["event_id"])
    if engine.dialect.name == "sqlite":
        return sqlite.insert(events).on_conflict_do_nothing(index_elements=["event_id"])
    raise ValueError(f"unsupported database {engine.dialect.name!r} (use SQLite or PostgreSQL)")


def store(
    engine: Engine,
    rows: Sequence[Row],
    refused: Sequence[Refused] = (),
    keep: int = QUARANTINE_KEEP,
) -> int:
    """Insert ``rows`` and ``refused`` in one committed transaction; return how many rows were new
    (not duplicates)."""
    return len(_write(engine, rows, refused, keep))


def _write(engine: Engine, rows: Sequence[Row], refused: Sequence[Refused], keep: int) -> set[str]:
    """:func:`store`, returning the ids of the new rows."""
    if not rows and not refused:
        return set()
    new: set[str] = set()
    with engine.begin() as conn:
        if rows:
            # Duplicates inside one batch (the same message twice in flight) are dropped here too.
            unique = list({r.event_id: r for r in rows}.values())
            stmt = _insert(engine).returning(events.c.event_id)
            new = {str(r[0]) for r in conn.execute(stmt, [r.as_dict() for r in unique])}
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
) -> Stored:
    """:func:`store`, and when the database refuses the batch's data, row by row (see module)."""
    try:
        return Stored(frozenset(_write(engine, rows, refused, keep)), ())
    except Exception as exc:
        if not is_data_error(exc):
            raise
    new: set[str] = set()
    bad: list[Refused] = []
    for row in rows:
        try:
            new |= _write(engine, [row], (), keep)
        except Exception as exc:
            if not is_data_error(exc):
                raise
            error = NotAnEventError(Reason.DATABASE, f"the database refused it: {exc}")
            topic = f"{row.site}/{row.desk}/{row.kind}"
            payload = row.payload.encode("utf-8", "backslashreplace")
            bad.append(Refused.of(topic, payload, len(payload), error, row.received))
    _write(engine, [], [*refused, *bad], keep)
    return Stored(frozenset(new), tuple(bad))
