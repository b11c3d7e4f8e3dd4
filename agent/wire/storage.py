"""Storage faults of the outbox: naming their cause, the high-water-mark sidecar, moving files aside.

- :func:`cause_of` turns an ``sqlite3`` or ``OS`` error into the words a technician acts on
  (``disk full``, ``read-only``, ``I/O error``, ``corrupt``, ``permission denied``...), from SQLite's
  primary result code or the errno, never from the (sometimes misleading) message text.
- :func:`probe` and :func:`honest_cause` check SQLite's word against the file system's: at run time
  a database on a file system the kernel remounted read-only after an error fails with
  ``SQLITE_IOERR``, and one on a device that stopped answering reads as ``SQLITE_CORRUPT``; a
  one-byte write in the folder gets the real errno (``EROFS``, ``EIO``), so the cause reported is
  ``read-only`` or ``I/O error``, and a healthy file is never moved aside as corrupt.
- :func:`advice` says what a technician does about each cause.
- :class:`Sidecar` is a tiny JSON file beside the outbox (``<outbox>.hwm``), replaced atomically
  (write, fsync, rename, fsync the folder). It holds a sequence number at or above every number the
  outbox ever handed out (reserved in blocks of :data:`SEQ_BLOCK`, so it is written once per block,
  not per event) and the count of outboxes that were replaced. A fresh outbox, after the old one was
  found corrupt, empty or missing, continues the sequence from there: ``seq`` never goes back.
- :func:`move_aside` renames a damaged outbox (and its ``-wal``/``-shm`` files) to
  ``<outbox>.corrupt-<UTC time>`` so it is kept for forensics and a fresh one can be created.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from agent.wire.errors import WireError

SEQ_BLOCK = 1000
"""Sequence numbers reserved per sidecar write."""

_SQLITE_CAUSES = {
    13: "disk full",  # SQLITE_FULL
    8: "read-only",  # SQLITE_READONLY
    10: "I/O error",  # SQLITE_IOERR
    11: "corrupt",  # SQLITE_CORRUPT
    26: "corrupt",  # SQLITE_NOTADB
    14: "cannot open",  # SQLITE_CANTOPEN
    3: "permission denied",  # SQLITE_PERM
    23: "permission denied",  # SQLITE_AUTH
    5: "locked",  # SQLITE_BUSY
    6: "locked",  # SQLITE_LOCKED
}
_ERRNO_CAUSES = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk full",
    errno.EROFS: "read-only",
    errno.EIO: "I/O error",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "corrupt",  # a directory where the outbox file should be
    errno.ENOTDIR: "cannot open",
    errno.EEXIST: "cannot open",  # a file where a folder should be
}

PROBE_NAME = ".triage-agent-probe"
"""The file :func:`probe` writes and removes in the outbox's folder."""

DAMAGED = frozenset({"corrupt"})
"""Causes that mean the file itself is damaged (move it aside), not its surroundings."""


class DamagedError(WireError, sqlite3.DatabaseError):
    """SQLite opened the file but its integrity check failed."""


CAUSES = (
    "disk full",
    "read-only",
    "I/O error",
    "corrupt",
    "locked",
    "permission denied",
    "cannot open",
    "storage error",
)
"""Every cause :func:`cause_of` returns (``storage error``: anything else; the log has the text)."""


def cause_of(exc: BaseException) -> str:
    """One of :data:`CAUSES`: ``disk full``, ``read-only``, ``I/O error``, ``corrupt``..."""
    if isinstance(exc, DamagedError):
        return "corrupt"
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _SQLITE_CAUSES:
            return _SQLITE_CAUSES[code & 0xFF]
    elif isinstance(exc, OSError) and exc.errno in _ERRNO_CAUSES:
        return _ERRNO_CAUSES[exc.errno]
    return "storage error"


_TRUSTED = frozenset({"disk full", "locked"})
"""Causes SQLite names reliably (a probe write on a full disk would only make it fuller)."""


def probe(folder: Path) -> str | None:
    """Write, sync and remove a one-byte file in ``folder``: the cause when the file system refuses
    (``read-only``, ``I/O error``, ``disk full``, ``permission denied``...), None when it works or
    fails for a reason that names nothing (the caller keeps its own cause)."""
    path = folder / PROBE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(path)
    except OSError as exc:
        cause = cause_of(exc)
        return None if cause == "storage error" else cause
    return None


def honest_cause(exc: BaseException, folder: Path) -> str:
    """:func:`cause_of`, checked by a :func:`probe` of ``folder`` unless SQLite's word is reliable:
    ``I/O error`` from an open database on a file system gone read-only becomes ``read-only``,
    ``corrupt`` from a device that stopped answering becomes ``I/O error``."""
    cause = cause_of(exc)
    if cause in _TRUSTED:
        return cause
    return probe(folder) or cause


def advice(cause: str, folder: Path) -> str:
    """What a technician does about a storage ``cause`` on the file system of ``folder``."""
    if cause == "disk full":
        return (
            f"free space on the file system of {folder} (`df -h {folder}`); a running agent "
            "resumes by itself"
        )
    if cause == "read-only":
        return (
            f"the file system of {folder} is read-only (remounted after an SD card or disk error?): "
            "check `mount` and dmesg, fsck or replace the card, then restart the agent"
        )
    if cause == "I/O error":
        return (
            f"the storage of {folder} is failing: check dmesg, replace the SD card or disk, then "
            "restart the agent"
        )
    if cause == "permission denied":
        return (
            f"{folder} or a file in it does not belong to the agent's user (created by a command "
            f"run with sudo?): `sudo chown -R triage-agent: {folder}`; a running agent opens the "
            "outbox by itself once fixed"
        )
    if cause == "cannot open":
        return f"check outbox.path and that {folder} is a folder writable by the agent's user"
    return "check outbox.path and the state directory (see journalctl -u triage-agent)"


@dataclass
class Sidecar:
    """``<outbox>.hwm``: the sequence high-water mark and the count of replaced outboxes."""

    path: Path
    seq: int = 0
    resets: int = 0
    existed: bool = False
    """The file was there when loaded (so an outbox existed before)."""

    @classmethod
    def beside(cls, outbox: Path) -> Sidecar:
        """Load the sidecar of ``outbox`` (an unreadable or damaged one counts as absent)."""
        path = outbox.with_name(outbox.name + ".hwm")
        try:
            doc = json.loads(path.read_text("utf-8"))
            return cls(path, int(doc["seq"]), int(doc.get("resets", 0)), existed=True)
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path, existed=True)

    def save(self) -> None:
        """Replace the file atomically (raises OSError, e.g. ENOSPC)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = json.dumps({"seq": self.seq, "resets": self.resets}).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self.existed = True

    def cover(self, seq: int) -> None:
        """Make sure the mark is at or above ``seq`` (writes only when a new block is needed)."""
        if seq > self.seq:
            old = self.seq
            self.seq = seq + SEQ_BLOCK
            try:
                self.save()
            except OSError:
                self.seq = old
                raise


def move_aside(path: Path, now: float | None = None) -> Path:
    """Rename ``path`` (file or directory) and its WAL/SHM files to ``<path>.corrupt-<time>``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            os.replace(extra, target.with_name(target.name + suffix))
    return target
