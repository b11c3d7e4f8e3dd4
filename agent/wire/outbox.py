"""The durable outbox: an on-disk SQLite (WAL) queue between events and MQTT.

Every event is encoded and written here first, in one transaction with the next value of the
device's sequence counter, so the sequence is monotonic and survives restarts. The publisher reads
messages in sequence order and deletes each one only after the broker acknowledged it (QoS 1 PUBACK),
several acknowledged messages in one transaction (:meth:`Outbox.ack_many`).
A broker outage or a killed process loses nothing; on restart the queue replays in order.

Bounds: at most ``max_messages`` rows and nothing older than ``max_age_s``; the oldest are evicted
first and counted (the count is persisted and reported in ``health``, and logged). Writes are
single-row inserts with ``synchronous=FULL``: a few milliseconds on an SD card, far below the event
rate, and the sensing threads never touch the outbox (only the main loop does), so it never blocks
sensing.

Storage faults never escape as a crash (see :mod:`agent.wire.storage`):

- Only :meth:`Outbox.append` raises (:class:`StorageError`, naming the cause: ``disk full``,
  ``read-only``, ``I/O error``, ``corrupt``); the caller keeps the event and retries.
- :meth:`Outbox.ack` never raises: a delete that fails is remembered and retried, so a message is
  not re-sent by this process (it may be once after a restart: at-least-once).
- :meth:`Outbox.reserve_seq` never raises: while the file cannot be written it hands out numbers
  from memory, and the next successful write persists the highest one.
- The figures (:meth:`depth`, ...) never raise: they return the last value read.
- :attr:`Outbox.fault` names the current fault, checked against the file system
  (:func:`agent.wire.storage.honest_cause`: a read-only remount or a failing device is named as
  such, never as ``corrupt``); :meth:`retry` (called once a second) clears it as soon as a probe
  write in the folder and a database write both succeed again, and replaces a file found corrupt
  while running (only when the folder itself is healthy).

At start a damaged outbox (not a database, malformed, a directory in its place) is moved aside to
``<path>.corrupt-<time>`` and a fresh one continues the sequence from the sidecar's high-water mark;
an outbox that is missing or empty although one existed is reported too (:attr:`Outbox.notices`,
:attr:`Outbox.resets`). A file that cannot be opened or created at all (disk full, read-only,
I/O error, permission denied) does not raise either: the outbox starts *not open*, in the same
faulted state as a write that failed while running (:attr:`fault` names the cause, every operation
fails or answers from memory as above, numbers are handed out from memory above the sidecar's mark),
and :meth:`retry` opens it once the folder takes a probe write again.

Tables: ``meta(key, value)`` holds ``seq`` (last allocated) and ``evicted``; ``messages(seq, created,
topic, payload, retain, qos)``; ``state(key, value)`` holds small named texts the service keeps with
the messages (the summary tally), written in the same transaction as the message that changed them
(:meth:`Outbox.append` with ``state``), so a power cut keeps both or neither.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.wire.contract import WireMessage
from agent.wire.storage import (
    DAMAGED,
    DamagedError,
    Sidecar,
    advice,
    cause_of,
    honest_cause,
    move_aside,
    probe,
)

log = logging.getLogger(__name__)

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
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('seq', 0), ('evicted', 0);
"""

RETRY_EVERY_S = 1.0
"""While faulted, :meth:`Outbox.retry` tries a write at most this often."""


class OutboxError(Exception):
    """The outbox file cannot be opened or written; ``cause`` says why (``disk full``...)."""

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause or message


class StorageError(OutboxError):
    """A write failed; the outbox stays usable and :meth:`Outbox.retry` clears the fault."""


