"""The durable outbox: an on-disk SQLite (WAL) queue between events and MQTT.

Every event is encoded and written here first, in one transaction with the next value of the
device's sequence counter, so the sequence is monotonic and survives restarts. The publisher reads
messages in sequence order and deletes each one only after the broker acknowledged it (QoS 1 PUBACK),
several acknowledged messages in one transaction (:meth:`Outbox.ack_many`).
A broker outage or a killed process loses nothing; on restart the queue replays in order.

Bounds: at most ``max_messages`` rows and nothing older than ``max_age_s``; the oldest are evicted
first and counted (the count is persisted and reported in ``health``). Writes are single-row
inserts with ``synchronous=FULL``: a few milliseconds on an SD card, far below the event rate, and
the sensing threads never touch the outbox (only the main loop does), so it never blocks sensing.

Tables: ``meta(key, value)`` holds ``seq`` (last allocated) and ``evicted``; ``messages(seq, created,
topic, payload, retain, qos)``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.wire.contract import WireMessage

Encoder = Callable[[int], WireMessage]
"""Builds the wire message once the sequence number is known."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL,
    qos INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('seq', 0), ('evicted', 0);
"""


class OutboxError(Exception):
    """The outbox file cannot be opened or written; the message says what to check."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message waiting in the outbox."""

    seq: int
    created: float
    message: WireMessage


@dataclass(frozen=True, slots=True)
class OutboxState:
    """What :meth:`Outbox.inspect` saw in an outbox file."""

    depth: int
    """Messages waiting for the broker."""
    oldest_created: float | None
    """POSIX time the oldest waiting message was stored; None when the queue is empty."""
    evicted: int
    """Messages dropped by the bounds since the file was created."""


class Outbox:
    """A bounded, durable FIFO of wire messages keyed by sequence number. Thread-safe."""

    def __init__(
        self, path: Path, max_messages: int = 100_000, max_age_s: float = 7 * 86400.0
    ) -> None:
        self.path = path
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(
                f"cannot open outbox {path}: {exc}; check outbox.path points to a writable folder"
            ) from exc

    # -- producer side ---------------------------------------------------------------------------
    def append(self, encode: Encoder, now: float | None = None) -> int:
        """Allocate the next sequence number, encode, store; returns the sequence number.

        If ``encode`` raises, nothing is stored and the sequence number is not consumed.
        """
        created = time.time() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._next_seq()
                msg = encode(seq)
                self._db.execute(
                    "INSERT INTO messages (seq, created, topic, payload, retain, qos) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (seq, created, msg.topic, msg.payload, int(msg.retain), msg.qos),
                )
                self._evict_locked(created)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._changed.notify_all()
            return seq

    def reserve_seq(self) -> int:
        """Allocate a sequence number for a message published outside the queue (status)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            seq = self._next_seq()
            self._db.execute("COMMIT")
            return seq

    def _next_seq(self) -> int:
        row = self._db.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value"
        ).fetchone()
        return int(row[0])

    def _evict_locked(self, now: float) -> None:
        cur = self._db.execute("DELETE FROM messages WHERE created < ?", (now - self.max_age_s,))
        n = cur.rowcount
        count = int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        if count > self.max_messages:
            excess = count - self.max_messages
            cur = self._db.execute(
                "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages ORDER BY seq LIMIT ?)",
                (excess,),
            )
            n += cur.rowcount
        if n:
            self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'evicted'", (n,))

    def evict_expired(self, now: float | None = None) -> None:
        """Apply the age bound now (called periodically, so an idle device still ages out)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._evict_locked(time.time() if now is None else now)
            self._db.execute("COMMIT")

    # -- consumer side ---------------------------------------------------------------------------
    def peek(self, after: int = 0, limit: int = 20) -> list[StoredMessage]:
        """Up to ``limit`` oldest messages with ``seq > after``, in sequence order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, created, topic, payload, retain, qos FROM messages "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [
            StoredMessage(r[0], r[1], WireMessage(r[2], bytes(r[3]), bool(r[4]), r[5]))
            for r in rows
        ]

    def wait(self, timeout: float) -> None:
        """Block until something was appended (or ``timeout`` passed)."""
        with self._changed:
            self._changed.wait(timeout)

    def ack(self, seq: int) -> None:
        """The broker acknowledged ``seq``: delete it."""
        self.ack_many([seq])

    def ack_many(self, seqs: list[int]) -> None:
        """The broker acknowledged all of ``seqs``: delete them in one transaction (one sync to
        disk for the lot instead of one per message)."""
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("DELETE FROM messages WHERE seq = ?", [(s,) for s in seqs])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- figures ---------------------------------------------------------------------------------
    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    def oldest_age_s(self, now: float | None = None) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(created) FROM messages").fetchone()
        if row[0] is None:
            return None
        return max(0.0, (time.time() if now is None else now) - float(row[0]))

    def evicted(self) -> int:
        with self._lock:
            return int(
                self._db.execute("SELECT value FROM meta WHERE key = 'evicted'").fetchone()[0]
            )

    def last_seq(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0])

    @staticmethod
    def inspect(path: Path, timeout_s: float = 2.0) -> OutboxState:
        """Read-only look at an outbox file that another process (the agent) may own.

        Opens the file read-only (never creates, migrates or writes it); raises :class:`OutboxError`
        when it cannot be read.
        """
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_s)
            try:
                depth, oldest = db.execute("SELECT COUNT(*), MIN(created) FROM messages").fetchone()
                row = db.execute("SELECT value FROM meta WHERE key = 'evicted'").fetchone()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot read outbox {path}: {exc}") from exc
        return OutboxState(
            depth=int(depth),
            oldest_created=None if oldest is None else float(oldest),
            evicted=0 if row is None else int(row[0]),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
