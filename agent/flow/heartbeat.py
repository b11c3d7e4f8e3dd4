"""Liveness of one pipeline stage: its state, since when, when it last delivered data, its rate.

Each source and worker owns one :class:`Heartbeat` and calls :meth:`beat` whenever it delivers valid
data; times are agent times (:func:`agent.flow.clock.agent_now`: monotonic, so a wall-clock step
never makes a stage look stale or fresh). The main loop reads them (thread-safe snapshots) to build ``health`` events and ``status``. A
stage without data is a degraded state, not a hung one: the watchdog looks at thread loops
(:mod:`agent.flow.liveness`), not at heartbeats. The rate (``fps``) is reported only while the stage
is ``ok``, over beats since data last resumed, so an outage never shows a stale rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from agent.flow.clock import agent_now
from agent.flow.events import SourceHealth, SourceStateName


class Heartbeat:
    """Thread-safe liveness record of one stage."""

    def __init__(self, name: str, stale_after_s: float) -> None:
        self.name = name
        self.stale_after_s = stale_after_s
        self._lock = threading.Lock()
        self._state: SourceStateName = "starting"
        self._since = agent_now()
        self._last_data: float | None = None
        self._errors = 0
        self._beats: deque[float] = deque(maxlen=64)
        self.last_error: str | None = None

    def set_state(self, state: SourceStateName, error: str | None = None) -> None:
        """Record a state change (``since`` only moves when the state really changes)."""
        with self._lock:
            if state != self._state:
                self._state = state
                self._since = agent_now()
                if state != "ok":
                    self._beats.clear()  # a rate across an outage would be wrong
            if error is not None:
                self.last_error = error

    def beat(self, now: float | None = None) -> None:
        """The stage delivered valid data just now."""
        t = agent_now() if now is None else now
        mono = time.monotonic()
        with self._lock:
            if self._beats and mono - self._beats[-1] > self.stale_after_s:
                self._beats.clear()  # data resumed after a gap: the rate restarts
            self._last_data = t
            self._beats.append(mono)
            if self._state != "ok":
                self._state = "ok"
                self._since = t

    def error(self, message: str | None = None) -> None:
        """Count one rejected input (bad frame, decode error)."""
        with self._lock:
            self._errors += 1
            if message is not None:
                self.last_error = message

    def fresh(self, now: float | None = None) -> bool:
        """True when the stage delivered data within ``stale_after_s``."""
        t = agent_now() if now is None else now
        with self._lock:
            return self._last_data is not None and t - self._last_data <= self.stale_after_s

    def snapshot(self, now: float | None = None) -> SourceHealth:
        """A frozen view for health events; marks the stage stale when data stopped."""
        t = agent_now() if now is None else now
        with self._lock:
            state = self._state
            age = None if self._last_data is None else max(0.0, t - self._last_data)
            if state == "ok" and age is not None and age > self.stale_after_s:
                state = "stale"
            fps = None
            if state == "ok" and len(self._beats) >= 2:
                span = self._beats[-1] - self._beats[0]
                if span > 0:
                    fps = (len(self._beats) - 1) / span
            return SourceHealth(
                state=state,
                since=self._since,
                age_s=None if age is None else round(age, 1),
                fps=None if fps is None else round(fps, 1),
                errors=self._errors,
            )
