"""The durable outbox: an on-disk SQLite (WAL) queue between events and MQTT.

Every event is encoded and written here first, in one transaction with the next value of the
device's sequence counter, so the sequence is monotonic and survives restarts. The publisher reads
messages in sequence order and deletes each one only after the broker acknowledged it (QoS 1 PUBACK),
several acknowledged messages in one transaction (:meth:`Outbox.ack_many`).
A broker outage or a killed process loses nothing; on restart the queue replays in order.

Bounds: at most ``max_messages`` rows and nothing older than ``max_age_s``; the oldest are evicted
first and counted (:mod:`agent.wire.outbox_bounds`). Ages (the age bound, ``outbox_oldest_s``) run
on the monotonic clock; the wall clock only labels a message (``created``), see
:mod:`agent.wire.outbox_file`. Writes are
single-row inserts with ``synchronous=FULL``: a few milliseconds on an SD card, far below the event
rate, and the sensing threads never touch the outbox (only the main loop does), so it never blocks
sensing.

Modules: the fault machine (storage faults named, retried, never a crash) is
:mod:`agent.wire.outbox_faults`; the file (tables, opening, a damaged one moved aside, the read-only
:func:`~agent.wire.outbox_file.inspect`) is :mod:`agent.wire.outbox_file`; the service's state
texts (the summary tally), written in the same transaction as the message that changed them
(:meth:`Outbox.append` with ``state``), are :mod:`agent.wire.outbox_state` (``outbox.state``). This
module is the queue and the sequence allocator. An outbox that cannot be opened at start does not
raise: it starts *not open*, faulted as after a failed write (numbers handed out from memory above
the sidecar's mark), and :meth:`Outbox.retry` opens it once the folder takes a probe write again.

One module because the queue and the sequence allocator are one :class:`Outbox`: one SQLite
connection and one lock, and each append writes the message and its sequence number in one
transaction; the jobs beside it (faults, file, state, bounds) are already modules of their own.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.wire import outbox_state
from agent.wire.contract import WireMessage
from agent.wire.outbox_bounds import Bounds
from agent.wire.outbox_faults import (
    Faults,
    NotOpenError,
    OutboxError,
    StorageError,
)
from agent.wire.outbox_file import (
    Figures,
    adopt,
    boot_id,
    inspect,
    make_folder,
    open_file,
    read_figures,
    replace_damaged,
)
from agent.wire.outbox_state import StateStore
from agent.wire.storage import DAMAGED, Sidecar, cause_of, probe

__all__ = ["Encoder", "Outbox", "OutboxError", "StorageError", "StoredMessage"]

log = logging.getLogger(__name__)

Encoder = Callable[[int], WireMessage]
"""Builds the wire message once the sequence number is known."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message waiting in the outbox."""

    seq: int
    created: float
    message: WireMessage


