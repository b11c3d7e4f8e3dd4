"""The periodic window: "every ``period_s``, report what was seen since the last report".

Analysers that publish periodic figures (mask compliance, occupancy maximum) own one
:class:`PeriodicWindow`. It starts at the first observation or tick; :meth:`PeriodicWindow.due`,
called on every tick, says when a window closed (and opens the next one at that instant)::

    self._window = PeriodicWindow(vision.compliance_window_s)
    ...  # in feed():  self._window.touch(observation.at)
    ...  # in tick():
    if self._window.due(now):
        events.append(...figures of the closed window...)
        ...reset the figures...
"""

from __future__ import annotations


class PeriodicWindow:
    """A run of back-to-back windows of ``period_s`` seconds, driven by the caller's clock."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.start: float | None = None
        """When the current window began; None before the first observation or tick."""

    def touch(self, at: float) -> float:
        """Note activity at ``at`` (opens the first window); the current window's start."""
        if self.start is None:
            self.start = at
        return self.start

    def due(self, now: float) -> bool:
        """True when the current window has closed at ``now``; the next one then starts at ``now``."""
        if self.start is None:
            self.start = now
            return False
        if now - self.start >= self.period_s:
            self.start = now
            return True
        return False
