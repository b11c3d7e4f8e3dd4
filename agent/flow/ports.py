"""The seams of the flow, as small typed protocols.

``Source``: a thread that turns a device (serial port, camera) into typed observations and hands each
one to ``emit``; it never blocks on the consumer, and shows its threads' loop stamps (liveness, for
the watchdog). Threaded sources derive from :class:`agent.flow.threaded.ThreadedSource`. ``Analyser``: turns observations into events; it is
driven only by the engine's thread (:mod:`agent.flow.engine`), so it needs no locks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from agent.flow.events import Event
from agent.flow.heartbeat import Heartbeat
from agent.flow.liveness import LoopStamp

Emit = Callable[[object], None]
"""Hand one observation to the engine; never blocks (drops and counts when the queue is full)."""


class Source(Protocol):
    """A producer of observations running in its own thread(s)."""

    name: str
    heartbeat: Heartbeat

    def start(self, emit: Emit) -> None:
        """Start producing; returns at once."""

    def stop(self) -> None:
        """Stop producing and release the device; returns once threads have ended (bounded)."""

    def loops(self) -> Sequence[LoopStamp]:
        """The loop stamps of its running threads (empty when it runs none)."""


class Analyser(Protocol):
    """Turns observations into events. Called from the engine's thread only.

    An analyser with a true class attribute ``hears_facts`` is also fed the events the other
    analysers produce (:meth:`agent.flow.engine.Engine.feed`), as observations."""

    name: str

    def feed(self, observation: object) -> Sequence[Event]:
        """Consume one observation (ignore types it does not handle); return new events."""

    def tick(self, now: float) -> Sequence[Event]:
        """Called about once a second; return time-driven events (timeouts, periodic figures)."""
