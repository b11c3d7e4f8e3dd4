"""The service's small named state texts, kept in the outbox's database (table ``state``).

The service keeps its summary tally here, written in the same transaction as the message that
changed it (:meth:`Outbox.append` with ``state``, which calls :func:`write`), so a power cut keeps
both or neither; :class:`StateStore` (``outbox.state``) saves without a message (a periodic
last-alive stamp) and loads at start.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger("agent.wire.outbox")


def write(db: sqlite3.Connection, state: Mapping[str, str]) -> None:
    """Upsert ``state`` inside the caller's transaction."""
    db.executemany(
        "INSERT INTO state (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        list(state.items()),
    )


class StateStore:
    """Named state texts in the outbox's file, behind the outbox's lock and fault machine."""

    def __init__(
        self,
        lock: threading.Lock,
        db: Callable[[], sqlite3.Connection],
        failed: Callable[[BaseException, str], Exception],
        rollback: Callable[[], None],
    ) -> None:
        self._lock = lock
        self._db = db
        """The open database (raises :class:`NotOpenError` while there is none)."""
        self._failed = failed
        """Records a storage fault the way every write of the outbox does."""
        self._rollback = rollback

    def save(self, state: Mapping[str, str]) -> bool:
        """Save named state texts without a message (a periodic last-alive stamp). Never raises:
        False when the file cannot be written (the fault is reported like any write's)."""
        with self._lock:
            try:
                db = self._db()
                db.execute("BEGIN IMMEDIATE")
                write(db, state)
                db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback()
                log.debug("%s", self._failed(exc, "state write"))
                return False
            return True

    def load(self, key: str) -> str | None:
        """A state text saved under ``key``; None when there is none or it cannot be read."""
        with self._lock:
            try:
                row = self._db().execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            except (OSError, sqlite3.Error) as exc:
                log.warning("cannot read the saved %s: %s", key, exc)
                return None
        return None if row is None else str(row[0])
