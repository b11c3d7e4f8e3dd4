"""The watchdog decision: pet systemd only while every watched thread's loop turns.

The watchdog means "this process is alive and not stuck" (:mod:`agent.flow.liveness`). A missing
camera, thermometer or broker is a degraded state, never a reason to stop the pets: their threads
keep turning their loops while they wait or reconnect. A hung ``read`` or a deadlocked inference
is: its loop stamp ages past ``STUCK_AFTER_S``, the pets stop, and systemd restarts the service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from agent.flow.liveness import LoopStamp, stuck_loops
from agent.service.notify import Notifier

log = logging.getLogger("agent.service.pipeline")  # the main loop's lines keep one logger name

Loops = Callable[[], Sequence[LoopStamp]]
"""Something whose thread loops the watchdog watches: returns their stamps (empty when stopped)."""


class Watchdog:
    """The loops of the service's threads, and whether any of them is stuck."""

    def __init__(self, loops: Iterable[Loops] = ()) -> None:
        self._loops: list[Loops] = list(loops)
        self.stuck: list[str] = []
        """The names of the threads found stuck by the last check (sorted)."""

    def watch(self, loops: Loops) -> None:
        """Also watch these threads' loops (the status server's)."""
        self._loops.append(loops)

    def pet(self, notifier: Notifier) -> None:
        """Send ``WATCHDOG=1`` unless a watched thread is stuck."""
        if not self.stuck_threads():
            notifier.watchdog()

    def stuck_threads(self) -> list[str]:
        """Names of the threads whose loops stopped turning (empty: pet the watchdog).

        Logs when the set changes: a stuck thread once (systemd will restart the service within
        ``WatchdogSec``), and its recovery. Degraded devices do not count: their threads turn.
        """
        stuck = stuck_loops(stamp for loops in self._loops for stamp in loops())
        names = sorted(s.name for s in stuck)
        if names != self.stuck:
            for stamp in stuck:
                if stamp.name not in self.stuck:
                    log.error(
                        "thread %s has not turned its loop for %.0f s: stuck; no more watchdog "
                        "pets, systemd will restart the agent",
                        stamp.name,
                        stamp.age(),
                    )
            for name in self.stuck:
                if name not in names:
                    log.warning("thread %s turns its loop again; watchdog pets resume", name)
            self.stuck = names
        return names
