"""The outbox's SQLite file: its tables, opening it (a damaged one moved aside), a read-only look.

Tables: ``meta(key, value)`` holds ``seq`` (last allocated) and ``evicted``; ``messages(seq, created,
topic, payload, retain, qos, mono, boot)``; ``state(key, value)`` holds small named texts the service
keeps with the messages (:mod:`agent.wire.outbox_state`).

Two times per message: ``created`` is the wall clock when it was stored (a label only: it steps with
the clock), ``mono`` the monotonic clock then, on the boot ``boot`` (the kernel's boot id). Ages and
the age bound use ``mono``: ``CLOCK_MONOTONIC`` counts from the boot, for every process, so a
message's age survives a restart of the agent and no step of the wall clock moves it. A message from
an earlier boot (or a file older than these columns) is given a ``mono`` on this boot's clock when
the outbox opens (:func:`adopt`): its age then is what the wall clock says (never negative, at most
the age bound), and from there it grows with the monotonic clock.

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
import time
import uuid
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
    qos INTEGER NOT NULL,
    mono REAL,
    boot TEXT
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
    """POSIX time the oldest waiting message was stored (a label: the wall clock then); None when
    the queue is empty."""
    evicted: int
    """Messages dropped by the bounds since the file was created."""
    oldest_age_s: float | None = None
    """The oldest waiting message's age, on the monotonic clock where it can be (see the module);
    None when the queue is empty."""


Figures = tuple[int, float | None, int]
"""An outbox's depth, oldest message's ``mono`` stamp (None: empty) and evictions."""

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_PROCESS_BOOT = f"process-{uuid.uuid4()}"


def boot_id() -> str:
    """The kernel's boot id: ``CLOCK_MONOTONIC`` readings of the same boot compare. Without one
    (not Linux), this process's own id: every restart is then taken for a new boot."""
    try:
        return _BOOT_ID.read_text().strip() or _PROCESS_BOOT
    except OSError:
        return _PROCESS_BOOT


def _columns(db: sqlite3.Connection) -> set[str]:
    return {str(r[1]) for r in db.execute("PRAGMA table_info(messages)")}


def _add_clock_columns(db: sqlite3.Connection) -> None:
    """A file written before the monotonic stamps: add their columns (empty: :func:`adopt`)."""
    have = _columns(db)
    for column, kind in (("mono", "REAL"), ("boot", "TEXT")):
        if column not in have:
            db.execute(f"ALTER TABLE messages ADD COLUMN {column} {kind}")


def adopt(db: sqlite3.Connection, boot: str, mono: float, wall: float, max_age_s: float) -> int:
    """Give every message not stamped on this boot's monotonic clock (an earlier boot, a file from
    before the stamps, a stamp ahead of the clock) a stamp on it: its age now is the wall clock's
    ``wall - created``, never negative and at most ``max_age_s`` (a clock days behind after a boot
    without a battery makes messages look new, never in the future; a clock far ahead cannot make
    them older than the bound). From then on the age grows with the monotonic clock only, so the
    NTP step that follows such a boot does not move it. Returns the messages adopted (inside the
    caller's transaction)."""
    cur = db.execute(
        "UPDATE messages SET mono = ? - MAX(0.0, MIN(?, ? - created)), boot = ? "
        "WHERE boot IS NULL OR boot != ? OR mono IS NULL OR mono > ?",
        (mono, max_age_s, wall, boot, boot, mono),
    )
    return max(0, cur.rowcount)


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
        _add_clock_columns(db)
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
    """Depth, oldest ``mono`` stamp and evictions of the open outbox (raises on a read error)."""
    depth, oldest = db.execute("SELECT COUNT(*), MIN(mono) FROM messages").fetchone()
    evicted = db.execute("SELECT value FROM meta WHERE key = 'evicted'").fetchone()[0]
    return int(depth), oldest, int(evicted)


def discard_empty(path: Path) -> None:
    """Remove the empty file (and WAL/SHM) a failed first open left where there was none."""
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        with contextlib.suppress(OSError):
            left = path.with_name(name)
            if left.is_file() and left.stat().st_size == 0:
                left.unlink()


def _oldest_age(
    db: sqlite3.Connection, boot: str, mono: float, wall: float, max_age_s: float
) -> float | None:
    """The oldest message's age as the agent would count it (:func:`adopt`), read only."""
    if not {"mono", "boot"} <= _columns(db):
        ours, theirs = None, db.execute("SELECT MIN(created) FROM messages").fetchone()[0]
    else:
        ours, theirs = db.execute(
            "SELECT MIN(CASE WHEN boot = ? AND mono <= ? THEN mono END), "
            "MIN(CASE WHEN boot IS NULL OR boot != ? OR mono IS NULL OR mono > ? "
            "THEN created END) FROM messages",
            (boot, mono, boot, mono),
        ).fetchone()
    ages = [mono - float(ours)] if ours is not None else []
    if theirs is not None:
        ages.append(max(0.0, min(max_age_s, wall - float(theirs))))
    return max(ages) if ages else None


def inspect(
    path: Path,
    timeout_s: float = 2.0,
    max_age_s: float = 7 * 86400.0,
    clocks: tuple[Callable[[], float], Callable[[], float], str] | None = None,
) -> OutboxState:
    """Read-only look at an outbox file that another process (the agent) may own.

    Opens the file read-only (never creates, migrates or writes it); raises :class:`OutboxError`
    when it cannot be read. ``clocks``: the monotonic clock, the wall clock and the boot id (a
    test's; the system's by default) for the oldest message's age.
    """
    mono, wall, boot = clocks or (time.monotonic, time.time, boot_id())
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_s)
        try:
            depth, oldest = db.execute("SELECT COUNT(*), MIN(created) FROM messages").fetchone()
            row = db.execute("SELECT value FROM meta WHERE key = 'evicted'").fetchone()
            age = _oldest_age(db, boot, mono(), wall(), max_age_s)
        finally:
            db.close()
    except sqlite3.Error as exc:
        cause = cause_of(exc)
        raise OutboxError(f"cannot read outbox {path}: {cause} ({exc})", cause) from exc
    return OutboxState(
        depth=int(depth),
        oldest_created=None if oldest is None else float(oldest),
        evicted=0 if row is None else int(row[0]),
        oldest_age_s=age,
    )
