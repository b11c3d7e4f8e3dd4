"""The outbox's SQLite file: its tables, opening it (a damaged one moved aside), a read-only look.

Tables: ``meta(key, value)`` holds ``seq`` (last allocated) and ``evicted``; ``messages(seq, created,
topic, payload, retain, qos)``; ``state(key, value)`` holds small named texts the service keeps with
the messages (:mod:`agent.wire.outbox_state`).

At start a damaged outbox (not a database, malformed, a directory in its place) is moved aside to
``<path>.corrupt-<time>`` and a fresh one continues the sequence from the sidecar's high-water mark;
an outbox that is missing or empty although one existed is reported too (each through ``note``:
:attr:`Outbox.notices`, :attr:`Outbox.resets`). A file that cannot be opened or created at all
raises :class:`OutboxError` naming the cause (the outbox then starts *not open*, faulted).
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.wire.outbox_faults import OutboxError, refine
from agent.wire.storage import (
    DAMAGED,
    DamagedError,
    Sidecar,
    advice,
    cause_of,
    honest_cause,
    move_aside,
)

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


@dataclass(frozen=True, slots=True)
class OutboxState:
    """What :func:`inspect` saw in an outbox file."""

    depth: int
    """Messages waiting for the broker."""
    oldest_created: float | None
    """POSIX time the oldest waiting message was stored; None when the queue is empty."""
    evicted: int
    """Messages dropped by the bounds since the file was created."""


Figures = tuple[int, float | None, int]
"""An outbox's depth, oldest message's creation time (None: empty) and evictions."""


def make_folder(path: Path) -> None:
    """Create the outbox's folder (raises :class:`OutboxError` naming the cause)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        cause = cause_of(exc)
        raise OutboxError(
            f"cannot create the outbox folder {path.parent}: {cause} ({exc.strerror}); "
            "check outbox.path and the state directory",
            cause,
        ) from exc


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) the database at ``path`` and check it; raises when it is unusable."""
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


def open_file(
    path: Path, sidecar: Sidecar, note: Callable[[str], None]
) -> tuple[sqlite3.Connection, bool]:
    """Open the file; move a damaged one aside; report a missing or empty one (``note``).

    Returns the connection and whether the file is fresh (its sequence continues the sidecar's).
    Raises :class:`OutboxError` when no usable file can be opened."""
    noted = False
    existed = path.exists() or path.is_symlink()
    try:
        empty = existed and path.is_file() and path.stat().st_size == 0
    except OSError:
        empty = False
    if empty or (not existed and sidecar.existed):
        what = "empty" if empty else "missing"
        noted = True
        note(
            f"outbox {path} was {what} although one existed (sequence had reached up to "
            f"{sidecar.seq}); a fresh outbox continues from there, anything it held is lost"
        )
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "a directory is in its place", str(path))
        db = connect(path)
    except (OSError, sqlite3.Error) as exc:
        cause = refine(honest_cause(exc, path.parent), path)
        if not existed:
            discard_empty(path)  # else the next attempt would report it "empty"
        if cause not in DAMAGED or not existed:
            raise OutboxError(
                f"cannot open the outbox {path}: {cause} ({exc}); " + advice(cause, path.parent),
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
        noted = True
        note(
            f"outbox {path} was {cause} ({exc}); moved aside to {aside} and a fresh one "
            "started (its unsent messages are in that file)"
        )
        try:
            db = connect(path)
        except (OSError, sqlite3.Error) as exc2:
            cause2 = cause_of(exc2)
            raise OutboxError(
                f"cannot create a fresh outbox {path}: {cause2} ({exc2}); "
                + advice(cause2, path.parent),
                cause2,
            ) from exc2
    return db, noted or not existed


def replace_damaged(path: Path, note: Callable[[str], None]) -> sqlite3.Connection:
    """Move a file found damaged while running aside (its connection already closed) and open a
    fresh one (raises when the move or the open fails)."""
    if path.exists():
        aside = move_aside(path)
        note(
            f"outbox {path} became corrupt while running; moved aside to {aside} "
            "and a fresh one started"
        )
    return connect(path)


def read_figures(db: sqlite3.Connection) -> Figures:
    """Depth, oldest creation time and evictions of the open outbox (raises on a read error)."""
    depth, oldest = db.execute("SELECT COUNT(*), MIN(created) FROM messages").fetchone()
    evicted = db.execute("SELECT value FROM meta WHERE key = 'evicted'").fetchone()[0]
    return int(depth), oldest, int(evicted)


def discard_empty(path: Path) -> None:
    """Remove the empty file (and WAL/SHM) a failed first open left where there was none."""
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        with contextlib.suppress(OSError):
            left = path.with_name(name)
            if left.is_file() and left.stat().st_size == 0:
                left.unlink()


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
