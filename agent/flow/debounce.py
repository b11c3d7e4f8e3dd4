"""Debouncing: a value is only reported once a new value has held steady for a while.

:class:`Debouncer` turns a noisy per-frame value (a mask state, a people count) into a published
value that changes only after the candidate value held for ``hold_s`` seconds. :class:`Latch` is the
two-sided version used for alerts: raise after the condition held ``raise_after_s``, clear only after
it stayed false ``clear_after_s`` (hysteresis), never an event per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")


class Debouncer(Generic[T]):
    """Publishes a value once it held for ``hold_s`` seconds."""

    def __init__(self, initial: T, hold_s: float) -> None:
        self.value = initial
        """The published (debounced) value."""
        self.hold_s = hold_s
        self._candidate = initial
        self._since = 0.0

    def update(self, value: T, at: float) -> bool:
        """Observe ``value`` at ``at``; True when the published value changed now."""
        if value != self._candidate:
            self._candidate = value
            self._since = at
        if self._candidate != self.value and at - self._since >= self.hold_s:
            self.value = self._candidate
            return True
        return False


@dataclass(frozen=True, slots=True)
class LatchChange:
    """A latch transition and when the condition that caused it began."""

    state: Literal["raised", "cleared"]
    since: float


class Latch:
    """A raise/clear latch with separate raise and clear delays (hysteresis in time)."""

    def __init__(self, raise_after_s: float, clear_after_s: float) -> None:
        self.raise_after_s = raise_after_s
        self.clear_after_s = clear_after_s
        self.raised = False
        self._on_since: float | None = None
        self._off_since: float | None = None

    def update(self, condition: bool, at: float) -> LatchChange | None:
        """Observe the condition at ``at``; return the transition it causes, if any."""
        if condition:
            self._off_since = None
            if self._on_since is None:
                self._on_since = at
            if not self.raised and at - self._on_since >= self.raise_after_s:
                self.raised = True
                return LatchChange("raised", self._on_since)
            return None
        self._on_since = None
        if self._off_since is None:
            self._off_since = at
        if self.raised and at - self._off_since >= self.clear_after_s:
            self.raised = False
            return LatchChange("cleared", self._off_since)
        return None
