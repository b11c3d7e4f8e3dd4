"""The wire package's one exception base: every error this package raises derives from it.

Its subclasses keep the standard bases their callers catch (``sqlite3.Error``, ``ValueError``):
:class:`~agent.wire.contract.PayloadTooLargeError`, :class:`~agent.wire.storage.DamagedError`,
:class:`~agent.wire.outbox_faults.OutboxError` (and its :class:`~agent.wire.outbox_faults.StorageError`)
and :class:`~agent.wire.outbox_faults.NotOpenError`.
"""

from __future__ import annotations


class WireError(Exception):
    """Something the wire package (outbox, contract, storage) cannot do; the subclass says what."""
