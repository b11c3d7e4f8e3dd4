"""PUBACK bookkeeping: which outbox messages are in flight, and deleting them once acknowledged.

The publisher's drain thread hands outbox messages to paho (at most ``WINDOW`` in flight) and
records each here with paho's message id (:meth:`AckLedger.sent`); the network thread reports each
PUBACK (:meth:`AckLedger.acknowledged`), which may arrive before the drain thread has recorded the
message ("early": kept until it is). Messages published outside the outbox (availability, discovery,
health while the outbox fails: :meth:`AckLedger.direct`) are acknowledged without touching it. A
refused message (MQTT 5 reason code >= 0x80) is logged and counted, never retried. Acknowledged
messages are deleted from the outbox in batches (:meth:`AckLedger.flush`: one transaction each).

Shares the publisher's lock (``lock``): the drain thread's window (``room``) waits on it.
"""

from __future__ import annotations

import logging
import threading
import time

from paho.mqtt.reasoncodes import ReasonCode

from agent.wire.contract import WireMessage
from agent.wire.outbox import Outbox

log = logging.getLogger("agent.wire.publisher")  # the publisher's lines keep one logger name

ACK_BATCH = 100
"""Acknowledged messages are deleted from the outbox in batches of up to this many..."""
ACK_FLUSH_S = 0.05
"""...or after this long, whichever comes first (one disk sync per batch, not per message)."""


class AckLedger:
    """The outbox messages in flight, early PUBACKs, direct publishes, deletions to make."""

    def __init__(self, outbox: Outbox, lock: threading.Lock) -> None:
        self._outbox = outbox
        self.lock = lock
        self.room = threading.Condition(lock)
        """Notified when a PUBACK frees a place in the window."""
        self.inflight: dict[int, tuple[int, WireMessage]] = {}
        """paho message id -> (outbox seq, message), handed to paho and not yet acknowledged."""
        self._early: dict[int, ReasonCode | None] = {}
        self._direct: set[int] = set()
        self._acked: list[int] = []
        self._acked_at = 0.0
        self.rejected = 0
        """Messages the broker refused (MQTT 5 PUBACK reason code >= 0x80), dropped after logging."""
        self.acknowledged = 0
        """Outbox messages the broker acknowledged since start."""

    def direct(self, mid: int) -> None:
        """A message published outside the outbox (its PUBACK is not tracked there)."""
        with self.lock:
            if mid in self._early:  # acknowledged before we got here
                del self._early[mid]
            else:
                self._direct.add(mid)

    def sent(self, mid: int, seq: int, msg: WireMessage) -> None:
        """Outbox message ``seq`` handed to paho as ``mid`` (the caller holds no lock)."""
        with self.lock:
            acked_early = mid in self._early  # PUBACK beat us to the bookkeeping
            early_rc = self._early.pop(mid, None)
            if not acked_early:
                self.inflight[mid] = (seq, msg)
        if acked_early:
            self.settle(seq, msg, early_rc)

    def acknowledged_mid(self, mid: int, reason_code: ReasonCode) -> None:
        """The broker's PUBACK for ``mid`` (network thread)."""
        with self.lock:
            if mid in self._direct:
                self._direct.discard(mid)
                return
            entry = self.inflight.pop(mid, None)
            if entry is None:
                self._early[mid] = reason_code
                return
            self.room.notify()
        self.settle(entry[0], entry[1], reason_code)

    def settle(self, seq: int, msg: WireMessage, reason_code: ReasonCode | None) -> None:
        """``seq`` is done: refused (logged, counted) or delivered; delete it with the batch."""
        if reason_code is not None and reason_code.is_failure:
            log.error(
                "broker refused message seq=%d on %s: %s; check the broker ACL allows this topic",
                seq,
                msg.topic,
                reason_code,
            )
            with self.lock:
                self.rejected += 1
        with self.lock:
            if not self._acked:
                self._acked_at = time.monotonic()
            self._acked.append(seq)
            full = len(self._acked) >= ACK_BATCH
        if full:
            self.flush()

    def flush_due(self) -> tuple[bool, bool]:
        """(deletions pending, the oldest waited :data:`ACK_FLUSH_S` or more)."""
        with self.lock:
            pending = bool(self._acked)
            return pending, pending and time.monotonic() - self._acked_at >= ACK_FLUSH_S

    def flush(self) -> None:
        """Delete the acknowledged messages collected so far (one outbox transaction)."""
        with self.lock:
            seqs, self._acked = self._acked, []
            self.acknowledged += len(seqs)
        self._outbox.ack_many(seqs)
