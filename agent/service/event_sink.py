"""Where the main loop's events go: the outbox, or, while it cannot be written, the broker or memory.

Each event is written to the outbox with the state it changed (the summary tally's, through
``state_for``). While the outbox cannot be written (disk full, read-only, I/O error) events go
straight to the broker when it is connected (:meth:`EventSink.publish_kept_directly`), else wait in
memory, in order, up to :data:`KEPT_MAX` (beyond, the oldest are dropped and counted) until the
broker or the outbox takes them. Never raises for a storage fault.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from functools import partial

from agent.flow.events import Event
from agent.wire.contract import Identity, PayloadTooLargeError, WireMessage, encode
from agent.wire.outbox import Outbox, StorageError
from agent.wire.publisher import Publisher

log = logging.getLogger("agent.service.pipeline")  # the main loop's lines keep one logger name

KEPT_MAX = 2000
"""Events kept in memory while the outbox cannot be written (oldest dropped and counted beyond)."""
LOG_EVERY_S = 60.0


class EventSink:
    """Stores events in the outbox, with the memory and direct-publish fallbacks."""

    def __init__(
        self,
        outbox: Outbox,
        publisher: Publisher | None,
        identity: Identity,
        count_drop: Callable[[], None],
        state_for: Callable[[Event], dict[str, str] | None],
        on_error: Callable[[str], None],
    ) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.identity = identity
        self._count_drop = count_drop
        """Counts an event lost (the engine's drop count)."""
        self._state_for = state_for
        self._on_error = on_error
        """Told why a write failed (the service's ``last_error``)."""
        self._kept: deque[Event] = deque()
        self.stored = 0
        """Events written to the outbox since start (the fault suite's 'produced')."""
        self.published_directly = 0
        """Events sent straight to the broker because the outbox could not be written."""
        self._kept_logged = 0.0

    def put(self, event: Event) -> None:
        """Keep ``event`` (in order, bounded) and store what is kept."""
        self._kept.append(event)
        if len(self._kept) > KEPT_MAX:
            self._kept.popleft()
            self._count_drop()
            self._log_kept("outbox still failing: dropped the oldest event kept in memory")
        self.store_kept()

    def store_kept(self) -> None:
        """Store the events kept in memory, oldest first, until one fails."""
        while self._kept:
            event = self._kept[0]
            try:
                self.outbox.append(partial(self._encode, event), state=self._state_for(event))
            except PayloadTooLargeError as exc:
                log.error("event not stored: %s", exc)
                self._count_drop()
                self._kept.popleft()
                continue  # dropped, not stored
            except StorageError as exc:
                error = f"outbox write failed: {exc.cause}"
                self._on_error(error)
                self.publish_kept_directly()
                self._log_kept(
                    f"{error}; sensing continues: events go straight to the broker while "
                    f"it is connected ({self.published_directly} so far), {len(self._kept)} "
                    f"waiting in memory (at most {KEPT_MAX}); {self.outbox.path}"
                )
                return
            self._kept.popleft()
            self.stored += 1

    def publish_kept_directly(self) -> None:
        """While the outbox cannot be written: the kept events, oldest first, straight to the
        broker as long as it is connected (QoS 1 from memory, so at-least-once only while this
        process lives: a read-only or failing SD card may never take them). The rest keep waiting;
        the outbox's own backlog drains as before."""
        if self.publisher is None:
            return
        while self._kept and self.publisher.state().connected:
            event = self._kept.popleft()
            try:
                msg = encode(event, self.identity, self.outbox.reserve_seq())
            except PayloadTooLargeError as exc:
                log.error("event not published: %s", exc)
                self._count_drop()
                continue
            self.publisher.publish_now(msg)
            self.published_directly += 1

    @property
    def kept(self) -> int:
        """Events waiting in memory for the outbox to become writable."""
        return len(self._kept)

    def _encode(self, event: Event, seq: int) -> WireMessage:
        return encode(event, self.identity, seq)

    def _log_kept(self, message: str) -> None:
        now = time.monotonic()
        if now - self._kept_logged >= LOG_EVERY_S:
            self._kept_logged = now
            log.error("%s", message)