class Outbox:
    """A bounded, durable FIFO of wire messages keyed by sequence number. Thread-safe."""

    def __init__(
        self,
        path: Path,
        max_messages: int = 100_000,
        max_age_s: float = 7 * 86400.0,
        mono: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        boot: str | None = None,
    ) -> None:
        """``mono``, ``wall`` and ``boot``: the monotonic clock (ages, the age bound), the wall
        clock (a message's label, ``created``) and the boot id the monotonic clock counts from (a
        test's; the system's by default)."""
        self.path = path
        self._mono = mono
        self._wall = wall
        self.boot = boot_id() if boot is None else boot
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self._bounds = Bounds(max_messages, max_age_s)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._changes = 0
        self.notices: list[str] = []
        """What happened to the previous outbox at start (moved aside, missing, empty)."""
        self._faults = Faults(path)
        self._ack_backlog: set[int] = set()
        self._figures: Figures = (0, None, 0)
        """depth, oldest ``mono`` stamp, evicted: the last values read."""
        self._handle: sqlite3.Connection | None = None
        self._sidecar = Sidecar.beside(path)
        self._seq = 0
        self._fresh = False
        self.state = StateStore(self._lock, lambda: self._db, self._failed, self._rollback)
        """The service's named state texts (the summary tally) in the same file."""
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
        make_folder(self.path)
        self._handle, fresh = open_file(self.path, self._sidecar, self._note)
        self._fresh = fresh or bool(self.notices)
        stored = int(self._db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])
        floor = max(self._seq, self._sidecar.seq if self._fresh else 0)
        self._seq = max(stored, floor)
        if floor > stored:
            self._persist_seq()  # a fresh outbox continues the old sequence
        self._adopt()

    def _adopt(self) -> None:
        """Messages from an earlier boot get a stamp on this boot's monotonic clock (raises)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            n = adopt(self._db, self.boot, self._mono(), self._wall(), self.max_age_s)
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        if n:
            log.info(
                "outbox: %d message(s) from before this boot, aged by the wall clock now and on "
                "the monotonic clock from here",
                n,
            )

    def _note(self, text: str) -> None:
        log.error("%s", text)
        self.notices.append(text)
        self._sidecar.resets += 1

    @property
    def resets(self) -> int:
        """Outboxes replaced by a fresh one (corrupt, empty or missing) since the sidecar exists."""
        return self._sidecar.resets

    # -- faults (agent.wire.outbox_faults) -------------------------------------------------------
    @property
    def fault(self) -> str | None:
        """The current storage fault (``disk full``, ``read-only``, ...), None when writes work."""
        return self._faults.cause

    @property
    def advice(self) -> str | None:
        """What a technician does about the current fault, None when writes work."""
        return self._faults.advice

    def _failed(self, exc: BaseException, doing: str) -> StorageError:
        return self._faults.failed(exc, doing)

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
            if self.fault is None and not self._ack_backlog:
                return
            if self.fault is not None and not self._faults.due():
                return
            if self.fault is not None and (still := probe(self.path.parent)) is not None:
                self._faults.faulted(still, "retry", f"probe write in {self.path.parent}")
                return
            try:
                if self._handle is None:
                    self._attach()
                elif self.fault in DAMAGED:
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
            self._faults.recovered()
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
        self._handle = replace_damaged(self.path, self._note)
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

        ``state`` entries (:attr:`state`) are saved in the same transaction. ``now``: the wall
        clock's label for the message (``created``; the wall clock by default); its age counts on
        the monotonic clock whatever ``now`` says.

        If ``encode`` raises, nothing is stored and the sequence number is not consumed. A storage
        failure raises :class:`StorageError` (nothing stored, the number not consumed).
        """
        created = self._wall() if now is None else now
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                seq = self._next_seq()
                msg = encode(seq)
                mono = self._mono()
                self._db.execute(
                    "INSERT INTO messages (seq, created, topic, payload, retain, qos, mono, boot) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        created,
                        msg.topic,
                        msg.payload,
                        int(msg.retain),
                        msg.qos,
                        mono,
                        self.boot,
                    ),
                )
                outbox_state.write(self._db, state or {})
                self._bounds.apply(self._db, mono)
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
            self._faults.recovered()
            self._changed.notify_all()
            return seq

    def reserve_seq(self) -> int:
        """Allocate a sequence number for a message published outside the queue (status, health).

        Never raises: while the file cannot be written the number comes from memory without touching
        the disk (the next successful write, or :meth:`retry`, persists it).
        """
        with self._lock:
            self._seq += 1
            if self.fault is not None:
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

    def evict_expired(self) -> None:
        """Apply the age bound now (called periodically, so an idle device still ages out)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._bounds.apply(self._db, self._mono())
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
    def _read_figures(self) -> Figures:
        with self._lock:
            try:
                self._figures = read_figures(self._db)
            except (OSError, sqlite3.Error) as exc:
                self._failed(exc, "read")
            return self._figures

    def depth(self) -> int:
        return self._read_figures()[0]

    def oldest_age_s(self) -> float | None:
        """Seconds the oldest waiting message has waited, on the monotonic clock (None: empty)."""
        oldest = self._read_figures()[1]
        if oldest is None:
            return None
        return max(0.0, self._mono() - float(oldest))

    def evicted(self) -> int:
        return self._read_figures()[2]

    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    inspect = staticmethod(inspect)
    """Read-only look at an outbox file another process may own (:func:`outbox_file.inspect`)."""

    def close(self) -> None:
        with self._lock:
            try:
                if self.fault is None:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._persist_seq()
                    self._flush_backlog()
                    self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as exc:
                self._rollback()
                log.error("outbox not flushed at close: %s", cause_of(exc))
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
