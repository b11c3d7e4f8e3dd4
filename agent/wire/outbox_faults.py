"""The outbox's fault machine: which storage fault stands, since when, when to retry, what to say.

Storage faults never escape the outbox as a crash (:mod:`agent.wire.outbox`):

- Only :meth:`Outbox.append` raises (:class:`StorageError`, naming the cause: ``disk full``,
  ``read-only``, ``I/O error``, ``corrupt``); the caller keeps the event and retries.
- :meth:`Outbox.ack` never raises: a delete that fails is remembered and retried, so a message is
  not re-sent by this process (it may be once after a restart: at-least-once).
- :meth:`Outbox.reserve_seq` never raises: while the file cannot be written it hands out numbers
  from memory, and the next successful write persists the highest one.
- The figures (:meth:`Outbox.depth`, ...) never raise: they return the last value read.
- :attr:`Outbox.fault` (:attr:`Faults.cause`) names the current fault, checked against the file
  system (:func:`agent.wire.storage.honest_cause`: a read-only remount or a failing device is named
  as such, never as ``corrupt``); :meth:`Outbox.retry` (called once a second, :meth:`Faults.due`)
  clears it as soon as a probe write in the folder and a database write both succeed again.

:class:`Faults` holds the state (cause, since, next retry) and logs each change once; the outbox
calls it under its own lock.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from agent.wire.errors import WireError
from agent.wire.storage import advice, cause_of, honest_cause

log = logging.getLogger("agent.wire.outbox")

RETRY_EVERY_S = 1.0
"""While faulted, :meth:`Outbox.retry` tries a write at most this often."""


class OutboxError(WireError):
    """The outbox file cannot be opened or written; ``cause`` says why (``disk full``...)."""

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause or message


class StorageError(OutboxError):
    """A write failed; the outbox stays usable and :meth:`Outbox.retry` clears the fault."""


class NotOpenError(WireError, sqlite3.OperationalError):
    """The file is not open (it could not be opened or created): raised by every use of the
    database, so the handlers that catch ``sqlite3.Error`` treat it as the fault it is."""


class Faults:
    """The current storage fault of the outbox at ``path`` (not thread-safe: the outbox's lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cause: str | None = None
        """The current storage fault (``disk full``, ``read-only``, ...), None when writes work."""
        self._since = 0.0
        self._next_retry = 0.0

    def failed(self, exc: BaseException, doing: str) -> StorageError:
        """Record the fault ``exc`` means (see :meth:`faulted`)."""
        if isinstance(exc, OutboxError):  # opening failed: the opener named the cause
            return self.faulted(exc.cause, doing, exc.__cause__ or exc)
        if isinstance(exc, NotOpenError):  # the fault that left it closed stands, nothing to probe
            cause = self.cause or "cannot open"
            return StorageError(f"outbox {doing} failed: {cause} (not open)", cause)
        return self.faulted(honest_cause(exc, self.path.parent), doing, exc)

    def faulted(self, cause: str, doing: str, exc: BaseException | str) -> StorageError:
        """Record ``cause`` as the current fault; log it once when it changes."""
        if cause != self.cause:
            log.error(
                "outbox %s failed: %s (%s); events go straight to the broker or wait in memory "
                "meanwhile; %s",
                doing,
                cause,
                exc,
                advice(cause, self.path.parent),
            )
            self._since = time.monotonic()
        self.cause = cause
        self._next_retry = time.monotonic() + RETRY_EVERY_S
        return StorageError(f"outbox {doing} failed: {cause}", cause)

    def due(self) -> bool:
        """Whether a faulted outbox may try a write again (at most every :data:`RETRY_EVERY_S`)."""
        return time.monotonic() >= self._next_retry

    @property
    def advice(self) -> str | None:
        """What a technician does about the current fault, None when writes work."""
        return None if self.cause is None else advice(self.cause, self.path.parent)

    def recovered(self) -> None:
        """A write succeeded: clear the fault (logged once)."""
        if self.cause is not None:
            log.warning(
                "outbox writable again after %.0f s (%s cleared)",
                time.monotonic() - self._since,
                self.cause,
            )
            self.cause = None


def refine(cause: str, path: Path) -> str:
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