class NotOpenError(sqlite3.OperationalError):
    """The file is not open (it could not be opened or created): raised by every use of the
    database, so the handlers that catch ``sqlite3.Error`` treat it as the fault it is."""


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


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        row = db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise DamagedError(f"quick_check: {row[0] if row else 'no answer'}")
        db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
    except BaseException:
        db.close()
        raise
    return db


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
        self._changes = 0
        self.notices: list[str] = []
        """What happened to the previous outbox at start (moved aside, missing, empty)."""
        self._fault: str | None = None
        self._fault_since = 0.0
        self._next_retry = 0.0
        self._ack_backlog: set[int] = set()
        self._figures: tuple[int, float | None, int] = (
            0,
            None,
            0,
        )  # depth, oldest created, evicted: last values read
        self._handle: sqlite3.Connection | None = None
        self._sidecar = Sidecar.beside(path)
        self._seq = 0
        try:
            self._attach()
        except (OutboxError, OSError, sqlite3.Error) as exc:
            self._seq = max(self._seq, self._sidecar.seq)  # above every number handed out before
            self._failed(exc, f"open of {path}")
            return
        try:
            self._sidecar.cover(self._seq)
            if self.notices:
                self._sidecar.save()
        except OSError as exc:
            log.warning("cannot write %s: %s", self._sidecar.path, cause_of(exc))

    @property
    def _db(self) -> sqlite3.Connection:
        """The open database; :class:`NotOpenError` while it could not be opened."""
        if self._handle is None:
            raise NotOpenError(f"the outbox {self.path} is not open")
        return self._handle

    # -- opening ---------------------------------------------------------------------------------
    def _attach(self) -> None:
        """Open the file (raises :class:`OutboxError`) and continue the sequence above the
        database's, the numbers already handed out from memory and, for a fresh file, the
        sidecar's mark."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            cause = cause_of(exc)
            raise OutboxError(
                f"cannot create the outbox folder {self.path.parent}: {cause} ({exc.strerror}); "
                "check outbox.path and the state directory",
                cause,
            ) from exc
        self._handle = self._open()
        stored = int(self._db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])
        floor = max(self._seq, self._sidecar.seq if self._fresh else 0)
        self._seq = max(stored, floor)
        if floor > stored:
            self._persist_seq()  # a fresh outbox continues the old sequence

    def _open(self) -> sqlite3.Connection:
        """Open the file; move a damaged one aside; report a missing or empty one."""
        path = self.path
        self._fresh = False
        existed = path.exists() or path.is_symlink()
        try:
            empty = existed and path.is_file() and path.stat().st_size == 0
        except OSError:
            empty = False
        if empty or (not existed and self._sidecar.existed):
            what = "empty" if empty else "missing"
            self._note(
                f"outbox {path} was {what} although one existed (sequence had reached up to "
                f"{self._sidecar.seq}); a fresh outbox continues from there, anything it held is lost"
            )
        try:
            if path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "a directory is in its place", str(path))
            db = _connect(path)
        except (OSError, sqlite3.Error) as exc:
            cause = _refine(honest_cause(exc, path.parent), path)
            if not existed:
                _discard_empty(path)  # else the next attempt would report it "empty"
            if cause not in DAMAGED or not existed:
                raise OutboxError(
                    f"cannot open the outbox {path}: {cause} ({exc}); "
                    + advice(cause, path.parent),
                    cause,
                ) from exc
            try:
                aside = move_aside(path)
            except OSError as move_exc:
                raise OutboxError(
                    f"the outbox {path} is {cause} ({exc}) and cannot be moved aside: "
                    f"{cause_of(move_exc)}; " + advice(cause_of(move_exc), path.parent),
                    cause,
                ) from move_exc
            self._note(
                f"outbox {path} was {cause} ({exc}); moved aside to {aside} and a fresh one "
                "started (its unsent messages are in that file)"
            )
            try:
                db = _connect(path)
            except (OSError, sqlite3.Error) as exc2:
                cause2 = cause_of(exc2)
                raise OutboxError(
                    f"cannot create a fresh outbox {path}: {cause2} ({exc2}); "
                    + advice(cause2, path.parent),
                    cause2,
                ) from exc2
        if self.notices or not existed:
            self._fresh = True
        return db

    def _note(self, text: str) -> None:
        log.error("%s", text)
        self.notices.append(text)
        self._sidecar.resets += 1

    @property
    def resets(self) -> int:
        """Outboxes replaced by a fresh one (corrupt, empty or missing) since the sidecar exists."""
        return self._sidecar.resets

    # -- faults ----------------------------------------------------------------------------------
    @property
    def fault(self) -> str | None:
        """The current storage fault (``disk full``, ``read-only``, ...), None when writes work."""
        return self._fault

    def _failed(self, exc: BaseException, doing: str) -> StorageError:
        """Record the fault ``exc`` means (see :meth:`_faulted`)."""
        if isinstance(exc, OutboxError):  # opening failed: :meth:`_open` named the cause
            return self._faulted(exc.cause, doing, exc.__cause__ or exc)
        if isinstance(exc, NotOpenError):  # the fault that left it closed stands, nothing to probe
            cause = self._fault or "cannot open"
            return StorageError(f"outbox {doing} failed: {cause} (not open)", cause)
        return self._faulted(honest_cause(exc, self.path.parent), doing, exc)

    def _faulted(self, cause: str, doing: str, exc: BaseException | str) -> StorageError:
        """Record ``cause`` as the current fault; log it once when it changes."""
        if cause != self._fault:
            log.error(
                "outbox %s failed: %s (%s); events go straight to the broker or wait in memory "
                "meanwhile; %s",
                doing,
                cause,
                exc,
                advice(cause, self.path.parent),
            )
            self._fault_since = time.monotonic()
        self._fault = cause
        self._next_retry = time.monotonic() + RETRY_EVERY_S
        return StorageError(f"outbox {doing} failed: {cause}", cause)

    @property
    def advice(self) -> str | None:
        """What a technician does about the current fault, None when writes work."""
        return None if self._fault is None else advice(self._fault, self.path.parent)

    def _recovered(self) -> None:
        if self._fault is not None:
            log.warning(
                "outbox writable again after %.0f s (%s cleared)",
                time.monotonic() - self._fault_since,
                self._fault,
            )
            self._fault = None

    def _rollback(self) -> None:
        # SQLite may already have rolled back (SQLITE_FULL): a second ROLLBACK would raise
        # "cannot rollback - no transaction is active" and hide the real cause.
        with contextlib.suppress(sqlite3.Error):
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")

    def retry(self) -> None:
        """Once a second: retry failed deletes, and while faulted test whether writes work again.

        A probe write in the folder comes first: SQLite may commit a transaction that changed no page
        on a file system that refuses every write, which would clear the fault for a second and
        raise it again (a log storm). An outbox that could not be opened is opened (:meth:`_attach`);
        a file found corrupt while running is moved aside and replaced by a fresh one. Never raises.
        """
        with self._lock:
            if self._fault is None and not self._ack_backlog:
                return
            if self._fault is not None and time.monotonic() < self._next_retry:
                return
            if self._fault is not None and (still := probe(self.path.parent)) is not None:
                self._faulted(still, "retry", f"probe write in {self.path.parent}")
                return
            try:
                if self._handle is None:
                    self._attach()
                elif self._fault in DAMAGED:
                    self._replace_damaged()
                self._db.execute("BEGIN IMMEDIATE")
                self._persist_seq()
                self._flush_backlog()
                self._db.execute("COMMIT")
                self._sidecar.cover(self._seq)
            except (OutboxError, OSError, sqlite3.Error) as exc:
                self._rollback()
                self._failed(exc, "retry" if self._handle else f"open of {self.path}")
                return
            self._recovered()
            self._changes += 1  # reopened: messages kept in the file may be peeked again
            self._changed.notify_all()

    def _replace_damaged(self) -> None:
        """Move the damaged file aside and open a fresh one.

        The old connection is closed first (closing it later would remove the fresh file's WAL,
        which has the same name). When the move or the fresh open fails, the outbox stays not open
        and faulted (the next :meth:`retry` opens it), and the error propagates."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._handle = None
        if self.path.exists():
            aside = move_aside(self.path)
            self._note(
                f"outbox {self.path} became corrupt while running; moved aside to {aside} "
                "and a fresh one started"
            )
        self._handle = _connect(self.path)
        self._ack_backlog.clear()
        self._sidecar.save()

    def _persist_seq(self) -> None:
        self._db.execute("UPDATE meta SET value = MAX(value, ?) WHERE key = 'seq'", (self._seq,))

    def _flush_backlog(self) -> None:
        if self._ack_backlog:
            self._db.executemany(
                "DELETE FROM messages WHERE seq = ?", [(s,) for s in sorted(self._ack_backlog)]
            )
            self._ack_backlog.clear()

    # -- producer side ---------------------------------------------------------------------------
    def append(
        self, encode: Encoder, now: float | None = None, state: Mapping[str, str] | None = None
    ) -> int:
        """Allocate the next sequence number, encode, store; returns the sequence number.

        ``state`` entries (:meth:`load_state`) are saved in the same transaction.

        If ``encode`` raises, nothing is stored and the sequence number is not consumed. A storage
        failure raises :class:`StorageError` (nothing stored, the number not consumed).
        """
        created = time.time() if now is None else now
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                seq = self._next_seq()
                msg = encode(seq)
                self._db.execute(
                    "INSERT INTO messages (seq, created, topic, payload, retain, qos) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (seq, created, msg.topic, msg.payload, int(msg.retain), msg.qos),
                )
                self._save_locked(state or {})
                self._evict_locked(created)
                self._flush_backlog()
                self._sidecar.cover(seq)
                self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback()
                raise self._failed(exc, "write") from exc
            except BaseException:
                self._rollback()
                raise
            self._seq = seq
            self._changes += 1
            self._recovered()
            self._changed.notify_all()
            return seq

    def save_state(self, state: Mapping[str, str]) -> bool:
        """Save named state texts without a message (a periodic last-alive stamp). Never raises:
        False when the file cannot be written (the fault is reported like any write's)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._save_locked(state)
                self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback()
                log.debug("%s", self._failed(exc, "state write"))
                return False
            return True

    def load_state(self, key: str) -> str | None:
        """A state text saved under ``key``; None when there is none or it cannot be read."""
        with self._lock:
            try:
                row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            except (OSError, sqlite3.Error) as exc:
                log.warning("cannot read the saved %s: %s", key, exc)
                return None
        return None if row is None else str(row[0])

    def _save_locked(self, state: Mapping[str, str]) -> None:
        self._db.executemany(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            list(state.items()),
        )

    def reserve_seq(self) -> int:
        """Allocate a sequence number for a message published outside the queue (status, health).

        Never raises: while the file cannot be written the number comes from memory without touching
        the disk (the next successful write, or :meth:`retry`, persists it).
        """
        with self._lock:
            self._seq += 1
            if self._fault is not None:
                return self._seq
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._persist_seq()
                self._sidecar.cover(self._seq)
                self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback()
                self._failed(exc, "write")
            return self._seq

    def _next_seq(self) -> int:
        row = self._db.execute(
            "UPDATE meta SET value = MAX(value, ?) + 1 WHERE key = 'seq' RETURNING value",
            (self._seq,),
        ).fetchone()
        return int(row[0])

    def _evict_locked(self, now: float) -> None:
        cur = self._db.execute("DELETE FROM messages WHERE created < ?", (now - self.max_age_s,))
        aged = max(0, cur.rowcount)
        full = 0
        count = int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
        if count > self.max_messages:
            excess = count - self.max_messages
            cur = self._db.execute(
                "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages ORDER BY seq LIMIT ?)",
                (excess,),
            )
            full = max(0, cur.rowcount)
        if aged or full:
            self._db.execute(
                "UPDATE meta SET value = value + ? WHERE key = 'evicted'", (aged + full,)
            )
            self._log_eviction(aged, full)

    _evict_logged = 0.0

    def _log_eviction(self, aged: int, full: int) -> None:
        now = time.monotonic()
        if now - self._evict_logged >= 60.0:
            self._evict_logged = now
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

    def evict_expired(self, now: float | None = None) -> None:
        """Apply the age bound now (called periodically, so an idle device still ages out)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._evict_locked(time.time() if now is None else now)
                self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback()
                self._failed(exc, "eviction")

    # -- consumer side ---------------------------------------------------------------------------
    def peek(self, after: int = 0, limit: int = 20) -> list[StoredMessage]:
        """Up to ``limit`` oldest messages with ``seq > after``, in sequence order.

        A read failure returns nothing and sets :attr:`fault` (never raises).
        """
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT seq, created, topic, payload, retain, qos FROM messages "
                    "WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after, limit),
                ).fetchall()
            except (OSError, sqlite3.Error) as exc:
                self._failed(exc, "read")
                return []
        return [
            StoredMessage(r[0], r[1], WireMessage(r[2], bytes(r[3]), bool(r[4]), r[5]))
            for r in rows
            if r[0] not in self._ack_backlog
        ]

    @property
    def changes(self) -> int:
        """Appends and recoveries since this object was made (a mark for :meth:`wait`)."""
        with self._lock:
            return self._changes

    def wait(self, timeout: float, since: int | None = None) -> None:
        """Block until something was appended (or the outbox recovered) after the mark ``since``
        (:attr:`changes` read before the caller's last :meth:`peek`, so an append in between is
        not missed), or until any change when ``since`` is None, or until ``timeout`` passed."""
        with self._changed:
            if since is None:
                self._changed.wait(timeout)
            else:
                self._changed.wait_for(lambda: self._changes != since, timeout)

    def ack(self, seq: int) -> None:
        """The broker acknowledged ``seq``: delete it. Never raises (see :meth:`ack_many`)."""
        self.ack_many([seq])

    def ack_many(self, seqs: list[int]) -> None:
        """The broker acknowledged all of ``seqs``: delete them in one transaction (one sync to
        disk for the lot instead of one per message).

        Never raises: when the delete fails the numbers are remembered (not peeked again, so not
        re-sent by this process) and deleted by the next successful write or :meth:`retry`.
        """
        if not seqs:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("DELETE FROM messages WHERE seq = ?", [(s,) for s in seqs])
                self._flush_backlog()
                self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback()
                self._ack_backlog.update(seqs)
                self._failed(exc, "delete")

    # -- figures ---------------------------------------------------------------------------------
    def _read_figures(self) -> tuple[int, float | None, int]:
        with self._lock:
            try:
                depth, oldest = self._db.execute(
                    "SELECT COUNT(*), MIN(created) FROM messages"
                ).fetchone()
                evicted = self._db.execute(
                    "SELECT value FROM meta WHERE key = 'evicted'"
                ).fetchone()[0]
                self._figures = (int(depth), oldest, int(evicted))
            except (OSError, sqlite3.Error) as exc:
                self._failed(exc, "read")
            return self._figures

    def depth(self) -> int:
        return self._read_figures()[0]

    def oldest_age_s(self, now: float | None = None) -> float | None:
        oldest = self._read_figures()[1]
        if oldest is None:
            return None
        return max(0.0, (time.time() if now is None else now) - float(oldest))

    def evicted(self) -> int:
        return self._read_figures()[2]

    def last_seq(self) -> int:
        with self._lock:
            return self._seq

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
            cause = cause_of(exc)
            raise OutboxError(f"cannot read outbox {path}: {cause} ({exc})", cause) from exc
        return OutboxState(
            depth=int(depth),
            oldest_created=None if oldest is None else float(oldest),
            evicted=0 if row is None else int(row[0]),
        )

    def close(self) -> None:
        with self._lock:
            try:
                if self._fault is None:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._persist_seq()
                    self._flush_backlog()
                    self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback()
                log.error("outbox not flushed at close: %s", cause_of(exc))
            with contextlib.suppress(sqlite3.Error):
                self._db.close()


def _discard_empty(path: Path) -> None:
    """Remove the empty file (and WAL/SHM) a failed first open left where there was none."""
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        with contextlib.suppress(OSError):
            left = path.with_name(name)
            if left.is_file() and left.stat().st_size == 0:
                left.unlink()


def _refine(cause: str, path: Path) -> str:
    """SQLite says only 'cannot open' when the folder is on a read-only file system, and
    'read-only' when the file (or its WAL/SHM) belongs to another user: say which."""
    if cause in ("cannot open", "permission denied"):
        try:
            if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
                return "read-only"
        except OSError:
            pass
    if cause == "read-only":
        for name in (path.name, path.name + "-wal", path.name + "-shm"):
            try:
                os.close(os.open(path.with_name(name), os.O_WRONLY))  # opens, writes nothing
            except OSError as exc:
                if cause_of(exc) == "permission denied":
                    return "permission denied"
    return cause
