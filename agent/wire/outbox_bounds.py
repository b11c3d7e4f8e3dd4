"""The outbox's bounds: at most ``max_messages`` rows and nothing older than ``max_age_s``.

The oldest messages are evicted first and counted (``meta.evicted``, persisted and reported in
``health``); an eviction is logged at most once a minute. Ages are on the monotonic clock (each
message's ``mono`` stamp, :mod:`agent.wire.outbox_file`), so a step of the wall clock neither
evicts a backlog at once (a step forward) nor keeps it past the bound (a step back).
"""

from __future__ import annotations

import logging
import sqlite3
import time

log = logging.getLogger("agent.wire.outbox")

LOG_EVERY_S = 60.0
"""An eviction is logged at most this often (``health.evicted`` counts them all)."""


class Bounds:
    """Evicts what is over the count bound or the age bound (inside the caller's transaction)."""

    def __init__(self, max_messages: int, max_age_s: float) -> None:
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self._logged = 0.0

    def apply(self, db: sqlite3.Connection, mono: float) -> None:
        """Evict and count the messages the bounds no longer allow at monotonic time ``mono``."""
        cur = db.execute("DELETE FROM messages WHERE mono < ?", (mono - self.max_age_s,))
        aged = max(0, cur.rowcount)
        full = 0
        count = int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        if count > self.max_messages:
            excess = count - self.max_messages
            cur = db.execute(
                "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages ORDER BY seq LIMIT ?)",
                (excess,),
            )
            full = max(0, cur.rowcount)
        if aged or full:
            db.execute("UPDATE meta SET value = value + ? WHERE key = 'evicted'", (aged + full,))
            self._log(aged, full)

    def _log(self, aged: int, full: int) -> None:
        now = time.monotonic()
        if now - self._logged >= LOG_EVERY_S:
            self._logged = now
            why = []
            if full:
                why.append(f"{full} over the {self.max_messages}-message bound")
            if aged:
                why.append(f"{aged} older than {self.max_age_s:.0f} s")
            log.warning(
                "outbox evicted unsent messages (%s); the broker has been unreachable too long "
                "(this line repeats at most once a minute; health.evicted counts them all)",
                ", ".join(why),
            )
