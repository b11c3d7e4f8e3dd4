"""Loop liveness: has each internal thread's loop turned recently? (what the systemd watchdog means)

Every long-running thread (a source's reader, the vision worker, the publisher's drain, the status
socket's accept loop) owns a :class:`LoopStamp` and calls :meth:`LoopStamp.turn` once per turn of its
loop, including while it waits, reconnects or idles: every blocking call in such a loop is bounded
(read timeouts, sliced waits), so a loop that has not turned for ``bound_s`` is stuck (a hung
``read``, a deadlocked inference) and the main loop stops petting the watchdog. A missing device is
not stuck: its thread keeps turning while it retries. Liveness is about threads, not data; whether
a device delivers is the :class:`~agent.flow.heartbeat.Heartbeat`'s business.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

STUCK_AFTER_S = 15.0
"""A loop that has not turned for this long is stuck. Longer than any bounded wait in a loop (a
network camera's 5 s open/read timeouts, OpenCV's 10 s V4L2 select timeout, a slow inference)."""


class LoopStamp:
    """When one thread's loop last turned (monotonic clock; written by that thread only)."""

    def __init__(self, name: str, bound_s: float = STUCK_AFTER_S) -> None:
        self.name = name
        """The thread's name, for logs and ``status``."""
        self.bound_s = bound_s
        self._at = time.monotonic()

    def turn(self) -> None:
        """The loop turned just now (a float store: atomic, no lock needed)."""
        self._at = time.monotonic()

    def age(self, now: float | None = None) -> float:
        """Seconds since the loop last turned (``now`` on the monotonic clock)."""
        return max(0.0, (time.monotonic() if now is None else now) - self._at)

    def stuck(self, now: float | None = None) -> bool:
        """True when the loop has not turned within ``bound_s``."""
        return self.age(now) > self.bound_s

    @contextmanager
    def allowing(self, bound_s: float) -> Iterator[None]:
        """A longer bound for the block: one call bounded only by someone else's timeouts (the
        system resolver's in a connection attempt). Turns on entry and on exit."""
        self.turn()
        usual, self.bound_s = self.bound_s, bound_s
        try:
            yield
        finally:
            self.turn()  # before the usual bound is back, so the call's length never counts
            self.bound_s = usual


def stuck_loops(stamps: Iterable[LoopStamp], now: float | None = None) -> list[LoopStamp]:
    """The stamps whose loops are stuck (``now`` on the monotonic clock)."""
    t = time.monotonic() if now is None else now
    return [s for s in stamps if s.stuck(t)]
