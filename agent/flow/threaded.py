"""The threaded source: one loop in its own thread, started and stopped the same way everywhere.

:class:`ThreadedSource` is the base of every :class:`~agent.flow.ports.Source` that reads a device in
a thread (the serial thermometer, the frame grabber, the vision worker). It owns the thread, the
stop flag, a bounded join (a thread that does not end within ``JOIN_TIMEOUT_S`` is logged and left
behind: it is a daemon), the loop's :class:`~agent.flow.liveness.LoopStamp`, and :meth:`wait`, the
only way its loop should sleep (it keeps the stamp turning while it waits). :class:`Backoff` is the
one reconnect backoff of a box's own devices; :class:`JitteredBackoff` its variant for a server that
a whole fleet of boxes reconnects to at once. The device IO itself stays in the subclasses: they implement :meth:`run`,
turn ``self.loop`` once per iteration and bound every blocking call.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from agent.flow.heartbeat import Heartbeat
from agent.flow.liveness import LoopStamp
from agent.flow.ports import Emit

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 6.0
"""How long :meth:`ThreadedSource.stop` waits for the thread (longer than a stream's 5 s timeout)."""
WAIT_SLICE_S = 0.5
"""Longest single sleep inside :meth:`ThreadedSource.wait` between two turns of the loop stamp."""


class Backoff:
    """Exponential backoff delays: ``min_s``, doubling, capped at ``max_s``; reset on success."""

    def __init__(self, min_s: float, max_s: float) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self._next = min_s

    def next_delay(self) -> float:
        """The delay to wait now; the following one doubles."""
        delay = self._next
        self._next = min(self.max_s, self._next * 2)
        return delay

    def reset(self) -> None:
        """Back to ``min_s`` after a success."""
        self._next = self.min_s


class JitteredBackoff:
    """Decorrelated jitter: each delay is uniform between ``min_s`` and three times the previous
    one, capped at ``max_s``; reset on success.

    Never shorter than ``min_s`` (no tight loop against a dead server), never longer than ``max_s``
    (so a returning server is retried within ``max_s``), and each box's schedule drifts apart
    from the others': boxes that lost the same server at the same instant do not come back in the
    same second (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).
    """

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s = min_s
        self.max_s = max(min_s, max_s)
        self._rng = rng or random.Random()
        self._last = min_s

    def next_delay(self) -> float:
        """The delay to wait now."""
        delay = min(self.max_s, self._rng.uniform(self.min_s, 3 * self._last))
        self._last = delay
        return delay

    def reset(self) -> None:
        """Back to the shortest delays after a success."""
        self._last = self.min_s


def _nowhere(observation: object) -> None:
    """The ``emit`` of a source started without one (it hands its data elsewhere)."""


class ThreadedSource:
    """Base of a source whose :meth:`run` loop runs in one daemon thread."""

    def __init__(self, name: str, heartbeat: Heartbeat, thread_name: str) -> None:
        self.name = name
        self.heartbeat = heartbeat
        self.loop = LoopStamp(thread_name)
        """Turned by :meth:`run` once per iteration; the watchdog's view of this thread."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.clock: Callable[[], float] = time.monotonic
        """Times an outage (:meth:`went_down` to :meth:`came_back`): the monotonic clock, so a
        step of the wall clock meanwhile does not change "back after N s" (a test's clock)."""
        self._down_since: float | None = None

    # -- the Source protocol ---------------------------------------------------------------------
    def start(self, emit: Emit | None = None) -> None:
        """Start the thread; returns at once (a second call while running does nothing)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self.loop.turn()
        self._thread = threading.Thread(
            target=self._main, args=(emit or _nowhere,), name=self.loop.name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait for it, at most ``JOIN_TIMEOUT_S``."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(JOIN_TIMEOUT_S)
        if thread.is_alive():
            log.warning(
                "%s: thread %s did not stop within %.0f s; leaving it behind",
                self.name,
                thread.name,
                JOIN_TIMEOUT_S,
            )

    def loops(self) -> list[LoopStamp]:
        """The loop stamps to watch: this thread's while it is started, else none."""
        return [self.loop] if self._thread is not None else []

    # -- for subclasses --------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: the loop should return."""
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, turning the loop stamp as it goes; True when asked to stop."""
        end = time.monotonic() + seconds
        while True:
            self.loop.turn()
            left = end - time.monotonic()
            if left <= 0:
                return self._stop.is_set()
            if self._stop.wait(min(left, WAIT_SLICE_S)):
                return True

    def went_down(self) -> None:
        """The device is missing or lost (from the first such moment until :meth:`came_back`)."""
        if self._down_since is None:
            self._down_since = self.clock()

    def came_back(self, what: str) -> None:
        """The device delivers again after an outage: log one line, ``what`` plus the outage."""
        if self._down_since is not None:
            log.info("%s after %.0f s", what, max(0.0, self.clock() - self._down_since))
            self._down_since = None

    def run(self, emit: Emit) -> None:
        """The loop: until :attr:`stopping`, turn ``self.loop`` and do bounded work."""
        raise NotImplementedError

    def _main(self, emit: Emit) -> None:
        try:
            self.run(emit)
        except Exception:  # a dead thread stops the loop stamp: the watchdog then notices
            log.exception("%s: thread %s died", self.name, self.loop.name)
            self.heartbeat.set_state("error", f"thread {self.loop.name} died")
