"""Writing rows: one transaction per batch, insert-or-ignore on the unique event id.

Returns how many rows were new, so the collector can count duplicates. Works on SQLite and
PostgreSQL with the same statement (``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, Insert
from sqlalchemy.dialects import postgresql, sqlite

from central.store.records import Row
from central.store.tables import events


def _insert(engine: Engine) -> Insert:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(events).on_conflict_do_nothing(index_elements=["event_id"])
    if engine.dialect.name == "sqlite":
        return sqlite.insert(events).on_conflict_do_nothing(index_elements=["event_id"])
    raise ValueError(f"unsupported database {engine.dialect.name!r} (use SQLite or PostgreSQL)")


def store(engine: Engine, rows: Sequence[Row]) -> int:
    """Insert ``rows`` in one committed transaction; return how many were new (not duplicates)."""
    if not rows:
        return 0
    # Duplicates inside one batch (the same message twice in flight) are dropped here too.
    unique = list({r.event_id: r for r in rows}.values())
    stmt = _insert(engine).returning(events.c.event_id)
    with engine.begin() as conn:
        result = conn.execute(stmt, [r.as_dict() for r in unique])
        return len(result.fetchall())
