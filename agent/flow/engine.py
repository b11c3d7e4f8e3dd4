"""The engine of the one flow: observations in, events out, driven by a single thread.

    sources (threads) --offer--> bounded queue --> step(): analysers.feed --> sink(event)
                                                    tick(now): analysers.tick --> sink(event)
                                 every event --> analysers with ``hears_facts`` --> sink(event)

Sources never block: when the queue is full an observation is dropped and counted. Analysers run
only on the thread that calls :meth:`Engine.step` and :meth:`Engine.tick`, so they need no locks.
A failing analyser is logged and skipped for that observation; it never stops the flow. The engine
does no IO: where events go is the caller's ``sink`` (the service's outbox, or a list in
``calibrate``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from agent.flow.events import Event
from agent.flow.ports import Analyser

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
"""Observations waiting for the analysers; beyond this they are dropped and counted."""

Sink = Callable[[Event], None]
"""Where the engine hands each event, on the engine's thread."""


class Engine:
    """The bounded observation queue and the analysers it feeds."""

    def __init__(
        self, analysers: Sequence[Analyser], sink: Sink, queue_size: int = QUEUE_SIZE
    ) -> None:
        self.analysers = list(analysers)
        self._hearing = [a for a in self.analysers if getattr(a, "hears_facts", False)]
        """Analysers also fed the events the others produce."""
        self._sink = sink
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._dropped = 0
        self._dropped_lock = threading.Lock()

    def offer(self, observation: object) -> None:
        """The sources' ``emit``: enqueue without blocking; drop and count when full."""
        try:
            self._queue.put_nowait(observation)
        except queue.Full:
            self.count_drop()

    def count_drop(self) -> None:
        """Count one observation or event that was lost (full queue, unstorable event)."""
        with self._dropped_lock:
            self._dropped += 1

    @property
    def dropped(self) -> int:
        """Observations and events lost so far."""
        with self._dropped_lock:
            return self._dropped

    def step(self, timeout_s: float) -> bool:
        """Feed the next observation, waiting up to ``timeout_s``; False when none came."""
        try:
            observation = self._queue.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return False
        self.feed(observation)
        return True

    def drain(self) -> None:
        """Feed every observation still queued (at shutdown), without waiting."""
        while True:
            try:
                observation = self._queue.get_nowait()
            except queue.Empty:
                return
            self.feed(observation)

    def feed(self, observation: object) -> None:
        """Hand one observation to every analyser; their events go to the sink."""
        for analyser in self.analysers:
            try:
                events = analyser.feed(observation)
            except Exception:
                log.exception("analyser %s failed on %s", analyser.name, type(observation).__name__)
                continue
            self._out(events, analyser)

    def tick(self, now: float) -> None:
        """Time-driven work of every analyser (timeouts, periodic figures)."""
        for analyser in self.analysers:
            try:
                events = analyser.tick(now)
            except Exception:
                log.exception("analyser %s failed on tick", analyser.name)
                continue
            self._out(events, analyser)

    def _out(self, events: Sequence[Event], origin: Analyser) -> None:
        """Each event to the sink, then to the analysers that hear facts (``hears_facts``: e.g.
        screening coverage hears the temperature results); what they return goes to the sink
        only (one level, so no loop)."""
        for event in events:
            self._sink(event)
            for listener in self._hearing:
                if listener is origin:
                    continue
                try:
                    more = listener.feed(event)
                except Exception:
                    log.exception("analyser %s failed on %s", listener.name, type(event).__name__)
                    continue
                for e in more:
                    self._sink(e)
